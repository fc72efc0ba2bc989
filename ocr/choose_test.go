package ocr

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// memQuotas is Quotas in memory, on the test's clock.
type memQuotas struct {
	mu      sync.Mutex
	now     func() time.Time
	until   map[string]time.Time
	budget  map[string]int
	spent   map[string]int
	readErr error
}

func newMemQuotas(now func() time.Time) *memQuotas {
	return &memQuotas{now: now, until: map[string]time.Time{}, budget: map[string]int{}, spent: map[string]int{}}
}

func (q *memQuotas) Blocked(_ context.Context, p string) (time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.readErr != nil {
		return time.Time{}, q.readErr
	}
	if u := q.until[p]; u.After(q.now()) {
		return u, nil
	}
	return time.Time{}, nil
}

func (q *memQuotas) Exhausted(_ context.Context, p string, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.until[p] = until
	return nil
}

func (q *memQuotas) Spend(_ context.Context, p string) (bool, time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, ok := q.budget[p]
	if !ok {
		return true, time.Time{}, nil
	}
	q.spent[p]++
	if q.spent[p] <= b {
		return true, time.Time{}, nil
	}
	end := q.now().Add(time.Hour)
	q.until[p] = end
	return false, end, nil
}

// signaller is a fake provider that reports fraud signals.
type signaller struct{ fakeProvider }

func (*signaller) FraudSignals() bool { return true }

// failoverRig is WeChat (through the real adapter and error mapping) and a second provider.
type failoverRig struct {
	wx     *fakeWeChat
	other  *signaller
	quotas *memQuotas
	clk    *fakeclock.Clock
	svc    *Service
}

func newFailoverRig(t *testing.T, auto bool) *failoverRig {
	t.Helper()
	// 2026-11-29 15:00 UTC is 23:00 in Shanghai: WeChat's day ends in one hour.
	r := &failoverRig{clk: fakeclock.New(time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC))}
	r.wx = &fakeWeChat{byImage: func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil }}
	r.other = &signaller{fakeProvider{name: "tencent", read: func(Input) (*Reading, error) { return frontReading(), nil }}}
	r.quotas = newMemQuotas(r.clk.Now)
	providers := []Provider{NewWeChatProvider(r.wx), r.other}
	if !auto {
		providers = providers[:1]
	}
	s, err := New(Options{WeChat: r.wx, Providers: providers, Auto: auto, Quotas: r.quotas, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = s
	return r
}

func (r *failoverRig) read(t *testing.T, checks string) (*Result, error) {
	t.Helper()
	return r.svc.Recognize(context.Background(), Request{Image: Image{Bytes: png}, Checks: checks})
}

func TestAutoFailsOverOnQuotaAndRemembersUntilReset(t *testing.T) {
	r := newFailoverRig(t, true)
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) {
		return nil, &wechat.APIError{ErrCode: 45009, ErrMsg: "reach max api daily quota limit"}
	}
	res, err := r.read(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider != "tencent" || res.ProviderReason != ReasonQuota {
		t.Fatalf("provider %q reason %q, want tencent quota_exhausted", res.Provider, res.ProviderReason)
	}
	reset := time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC) // midnight in Shanghai
	if got := r.quotas.until["wechat"]; !got.Equal(reset) {
		t.Fatalf("WeChat blocked until %v, want %v", got, reset)
	}
	// Until the reset WeChat is not called again, even when it would answer.
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil }
	r.clk.Set(reset.Add(-time.Second))
	for range 3 {
		if res, err := r.read(t, ""); err != nil || res.Provider != "tencent" || res.ProviderReason != ReasonQuota {
			t.Fatalf("before the reset: %+v %v", res, err)
		}
	}
	if n := r.wx.imageCalls.Load(); n != 1 {
		t.Fatalf("WeChat called %d times before the reset, want 1", n)
	}
	// At the reset, WeChat is first again.
	r.clk.Set(reset)
	if res, err := r.read(t, ""); err != nil || res.Provider != "wechat" || res.ProviderReason != ReasonConfigured {
		t.Fatalf("after the reset: %+v %v", res, err)
	}
	if n := r.wx.imageCalls.Load(); n != 2 {
		t.Fatalf("WeChat called %d times, want 2", n)
	}
}

