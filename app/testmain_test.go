package app

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/config"
	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// startEmulator serves an emulator holding the sample files (emulator.SampleFiles) on loopback
// until the test ends, and returns it with its base URL.
func startEmulator(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	emu := emulator.New(emulator.Options{Files: emulator.SampleFiles()})
	up := httptest.NewServer(emu.Handler())
	t.Cleanup(up.Close)
	return emu, up.URL
}

// newTestMain builds the function as main does, from env read as the environment (absent
// keys are empty), and closes it when the test ends.
func newTestMain(t *testing.T, env map[string]string) *Main {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMain(context.Background(), cfg, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
