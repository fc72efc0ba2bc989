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
	srv := newServer(in.Handler, in.Config.RequestTimeout)
	ln = newLimitListener(ln, in.Config.MaxConnections)
	if in.Sandbox != nil {
		printSandboxBanner(env, ln.Addr().String(), in.Sandbox)
	} else {
		in.Logger.Info("serving", "addr", ln.Addr().String(), "version", Version)
	}
	return serveUntilSignal(srv, ln, env)
}

// Slack on top of the request deadline. The handler answers TIMEOUT at the deadline; the
// connection's read deadline comes a little later, because net/http cancels the request's
// context when a read fails, and a TIMEOUT must not turn into CLIENT_CLOSED. The write
// deadline leaves time to send the answer.
const (
	readSlack  = time.Second
	writeSlack = 5 * time.Second
)

// newServer bounds every phase of a request, so that a client sending slowly (headers, body)
// or reading slowly holds its connection for a bounded time: headers within
// ReadHeaderTimeout, the body by the request deadline (set per request below, from when the
// handler starts), the answer by WriteTimeout. Idle keep-alive connections go after
// IdleTimeout.
func newServer(h http.Handler, requestTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Per request, not Server.ReadTimeout: that one counts from the first header
			// byte, so slow headers would eat the body's time.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(requestTimeout + readSlack))
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      requestTimeout + readSlack + writeSlack,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
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
