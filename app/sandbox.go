package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// SandboxCloudEnv is the cloud environment of the sandbox's sample fileIDs.
const SandboxCloudEnv = "sandbox"

// SandboxFileID returns the sandbox fileID of a sample card, e.g. "cards/front.png".
func SandboxFileID(path string) string {
	return "cloud://" + SandboxCloudEnv + ".7361-sandbox-1250000000/" + path
}

// Sandbox is the WeChat emulator running in-process on a loopback port, with the sample cards
// as its cloud storage and a temporary folder for the file token store.
type Sandbox struct {
	Emulator *emulator.Emulator
	URL      string // http://127.0.0.1:PORT
	Host     string // 127.0.0.1:PORT
	dir      string
	srv      *http.Server
}

// StartSandbox starts the emulator on 127.0.0.1 with a random port.
func StartSandbox(logger *slog.Logger) (*Sandbox, error) {
	dir, err := os.MkdirTemp("", "idcard-ocr-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox temp dir: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox listener: %w", err)
	}
	emu := emulator.New(emulator.Options{
		Files:  emulator.SampleFiles(),
		Logger: logger.With("component", "emulator"),
	})
	srv := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("sandbox emulator stopped", "error", err.Error())
		}
	}()
	host := ln.Addr().String()
	return &Sandbox{Emulator: emu, URL: "http://" + host, Host: host, dir: dir, srv: srv}, nil
}

// Getenv overlays the sandbox's settings on the real environment: the emulator as WeChat, its
// credentials, a file token store in the temp folder, and the emulator trusted as an image host.
// Anything else (limits, log level) still comes from the real environment.
func (s *Sandbox) Getenv(getenv func(string) string) func(string) string {
	overlay := map[string]string{
		"WX_APPID":     emulator.DefaultAppID,
		"WX_APPSECRET": emulator.DefaultSecret,
		"WX_API_BASE":  s.URL,
		// Empty: the environment is taken from each fileID, so any env's sample paths work.
		"WX_CLOUD_ENV":            "",
		"TOKEN_SOURCE":            "stable",
		"TOKEN_STORE":             "file://" + filepath.Join(s.dir, "token.json"),
		"IMAGE_URL_TRUSTED_HOSTS": s.Host,
		"IMAGE_URL_ALLOW_HOSTS":   "",
		// Tencent Cloud OCR (OCR_PROVIDER=tencent) is the same emulator, with its keys.
		"OCR_TENCENT_ENDPOINT":      s.URL,
		"TENCENTCLOUD_SECRETID":     emulator.DefaultTencentSecretID,
		"TENCENTCLOUD_SECRETKEY":    emulator.DefaultTencentSecretKey,
		"TENCENTCLOUD_SESSIONTOKEN": "",
	}
	return func(k string) string {
		if v, ok := overlay[k]; ok {
			return v
		}
		return getenv(k)
	}
}

// Close stops the emulator and removes the temp folder.
func (s *Sandbox) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	os.RemoveAll(s.dir)
}
