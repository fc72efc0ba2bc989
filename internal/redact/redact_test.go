package redact

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A cloud-storage download URL as tcb/batchdownloadfile hands it out (shape from WeChat's
// documentation of the answer: the signature travels in sign and t).
const signed = "https://7465-env-1258717764.tcb.qcloud.la/cards/a.jpg?sign=5b0f9d8f1c2a3e4b&t=1700000000"

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		signed: "https://7465-env-1258717764.tcb.qcloud.la/cards/a.jpg",
		"https://user:pass@host.example/p?q=1#frag": "https://host.example/p",
		"http://127.0.0.1:9100/x":                   "http://127.0.0.1:9100/x",
		"cloud://env.bucket/a.jpg":                  "cloud://env.bucket/a.jpg",
		"not a url ?sign=1":                         "not a url ?sign=1",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`Get "` + signed + `": EOF`:                                           `Get "https://7465-env-1258717764.tcb.qcloud.la/cards/a.jpg": EOF`,
		"two: https://a.example/x?k=1 and http://u:p@b.example?k=2 done":      "two: https://a.example/x and http://b.example done",
		"invalid img_url https%3A%2F%2Fa.example%2Fx.jpg%3Fsign%3Dabc rid: 1": "invalid img_url https%3A%2F%2Fa.example%2Fx.jpg rid: 1",
		"https%3a%2f%2fuser%40a.example%2fx%3fsign%3d1":                       "https%3a%2f%2fa.example%2fx",
		"no url here": "no url here",
		"://?x":       "://",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// The *url.Error that net/http returns quotes the whole URL; Error keeps the chain usable.
func TestErrorFromHTTPClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil || !strings.Contains(err.Error(), "sign=") {
		t.Fatalf("expected the client's error to quote the URL, got %v", err)
	}
	red := Error(fmt.Errorf("fetch image: %w", err))
	if strings.Contains(red.Error(), "sign=") || strings.Contains(red.Error(), "t=17") {
		t.Errorf("signature left in %q", red)
	}
	if !strings.Contains(red.Error(), "tcb.qcloud.la/cards/a.jpg") {
		t.Errorf("host and path lost: %q", red)
	}
	if !errors.Is(red, context.Canceled) {
		t.Error("errors.Is no longer sees context.Canceled")
	}
	var ue *url.Error
	if !errors.As(red, &ue) {
		t.Error("errors.As no longer finds the *url.Error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	plain := errors.New("plain")
	if Error(plain) != plain {
		t.Error("an error without URLs was wrapped")
	}
}

func FuzzText(f *testing.F) {
	f.Add(signed)
	f.Add("https%3A%2F%2Fa%40b%2Fc%3Fd")
	f.Add("a://b@c/d?e#f ://")
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if len(out) > len(s) {
			t.Errorf("Text grew %q to %q", s, out)
		}
		if Text(out) != out {
			t.Errorf("Text is not idempotent on %q: %q then %q", s, out, Text(out))
		}
	})
}
