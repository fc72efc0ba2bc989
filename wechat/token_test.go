package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/token"
)

func TestTokenRejectedInvalidatesAndReplaysBody(t *testing.T) {
	for _, code := range []int{ErrCodeInvalidCredential, ErrCodeTokenExpired, ErrCodeInvalidToken} {
		e := newEnv(t, tokens("OLD", "NEW"))
		img := []byte("\xff\xd8\xff\xe0 jpeg payload for replay")
		var bodies [][]byte
		calls := &counter{}
		e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
			calls.inc()
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, b)
			if r.URL.Query().Get("access_token") == "OLD" {
				writeJSON(w, 200, []byte(`{"errcode":`+strconv.Itoa(code)+`,"errmsg":"invalid credential rid: x"}`))
				return
			}
			writeJSON(w, 200, testdata(t, "idcard_front.json"))
		})
		card, err := e.client.IDCardByImage(context.Background(), img, "image/jpeg", "")
		if err != nil {
			t.Fatalf("errcode %d: %v", code, err)
		}
		if card.Type != "Front" {
			t.Errorf("card %+v", *card)
		}
		if calls.get() != 2 {
			t.Fatalf("errcode %d: %d calls, want 2", code, calls.get())
		}
		if len(bodies[0]) == 0 || !bytes.Equal(bodies[0], bodies[1]) || !bytes.Contains(bodies[1], img) {
			t.Errorf("errcode %d: body not replayed:\n%q\n%q", code, bodies[0], bodies[1])
		}
		if got := e.tokens.invalidated; len(got) != 1 || got[0] != "OLD" {
			t.Errorf("errcode %d: invalidated %v, want [OLD]", code, got)
		}
		if strings.Contains(e.logs.String(), "OLD") || strings.Contains(e.logs.String(), "NEW") {
			t.Errorf("token in logs:\n%s", e.logs.String())
		}
	}
}

func TestTokenRejectedJSONBodyReplayed(t *testing.T) {
	e := newEnv(t, tokens("OLD", "NEW"))
	var bodies []string
	e.mux.HandleFunc("/tcb/batchdownloadfile", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.URL.Query().Get("access_token") == "OLD" {
			writeJSON(w, 200, []byte(`{"errcode":42001,"errmsg":"access_token expired"}`))
			return
		}
		writeJSON(w, 200, testdata(t, "batchdownloadfile.json"))
	})
	if _, err := e.client.BatchDownloadFile(context.Background(), "", []string{"cloud://env-id.b/a.jpg"}, 0); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] || bodies[0] == "" {
		t.Errorf("bodies %q", bodies)
	}
}

func TestTokenRejectedOnlyOneRecovery(t *testing.T) {
	e := newEnv(t, tokens("A", "B", "C"))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeJSON(w, 200, []byte(`{"errcode":40001,"errmsg":"invalid credential"}`))
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.ErrCode != 40001 {
		t.Fatalf("error %v, want APIError 40001", err)
	}
	if calls.get() != 2 {
		t.Errorf("%d calls, want 2 (one recovery only)", calls.get())
	}
	// Both rejected tokens leave the source; a third one exists, so "retry shortly".
	if got := e.tokens.invalidated; len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Errorf("invalidated %v", got)
	}
	if ae.RetryAfter != rejectedRetryAfter {
		t.Errorf("RetryAfter %v, want %v", ae.RetryAfter, rejectedRetryAfter)
	}
}

func TestTokenRejectedSameTokenAgainNotRetried(t *testing.T) {
	p := tokens("A")
	p.invalidErr = errors.New("store down")
	e := newEnv(t, p)
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeJSON(w, 200, []byte(`{"errcode":40001,"errmsg":"invalid credential"}`))
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.ErrCode != 40001 {
		t.Fatalf("error %v", err)
	}
	if calls.get() != 1 {
		t.Errorf("%d calls: the rejected token was sent again", calls.get())
	}
}

func TestTokenProviderErrorWrapped(t *testing.T) {
	p := tokens("A")
	p.tokenErr = token.ErrNoToken
	e := newEnv(t, p)
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	if !errors.Is(err, token.ErrNoToken) {
		t.Errorf("error %v does not wrap token.ErrNoToken", err)
	}
}

