package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// cmdEmulator runs the WeChat API emulator as a standalone server.
func cmdEmulator(args []string, env Env) int {
	fs := newFlagSet("emulator", "emulator [--addr ADDR] [--appid ID] [--secret S] [--files DIR] [--token-ttl D]", env.Stderr)
	addr := fs.String("addr", "127.0.0.1:9100", "listen address")
	appID := fs.String("appid", emulator.DefaultAppID, "the only appid the token endpoints accept")
	secret := fs.String("secret", emulator.DefaultSecret, "the only secret the token endpoints accept")
	files := fs.String("files", "", "folder served as cloud storage (cloud://<env>.<bucket>/<path> is DIR/<path>); default: the built-in sample cards")
	ttl := fs.Duration("token-ttl", 2*time.Hour, "lifetime of issued access tokens")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	logger := newLogger(env.Stderr, env.Getenv("LOG_LEVEL"))
	opts := emulator.Options{AppID: *appID, Secret: *secret, TokenTTL: *ttl, Files: emulator.SampleFiles(), Logger: logger}
	if *files != "" {
		if st, err := os.Stat(*files); err != nil || !st.IsDir() {
			fmt.Fprintf(env.Stderr, "emulator: --files %q is not a folder\n", *files)
			return 2
		}
		opts.Files = os.DirFS(*files)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "emulator: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: emulator.New(opts).Handler(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(env.Stdout, "WeChat API emulator on http://%s (appid %s); stats: http://%s/_emulator/stats\n", ln.Addr(), *appID, ln.Addr())
	return serveUntilSignal(srv, ln, env)
}

// serveUntilSignal serves until SIGINT/SIGTERM, then drains for up to 5 s.
func serveUntilSignal(srv *http.Server, ln net.Listener, env Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(env.Stderr, "server: %v\n", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(env.Stderr, "server shutdown: %v\n", err)
		return 1
	}
	return 0
}
