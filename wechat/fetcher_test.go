package wechat

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
	"github.com/wxocr/scf-idcard-ocr/token"
)

const (
	testAppID  = "wx0123456789abcdef"
	testSecret = "S3CRET+app/secret=value"
)

var fixedNow = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func fetcherServer(t *testing.T) (*httptest.Server, *http.ServeMux, *syncbuf.Buffer, []Option) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	logs := &syncbuf.Buffer{}
	return srv, mux, logs, []Option{
		WithBaseURL(srv.URL),
		WithClock(func() time.Time { return fixedNow }),
		WithBackoff(time.Millisecond, 2*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
}

func TestStableTokenFetcher(t *testing.T) {
	for _, force := range []bool{false, true} {
		_, mux, _, opts := fetcherServer(t)
		mux.HandleFunc("/cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.RawQuery != "" {
				t.Errorf("%s ?%s", r.Method, r.URL.RawQuery)
			}
			b, _ := io.ReadAll(r.Body)
			want := `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":` +
				map[bool]string{false: "false", true: "true"}[force] + `}`
			if string(b) != want {
				t.Errorf("body\n got %s\nwant %s", b, want)
			}
			writeJSON(w, 200, testdata(t, "stable_token.json"))
		})
		tok, err := NewStableTokenFetcher(testAppID, testSecret, opts...).Fetch(context.Background(), force)
		if err != nil {
			t.Fatal(err)
		}
		want := token.Token{Value: "81_stable-token-value-from-testdata", ExpiresAt: fixedNow.Add(7200 * time.Second), FetchedAt: fixedNow}
		if tok != want {
			t.Errorf("token %+v, want %+v", tok, want)
		}
	}
}

func TestLegacyTokenFetcher(t *testing.T) {
	_, mux, logs, opts := fetcherServer(t)
	mux.HandleFunc("/cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		q := r.URL.Query()
		if q.Get("grant_type") != "client_credential" || q.Get("appid") != testAppID || q.Get("secret") != testSecret || len(q) != 3 {
			t.Errorf("query %v", q)
		}
		writeJSON(w, 200, []byte(`{"access_token":"legacy-token","expires_in":"7200"}`))
	})
	tok, err := NewLegacyTokenFetcher(testAppID, testSecret, opts...).Fetch(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value != "legacy-token" || !tok.ExpiresAt.Equal(fixedNow.Add(2*time.Hour)) || tok.QueryParam() != "access_token" {
		t.Errorf("token %+v", tok)
	}
	if strings.Contains(logs.String(), "S3CRET") {
		t.Errorf("secret logged:\n%s", logs.String())
	}
}

func TestTokenFetcherErrors(t *testing.T) {
	cases := map[string]struct {
		body     string
		status   int
		wantCode int
		calls    int
	}{
		"40125 invalid secret": {string(testdataNoT("token_invalid_secret.json")), 200, 40125, 1},
		"40013 invalid appid":  {`{"errcode":40013,"errmsg":"invalid appid"}`, 200, 40013, 1},
		"40164 ip":             {`{"errcode":"40164","errmsg":"invalid ip 1.2.3.4, not in whitelist"}`, 200, 40164, 1},
		"45009 limit":          {`{"errcode":45009,"errmsg":"reach max api daily quota limit"}`, 200, 45009, 1},
		"-1 retried":           {`{"errcode":-1,"errmsg":"system error"}`, 200, -1, 3},
		"secret echoed":        {`{"errcode":40125,"errmsg":"invalid appsecret ` + testSecret + `"}`, 200, 40125, 1},
	}
	for name, tc := range cases {
		for _, legacy := range []bool{false, true} {
			_, mux, logs, opts := fetcherServer(t)
			calls := &counter{}
			h := func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				writeJSON(w, tc.status, []byte(tc.body))
			}
			mux.HandleFunc("/cgi-bin/stable_token", h)
			mux.HandleFunc("/cgi-bin/token", h)
			f := NewStableTokenFetcher(testAppID, testSecret, opts...)
			if legacy {
				f = NewLegacyTokenFetcher(testAppID, testSecret, opts...)
			}
			_, err := f.Fetch(context.Background(), false)
			var ae *APIError
			if !errors.As(err, &ae) || ae.ErrCode != tc.wantCode {
				t.Errorf("%s legacy=%v: error %v, want APIError %d", name, legacy, err, tc.wantCode)
				continue
			}
			if calls.get() != tc.calls {
				t.Errorf("%s legacy=%v: %d calls, want %d", name, legacy, calls.get(), tc.calls)
			}
			if strings.Contains(err.Error(), "S3CRET") || strings.Contains(logs.String(), "S3CRET") {
				t.Errorf("%s legacy=%v: secret leaked: %v\n%s", name, legacy, err, logs.String())
			}
		}
	}
}

func testdataNoT(name string) []byte {
	b, err := readTestdata(name)
	if err != nil {
		panic(err)
	}
	return b
}

func TestTokenFetcherBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"no token":      `{"expires_in":7200}`,
		"no expiry":     `{"access_token":"x"}`,
		"zero expiry":   `{"access_token":"x","expires_in":0}`,
		"not json":      `<html>`,
		"errcode bogus": `{"errcode":"abc"}`,
	} {
		_, mux, _, opts := fetcherServer(t)
		mux.HandleFunc("/cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, []byte(body))
		})
		if tok, err := NewStableTokenFetcher(testAppID, testSecret, opts...).Fetch(context.Background(), false); err == nil {
			t.Errorf("%s: token %+v accepted", name, tok)
		}
	}
}

// TestLegacyFetcherSecretNotInTransportErrors: the legacy URL carries the secret, and
// net/http's *url.Error quotes the URL; neither the error nor the logs may show it.
func TestLegacyFetcherSecretNotInTransportErrors(t *testing.T) {
	srv, mux, logs, opts := fetcherServer(t)
	mux.HandleFunc("/cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	f := NewLegacyTokenFetcher(testAppID, testSecret, opts...)
	_, err := f.Fetch(context.Background(), false)
	if err == nil {
		t.Fatal("no error")
	}
	srv.Close()
	_, err2 := f.Fetch(context.Background(), false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err3 := f.Fetch(ctx, false)
	if !errors.Is(err3, context.Canceled) {
		t.Errorf("canceled fetch: %v", err3)
	}
	escaped := "S3CRET%2Bapp%2Fsecret%3Dvalue"
	for _, e := range []error{err, err2, err3} {
		if e == nil || strings.Contains(e.Error(), "S3CRET") || strings.Contains(e.Error(), escaped) {
			t.Errorf("error %v", e)
		}
	}
	if strings.Contains(logs.String(), "S3CRET") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestTokenFetcherBadConfig(t *testing.T) {
	for name, f := range map[string]token.Fetcher{
		"no appid":    NewStableTokenFetcher("", "s"),
		"no secret":   NewLegacyTokenFetcher("a", ""),
		"bad base":    NewStableTokenFetcher("a", "s", WithBaseURL("ftp://x")),
		"bad timeout": NewLegacyTokenFetcher("a", "s", WithTimeout(0)),
	} {
		if _, err := f.Fetch(context.Background(), false); err == nil {
			t.Errorf("%s: fetch succeeded", name)
		}
	}
}
