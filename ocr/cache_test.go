package ocr

import (
	"context"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/resultcache"
)

// The cache answers a repeat of the same image (bytes or URL) and options, and nothing else:
// another image, a strict request after a standard one (its reading may lack fraud signals),
// or a request for the portrait after one without it.
func TestCacheKeysOnImageAndOptions(t *testing.T) {
	cache, err := resultcache.New(resultcache.NewMemory(nil), resultcache.Options{Secret: []byte("ocr-cache-test-secret-0123456789"), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := &signaller{fakeProvider{name: "tencent", read: func(in Input) (*Reading, error) {
		r := frontReading()
		if in.Portrait {
			r.Portrait = "cG9ydHJhaXQ="
		}
		return r, nil
	}}}
	s, err := New(Options{WeChat: &fakeWeChat{}, Providers: []Provider{p}, Cache: cache, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other := append(append([]byte{}, png...), 0)
	for i, tt := range []struct {
		req    Request
		cached bool
	}{
		{Request{Image: Image{Bytes: png}}, false},
		{Request{Image: Image{Bytes: png}}, true},
		{Request{Image: Image{Bytes: other}}, false},
		{Request{Image: Image{Bytes: png}, Checks: "strict"}, false},
		{Request{Image: Image{Bytes: png}, Checks: "strict"}, true},
		{Request{Image: Image{Bytes: png}, Portrait: true}, false},
		{Request{Image: Image{Bytes: png}, Portrait: true}, true},
		{Request{Image: Image{URL: "https://images.example.com/a.png"}}, false},
		{Request{Image: Image{URL: "https://images.example.com/a.png"}}, true},
	} {
		before := p.calls.Load()
		res, err := s.Recognize(ctx, tt.req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if res.Cached != tt.cached || (p.calls.Load() == before) != tt.cached {
			t.Errorf("request %d: cached %v with %d calls, want cached %v", i, res.Cached, p.calls.Load()-before, tt.cached)
		}
		if tt.req.Portrait && res.Portrait == "" {
			t.Errorf("request %d: the portrait is missing (cached %v)", i, res.Cached)
		}
	}
	// A cached reading is still checked against the side asked for, and costs no call.
	before := p.calls.Load()
	_, err = s.Recognize(ctx, Request{Image: Image{Bytes: png}, Side: SideBack})
	if codeOf(err) != "INVALID_REQUEST" || p.calls.Load() != before {
		t.Errorf("cached front as a back: %v, %d calls", err, p.calls.Load()-before)
	}
}