func TestTokenParams(t *testing.T) {
	cases := []struct {
		name      string
		tok       token.Token
		wantQuery string
	}{
		{"access_token", token.Token{Value: "tok/+="}, "access_token=tok%2F%2B%3D&img_url=u"},
		{"cloudbase", token.Token{Value: "cb", Param: "cloudbase_access_token"}, "cloudbase_access_token=cb&img_url=u"},
		{"none (cloud hosting)", token.Token{}, "img_url=u"},
		{"none with param set", token.Token{Param: "cloudbase_access_token"}, "img_url=u"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProvider{tokens: []token.Token{tc.tok}}
			e := newEnv(t, p)
			calls := &counter{}
			e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				if r.URL.RawQuery != tc.wantQuery {
					t.Errorf("query %q, want %q", r.URL.RawQuery, tc.wantQuery)
				}
				writeJSON(w, 200, []byte(`{"errcode":40001,"errmsg":"invalid credential"}`))
			})
			e.client.IDCardByURL(context.Background(), "u", "")
			if tc.tok.Value == "" {
				// Nothing to invalidate when the platform injects the credential.
				if calls.get() != 1 || len(p.invalidated) != 0 {
					t.Errorf("%d calls, invalidated %v", calls.get(), p.invalidated)
				}
			}
		})
	}
}

// TestTokenNeverInErrorsOrLogs provokes every failure path with debug logging on and checks
// neither the error strings nor the log output carry the token.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	const secretToken = "TOPSECRET-token-81_abc"
	answers := map[string]http.HandlerFunc{
		"40001": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, []byte(`{"errcode":40001,"errmsg":"invalid credential"}`))
		},
		"echo in errmsg": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, []byte(`{"errcode":40014,"errmsg":"bad token `+r.URL.Query().Get("access_token")+`"}`))
		},
		"502 echoing url": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 502, []byte(`{"errcode":-1,"errmsg":"upstream failed for `+r.URL.String()+`"}`))
		},
		"html echoing url": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 500, []byte(`<html>`+r.URL.String()+`</html>`))
		},
		"reset": func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/?"+r.URL.RawQuery, http.StatusFound)
		},
		"garbage 200": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, []byte(`{"errcode":0,"type":`+r.URL.RawQuery))
		},
	}
	for name, h := range answers {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tokens(secretToken, secretToken))
			e.mux.HandleFunc("/cv/ocr/idcard", h)
			_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("token in error: %v", err)
			}
			if strings.Contains(e.logs.String(), "TOPSECRET") {
				t.Errorf("token in logs:\n%s", e.logs.String())
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t, tokens(secretToken))
		e.srv.Close()
		_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(e.logs.String(), "TOPSECRET") {
			t.Errorf("error %v / logs %s", err, e.logs.String())
		}
	})
}

func TestIsTokenRejected(t *testing.T) {
	for code, want := range map[int]bool{40001: true, 42001: true, 40014: true, 0: false, -1: false, 40013: false, 101001: false} {
		if IsTokenRejected(code) != want {
			t.Errorf("IsTokenRejected(%d) != %v", code, want)
		}
	}
}

// leakyTransport fails with an error that quotes the whole request URL, as some proxies and
// instrumented transports do; only the redaction backstop stands between it and the caller.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused %s: %w", r.URL, context.DeadlineExceeded)
}

func TestRedactionBackstop(t *testing.T) {
	const tok = "TOPSECRET/token+value"
	e := newEnv(t, tokens(tok), WithHTTPClient(&http.Client{Transport: leakyTransport{}}), WithMaxRetries(0))
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "TOPSECRET") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error not redacted: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("redacted error lost its context cause: %v", err)
	}

	f := NewLegacyTokenFetcher(testAppID, testSecret, WithHTTPClient(&http.Client{Transport: leakyTransport{}}), WithMaxRetries(0))
	_, err = f.Fetch(context.Background(), false)
	if err == nil || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("legacy fetch error: %v", err)
	}
}
