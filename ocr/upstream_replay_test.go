package ocr

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// staticTokens hands out one token; rejections are counted.
type staticTokens struct{ invalidated int }

func (*staticTokens) Token(context.Context) (token.Token, error) {
	return token.Token{Value: "replay-token-0123456789", ExpiresAt: time.Now().Add(time.Hour)}, nil
}
func (s *staticTokens) Invalidate(context.Context, string) error { s.invalidated++; return nil }

// replay serves body as WeChat's answer to every cv/ocr/idcard call and returns a service
// over the real client.
func replay(t *testing.T, body []byte) (*Service, *int) {
	t.Helper()
	calls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Method != http.MethodPost || r.URL.Query().Get("access_token") == "" {
			t.Errorf("%s %s without a token", r.Method, r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json; encoding=utf-8")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.DiscardHandler)
	wx, err := wechat.New(&staticTokens{}, wechat.WithBaseURL(srv.URL), wechat.WithLogger(quiet),
		wechat.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{WeChat: wx, Logger: quiet,
		Now: func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, &calls
}

func upstreamFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func anImage(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(emulator.SampleFiles(), "cards/front.png")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func check(rep []idcard.Check, name string) idcard.Status {
	for _, c := range rep {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// The documentation's answers, front and back, read field by field through the client and
// the service.
func TestReplayDocumentedAnswers(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"doc_front.json", "doc_front_string_errcode.json"} {
		t.Run(name, func(t *testing.T) {
			svc, calls := replay(t, upstreamFixture(t, name))
			res, err := svc.Recognize(ctx, Request{Image: Image{Bytes: anImage(t)}})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Card
			for field, got := range map[string][2]string{
				"side":      {string(res.Side), "front"},
				"name":      {str(c.Name), "张三"},
				"idNumber":  {str(c.IDNumber), "123456789012345678"},
				"address":   {str(c.Address), "广东省广州市"},
				"gender":    {str(c.Gender), "male"},
				"ethnicity": {str(c.Ethnicity), "汉"},
				"provider":  {res.Provider, "wechat"},
			} {
				if got[0] != got[1] {
					t.Errorf("%s = %q, want %q", field, got[0], got[1])
				}
			}
			// The documentation's placeholder number fails its check character (and its
			// region and birth date): a placeholder must never pass.
			if check(res.Checks, "id_number") != idcard.StatusFail || res.Verdict != idcard.VerdictReject {
				t.Errorf("id_number %q, verdict %q; want fail and reject", check(res.Checks, "id_number"), res.Verdict)
			}
			if *calls != 1 {
				t.Errorf("%d upstream calls, want 1", *calls)
			}
		})
	}
	t.Run("doc_back.json", func(t *testing.T) {
		svc, _ := replay(t, upstreamFixture(t, "doc_back.json"))
		res, err := svc.Recognize(ctx, Request{Image: Image{Bytes: anImage(t)}, Side: SideBack})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Card
		if res.Side != SideBack || str(c.ValidFrom) != "2007-01-05" || str(c.ValidTo) != "2027-01-05" ||
			c.LongTerm == nil || *c.LongTerm || c.Name != nil || c.IDNumber != nil {
			t.Errorf("back: side %s from %s to %s longTerm %v name %s id %s", res.Side, str(c.ValidFrom),
				str(c.ValidTo), c.LongTerm, str(c.Name), str(c.IDNumber))
		}
		if check(res.Checks, "back_complete") != idcard.StatusPass {
			t.Errorf("back_complete %q, want pass (WeChat never reads the authority)", check(res.Checks, "back_complete"))
		}
	})
	t.Run("front side asked, back answered", func(t *testing.T) {
		svc, _ := replay(t, upstreamFixture(t, "doc_back.json"))
		_, err := svc.Recognize(ctx, Request{Image: Image{Bytes: anImage(t)}, Side: SideFront})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.InvalidRequest {
			t.Errorf("%v, want INVALID_REQUEST", err)
		}
	})
}

// Error answers reported by WeChat's users, each mapped by the errcode table with WeChat's
// code and errmsg kept for support.
func TestReplayReportedErrors(t *testing.T) {
	tests := []struct {
		file      string
		code      apperr.Code
		upstream  string
		msgHas    string
		wantCalls int
	}{
		{"community_101000.json", apperr.ImageFetchFailed, "101000", "image URL", 1},
		{"community_101000_string_errcode.json", apperr.ImageFetchFailed, "101000", "image URL", 1},
		{"community_61007.json", apperr.UpstreamAuth, "61007", "third-party platform", 1},
		{"community_48001.json", apperr.UpstreamAuth, "48001", "enable the OCR service", 1},
		{"community_system_error.json", apperr.UpstreamUnavailable, "-1", "busy", 3}, // retried twice
		{"community_40001.json", apperr.UpstreamUnavailable, "40001", "rejected the access token", 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := upstreamFixture(t, tt.file)
			svc, calls := replay(t, body)
			_, err := svc.Recognize(context.Background(), Request{Image: Image{Bytes: anImage(t)}})
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%v, want an *apperr.Error", err)
			}
			if ae.Code != tt.code || ae.Retryable != tt.code.Retryable() || !strings.Contains(ae.Message, tt.msgHas) {
				t.Errorf("%s retryable=%v %q; want %s saying %q", ae.Code, ae.Retryable, ae.Message, tt.code, tt.msgHas)
			}
			if ae.Upstream == nil || ae.Upstream.Code != tt.upstream || !strings.Contains(string(body), ae.Upstream.Message) || ae.Upstream.Message == "" {
				t.Errorf("upstream %+v, want code %s and WeChat's errmsg", ae.Upstream, tt.upstream)
			}
			if tt.upstream != "40001" && *calls != tt.wantCalls {
				t.Errorf("%d upstream calls, want %d", *calls, tt.wantCalls)
			}
		})
	}
}

// 40164 comes from the token endpoint: the caller learns it is the IP allowlist, and the
// refused IP WeChat names stays in upstream.message for the operator.
func TestReplayIPAllowlistFromTokenEndpoint(t *testing.T) {
	body := upstreamFixture(t, "community_40164_stable_token.json")
	mux := http.NewServeMux()
	mux.HandleFunc("/cgi-bin/stable_token", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	mux.HandleFunc("/cv/ocr/idcard", func(http.ResponseWriter, *http.Request) { t.Error("OCR called without a token") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.DiscardHandler)
	opts := []wechat.Option{wechat.WithBaseURL(srv.URL), wechat.WithLogger(quiet)}
	mgr, err := token.NewManager("wx-replay", wechat.NewStableTokenFetcher("wx-replay", "replay-secret-0123", opts...), token.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	wx, err := wechat.New(mgr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{WeChat: wx, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Recognize(context.Background(), Request{Image: Image{Bytes: anImage(t)}})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.UpstreamAuth || ae.Retryable || !strings.Contains(ae.Message, "IP allowlist") {
		t.Fatalf("%v, want UPSTREAM_AUTH naming the IP allowlist", err)
	}
	if ae.Upstream == nil || ae.Upstream.Code != "40164" || !strings.Contains(ae.Upstream.Message, "218.58.124.130") {
		t.Errorf("upstream %+v, want 40164 with the refused IP", ae.Upstream)
	}
}
