package ocr

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// Issue 7 §7, the sequence reported: 40001, recovered; later 40001 twice in a row. The second
// rejection used to take ~3 s and then every request failed locally for ~30 s with
// UPSTREAM_AUTH, retryable false, no upstream code and no Retry-After. Over real HTTP to the
// emulator, with the real token manager and client.
func TestSecondTokenRejectionIsRetryableNotALockout(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := token.NewMemoryStore()
	emu, svc := lockoutRig(t, clk, token.WithStore(store))
	img := anImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recognize := func() error {
		_, err := svc.Recognize(ctx, Request{Image: Image{Bytes: img}})
		return err
	}
	ocrCalls := func() int { return emu.Stats().Calls[emulator.PathOCRIDCard] }
	reject := func(n int) {
		if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 40001, Count: n}); err != nil {
			t.Fatal(err)
		}
	}

	if err := recognize(); err != nil {
		t.Fatalf("first call: %v", err)
	}
	// 40001, recovered: normal mode returns the rejected token, so the manager forces once.
	reject(1)
	if err := recognize(); err != nil {
		t.Fatalf("after one 40001: %v", err)
	}

	// Later (within the 30 s force interval), 40001 twice in a row.
	clk.Add(10 * time.Second)
	reject(2)
	gets := store.Ops()["get"]
	err := recognize()
	wantRetryable := func(step string, err error, wait time.Duration) {
		t.Helper()
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			t.Fatalf("%s: %v, want an *apperr.Error", step, err)
		}
		if ae.Code != apperr.UpstreamUnavailable || !ae.Retryable {
			t.Errorf("%s: %s retryable=%v, want UPSTREAM_UNAVAILABLE retryable", step, ae.Code, ae.Retryable)
		}
		if ae.RetryAfter != wait {
			t.Errorf("%s: Retry-After %v, want %v (the rest of the force interval)", step, ae.RetryAfter, wait)
		}
		if ae.Upstream == nil || ae.Upstream.Code != "40001" {
			t.Errorf("%s: upstream %+v, want WeChat's 40001", step, ae.Upstream)
		}
	}
	wantRetryable("second rejection", err, 20*time.Second)
	if n := store.Ops()["get"] - gets; n > 4 {
		t.Errorf("second rejection: %d store reads; the manager waited instead of answering", n)
	}

	// The next request: a normal fetch still returns the rejected token and no force is
	// allowed, so it is told to retry, with WeChat's code, without calling the OCR API.
	clk.Add(5 * time.Second)
	before := ocrCalls()
	wantRetryable("during the interval", recognize(), 15*time.Second)
	if ocrCalls() != before {
		t.Errorf("the OCR API was called with a token known to be rejected")
	}

	// The interval is over: the next request forces a new token, whose call meets the
	// second 40001. That fresh token was just forced, so the answer is again "retry", now
	// after a whole interval, and again fast.
	clk.Add(15 * time.Second)
	wantRetryable("second 40001 in a row", recognize(), token.ForceMinInterval)
	if n := len(emu.PendingFaults()); n != 0 {
		t.Errorf("%d injected rejections never reached the OCR API", n)
	}
	clk.Add(token.ForceMinInterval)
	if err := recognize(); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
}

// While a force is not allowed, a normal fetch that already returns a new token (WeChat
// rotated it, or another party forced) is used at once.
func TestRejectedTokenRotatedUpstreamServesAtOnce(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	emu, svc := lockoutRig(t, clk)
	img := anImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recognize := func() error {
		_, err := svc.Recognize(ctx, Request{Image: Image{Bytes: img}})
		return err
	}
	for i, n := range []int{0, 1, 1} { // a call, one 40001 (forced), one more 10 s later
		if n > 0 {
			if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 40001, Count: n}); err != nil {
				t.Fatal(err)
			}
		}
		err := recognize()
		var ae *apperr.Error
		switch {
		case i < 2 && err != nil:
			t.Fatalf("call %d: %v", i, err)
		case i == 2 && (!errors.As(err, &ae) || !ae.Retryable || ae.RetryAfter != 20*time.Second):
			t.Fatalf("call %d, 10 s after a force: %v, want retryable in 20 s", i, err)
		}
		clk.Add(10 * time.Second)
	}
	emu.Revoke() // WeChat's stable token is replaced by someone else
	if err := recognize(); err != nil {
		t.Fatalf("after WeChat rotated the token, still inside the force interval: %v", err)
	}
	if got := emu.Stats().TokensIssued; got != 3 {
		t.Errorf("%d tokens issued, want 3 (first, one force, the rotation)", got)
	}
}

// lockoutRig is the emulator on loopback and, over real HTTP to it, the real stable-token
// manager, WeChat client and recognition service, all on clk. extra goes to the manager.
func lockoutRig(t *testing.T, clk *fakeclock.Clock, extra ...token.ManagerOption) (*emulator.Emulator, *Service) {
	t.Helper()
	emu := emulator.New(emulator.Options{Now: clk.Now})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.DiscardHandler)
	opts := []wechat.Option{wechat.WithBaseURL(srv.URL), wechat.WithLogger(quiet), wechat.WithBackoff(time.Millisecond, 2*time.Millisecond)}
	mopts := append([]token.ManagerOption{token.WithClock(clk.Now), token.WithLogger(quiet),
		// The old code polled the store for this long after a refused force; nothing may wait
		// on it now. (The test's own deadline stops a regression from hanging.)
		token.WithWaitBound(time.Hour)}, extra...)
	mgr, err := token.NewManager(emulator.DefaultAppID,
		wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, opts...), mopts...)
	if err != nil {
		t.Fatal(err)
	}
	wx, err := wechat.New(mgr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{WeChat: wx, Logger: quiet, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return emu, svc
}
