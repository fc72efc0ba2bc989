package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// cmdServe runs the handler as an HTTP server: an SCF web function (scf_bootstrap starts it on
// 0.0.0.0:9000), a Cloud Hosting container, or locally. --sandbox brings the emulator along.
func cmdServe(args []string, env Env) int {
	fs := newFlagSet("serve", "serve [--addr ADDR] [--sandbox] [--print-config]", env.Stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "listen address (web functions: 0.0.0.0:9000)")
	sandboxMode := fs.Bool("sandbox", false, "run against the built-in WeChat emulator with sample cards; auth off")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	in, code := openInstance(context.Background(), "serve", env, *sandboxMode)
	if in == nil {
		return code
	}
	defer in.Close()
	if *printConfig {
		if err := in.Config.Print(env.Stdout); err != nil {
			fmt.Fprintf(env.Stderr, "serve: %v\n", err)
			return 1
		}
		return 0
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "serve: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           in.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	if in.Sandbox != nil {
		printSandboxBanner(env, ln.Addr().String(), in.Sandbox)
	} else {
		in.Logger.Info("serving", "addr", ln.Addr().String(), "version", Version)
	}
	return serveUntilSignal(srv, ln, env)
}

func printSandboxBanner(env Env, addr string, sb *Sandbox) {
	fmt.Fprintf(env.Stdout, `ID-card OCR sandbox on http://%[1]s
  WeChat is emulated in-process at %[2]s (stats: %[2]s/_emulator/stats)
  AUTH IS OFF: the sandbox accepts requests without an API key. Never expose it.

Recognise a sample card (front; try cards/back.png, cards/back-longterm.png, cards/back-expired.png,
cards/front-bad-checksum.png, cards/blank.png):

  curl -s http://%[1]s/v1/idcard -H 'Content-Type: application/json' \
    -d '{"fileId":"%[3]s"}'

Both sides at once:

  curl -s http://%[1]s/v1/idcard -H 'Content-Type: application/json' \
    -d '{"front":{"fileId":"%[3]s"},"back":{"fileId":"%[4]s"}}'

`, addr, sb.URL, SandboxFileID("cards/front.png"), SandboxFileID("cards/back.png"))
}
