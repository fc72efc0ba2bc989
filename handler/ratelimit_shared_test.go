package handler_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
	"github.com/wxocr/scf-idcard-ocr/ocr"
	"github.com/wxocr/scf-idcard-ocr/ratelimit"
)

// okService answers every request at once: these tests are about the limit, not recognition.
type okService struct{}

func (okService) Recognize(context.Context, ocr.Request) (*ocr.Result, error) {
	return &ocr.Result{Provider: ocr.ProviderWeChat, Side: "front"}, nil
}

// instance is one function instance: its own handler and its own Redis client.
func instance(t *testing.T, storeURL string, perMinute int) *handler.Handler {
	t.Helper()
	// A Redis round trip over the limiter's 150 ms default falls back to this instance's
	// memory, which is right in production and not what these tests are about: at load
	// average ~25 with -race, round trips of 160-490 ms made request 5 pass on one instance.
	// The generous deadline keeps the tests on the shared path; ratelimit's own tests cover
	// the fallback on a slow Redis.
	lim, err := ratelimit.New(ratelimit.Config{PerMinute: perMinute, StoreURL: storeURL, RedisTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := lim.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	h, err := handler.New(handler.Options{Service: okService{}, APIKeys: []string{apiKey}, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const sharedBody = `{"fileId":"` + fileFront + `"}`

// post sends one API request to h and returns the status, Retry-After and error code.
func post(t *testing.T, h http.Handler) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/idcard", strings.NewReader(sharedBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := decodeResponse(t, rec.Body.Bytes())
	return rec.Code, rec.Header().Get("Retry-After"), r.code()
}

func call(t *testing.T, h *handler.Handler) string {
	t.Helper()
	out, err := invokeWith(h, []byte(sharedBody), caller)
	if err != nil {
		t.Fatal(err)
	}
	return decodeResponse(t, out).code()
}

func TestRateLimitSharedAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	const limit = 4
	a, b := instance(t, rs.URL, limit), instance(t, rs.URL, limit)
	for i := range limit {
		h := a
		if i%2 == 1 {
			h = b
		}
		if status, _, code := post(t, h); status != 200 {
			t.Fatalf("request %d of %d: %d %s", i+1, limit, status, code)
		}
	}
	for name, h := range map[string]*handler.Handler{"a": a, "b": b} {
		status, retry, code := post(t, h)
		if status != 429 || code != "RATE_LIMITED" {
			t.Fatalf("instance %s, request %d: %d %s, want 429 RATE_LIMITED across instances", name, limit+1, status, code)
		}
		if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 60 {
			t.Errorf("Retry-After %q, want 1-60 s", retry)
		}
	}
	// Cloud calls are limited by openid, shared the same way.
	for i := range limit {
		h := []*handler.Handler{a, b}[i%2]
		if code := call(t, h); code != "" {
			t.Fatalf("cloud call %d: %s", i+1, code)
		}
	}
	if code := call(t, b); code != "RATE_LIMITED" {
		t.Fatalf("cloud call over the shared budget: %q", code)
	}

	// No caller identity in Redis: neither the openid, nor the API key or its label.
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	keys, err := c.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys %q, want one per caller", keys)
	}
	for _, k := range keys {
		for _, secret := range []string{caller["WX_OPENID"], apiKey, "openid", "key:"} {
			if strings.Contains(k, secret) {
				t.Errorf("Redis key %q contains %q", k, secret)
			}
		}
		if !strings.HasPrefix(k, ratelimit.DefaultKeyPrefix) {
			t.Errorf("Redis key %q lacks the prefix", k)
		}
	}
}

func TestRateLimitFallsBackToMemoryWhenRedisStops(t *testing.T) {
	rs := redistest.Start(t)
	if rs.External {
		t.Skip("TEST_REDIS_URL is external: cannot stop it")
	}
	const limit = 3
	h := instance(t, rs.URL, limit)
	if status, _, code := post(t, h); status != 200 {
		t.Fatalf("Redis up: %d %s", status, code)
	}
	rs.Stop()
	for i := range limit {
		if status, _, code := post(t, h); status != 200 {
			t.Fatalf("Redis down, request %d: %d %s, want served (limited in memory)", i+1, status, code)
		}
	}
	status, retry, code := post(t, h)
	if status != 429 || code != "RATE_LIMITED" || retry == "" {
		t.Fatalf("Redis down, over the budget: %d %s Retry-After %q; want the in-memory limit", status, code, retry)
	}
}

// failingLimiter cannot decide, like a store that is down with no fallback of its own.
type failingLimiter struct{ calls int }

func (f *failingLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	f.calls++
	return true, 0, errors.New("store down")
}

// A limiter that cannot decide never lifts the limit: the handler has no limiter of its own
// to fall back on (ratelimit.Fallback does that, see ratelimit's tests), so it refuses.
func TestLimiterErrorNeverLiftsTheLimit(t *testing.T) {
	if _, err := handler.New(handler.Options{Service: okService{}, Limiter: &failingLimiter{}, RateLimitPerMinute: 2}); err == nil {
		t.Fatal("a Limiter and a per-instance budget were both accepted")
	}
	fl := &failingLimiter{}
	h, err := handler.New(handler.Options{Service: okService{}, APIKeys: []string{apiKey}, Limiter: fl})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if status, retry, code := post(t, h); status != 429 || code != "RATE_LIMITED" || retry != "1" {
			t.Fatalf("request %d with a failing limiter: %d %s Retry-After %q, want refused", i+1, status, code, retry)
		}
	}
	if code := call(t, h); code != "RATE_LIMITED" {
		t.Fatalf("cloud call with a failing limiter: %s", code)
	}
	if fl.calls != 4 {
		t.Errorf("limiter asked %d times, want every request", fl.calls)
	}
}

// invokeWith runs event through h.Invoke with the invocation environment of a cloud call.
func invokeWith(h *handler.Handler, event []byte, environment map[string]string) ([]byte, error) {
	ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{Environment: environment, FunctionName: "idcard-ocr"})
	return h.Invoke(ctx, event)
}
