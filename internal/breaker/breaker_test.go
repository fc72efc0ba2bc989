package breaker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
)

var errDown = errors.New("connection refused")

func TestOpensAfterThresholdAndProbesOnce(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	b := New(Options{Threshold: 2, Cooldown: time.Second, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), DownMessage: "x down", UpMessage: "x up"})
	b.Failure(errDown)
	if !b.Allow() || b.IsOpen() {
		t.Fatal("opened before the threshold")
	}
	b.Failure(errDown)
	if b.Allow() || !b.IsOpen() {
		t.Fatal("not open at the threshold")
	}
	clk.Add(time.Second - 1)
	if b.Allow() {
		t.Fatal("probe before the cooldown")
	}
	clk.Add(1)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.Allow() {
		t.Fatal("a second caller got through while the probe runs")
	}
	b.Failure(errDown)
	if b.Allow() {
		t.Fatal("failed probe did not reopen")
	}
	clk.Add(time.Second)
	if !b.Allow() {
		t.Fatal("no second probe")
	}
	b.Success()
	for range 2 {
		if !b.Allow() || b.IsOpen() {
			t.Fatal("successful probe did not close")
		}
	}
	out := logs.String()
	if strings.Count(out, "x down") != 1 || strings.Count(out, "x up") != 1 {
		t.Fatalf("want one down and one up line, got:\n%s", out)
	}
}

func TestDefaults(t *testing.T) {
	b := New(Options{})
	b.Failure(nil) // threshold 1
	if b.Allow() {
		t.Fatal("default threshold is not 1")
	}
}

func TestCancelReleasesTheProbe(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := New(Options{Cooldown: time.Second, Now: clk.Now})
	b.Failure(errDown)
	clk.Add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe")
	}
	b.Cancel()
	if !b.Allow() {
		t.Fatal("an abandoned probe kept the slot")
	}
	if !b.IsOpen() {
		t.Fatal("Cancel closed the breaker")
	}
}