func TestWithoutAutoQuotaIsAnsweredAtOnce(t *testing.T) {
	r := newFailoverRig(t, false)
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) {
		return nil, &wechat.APIError{ErrCode: 101003, ErrMsg: "not enough market quota"}
	}
	_, err := r.read(t, "")
	ae := apperr.AsError(err)
	if ae.Code != apperr.QuotaExhausted || ae.RetryAfter != time.Hour || ae.Upstream == nil || ae.Upstream.Code != "101003" {
		t.Fatalf("first: %+v, want QUOTA_EXHAUSTED with Retry-After 1h and WeChat's code", ae)
	}
	r.clk.Set(r.clk.Now().Add(20 * time.Minute))
	_, err = r.read(t, "")
	ae = apperr.AsError(err)
	if ae.Code != apperr.QuotaExhausted || ae.RetryAfter != 40*time.Minute {
		t.Fatalf("second: %+v, want QUOTA_EXHAUSTED with Retry-After 40m", ae)
	}
	if n := r.wx.imageCalls.Load(); n != 1 {
		t.Fatalf("WeChat called %d times, want 1: the exhausted quota is remembered", n)
	}
	if r.other.calls.Load() != 0 {
		t.Fatal("the second provider was called without auto")
	}
}

func TestAutoFailsOverWhenUnavailableNotOnOtherErrors(t *testing.T) {
	r := newFailoverRig(t, true)
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) {
		return nil, &wechat.APIError{ErrCode: -1, ErrMsg: "system error"}
	}
	res, err := r.read(t, "")
	if err != nil || res.Provider != "tencent" || res.ProviderReason != ReasonUnavailable {
		t.Fatalf("%+v %v, want tencent unavailable", res, err)
	}
	if !r.quotas.until["wechat"].IsZero() {
		t.Fatal("an outage was remembered as quota exhaustion")
	}
	// A card WeChat cannot find is the answer: no second paid call.
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) {
		return nil, &wechat.APIError{ErrCode: 101001}
	}
	before := r.other.calls.Load()
	if _, err := r.read(t, ""); apperr.AsError(err).Code != apperr.NoCardFound {
		t.Fatalf("err = %v", err)
	}
	if r.other.calls.Load() != before {
		t.Fatal("failed over on NO_CARD_FOUND")
	}
	// Both down: the last provider's error.
	r.other.read = func(Input) (*Reading, error) { return nil, apperr.Errorf(apperr.UpstreamUnavailable, "down") }
	r.wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) { return nil, errors.New("connection refused") }
	if _, err := r.read(t, ""); apperr.AsError(err).Code != apperr.UpstreamUnavailable {
		t.Fatalf("both down: %v", err)
	}
}

func TestStrictGoesToTheSignallerFirst(t *testing.T) {
	r := newFailoverRig(t, true)
	res, err := r.read(t, "strict")
	if err != nil || res.Provider != "tencent" || res.ProviderReason != ReasonStrict {
		t.Fatalf("%+v %v, want tencent strict_checks", res, err)
	}
	if r.wx.imageCalls.Load() != 0 {
		t.Fatal("WeChat called for a strict request")
	}
	res, err = r.read(t, "standard")
	if err != nil || res.Provider != "wechat" || res.ProviderReason != ReasonConfigured {
		t.Fatalf("standard: %+v %v", res, err)
	}
	if _, err := r.read(t, "paranoid"); apperr.AsError(err).Code != apperr.InvalidRequest {
		t.Fatalf("bad checks: %v", err)
	}
}

func TestBudgetSpentFailsOverOrRefuses(t *testing.T) {
	r := newFailoverRig(t, true)
	r.quotas.budget["wechat"] = 1
	if res, err := r.read(t, ""); err != nil || res.Provider != "wechat" {
		t.Fatalf("within the budget: %+v %v", res, err)
	}
	res, err := r.read(t, "")
	if err != nil || res.Provider != "tencent" || res.ProviderReason != ReasonBudget {
		t.Fatalf("over the budget: %+v %v", res, err)
	}
	if n := r.wx.imageCalls.Load(); n != 1 {
		t.Fatalf("WeChat called %d times, want 1", n)
	}
	// Every provider spent: QUOTA_EXHAUSTED with the soonest Retry-After.
	r.quotas.budget["tencent"] = 0
	r.quotas.spent["tencent"] = 0
	_, err = r.read(t, "")
	ae := apperr.AsError(err)
	if ae.Code != apperr.QuotaExhausted || ae.RetryAfter <= 0 || ae.RetryAfter > time.Hour {
		t.Fatalf("all spent: %+v", ae)
	}
}

func TestAQuotaStoreThatFailsDoesNotStopRequests(t *testing.T) {
	r := newFailoverRig(t, false)
	r.quotas.readErr = errors.New("redis down")
	if res, err := r.read(t, ""); err != nil || res.Provider != "wechat" {
		t.Fatalf("%+v %v", res, err)
	}
}
