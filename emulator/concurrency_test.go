package emulator

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentStableTokenIssuesOne(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 32
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { toks[i] = h.stable(false).str("access_token") })
	}
	wg.Wait()
	for _, tok := range toks {
		if tok == "" || tok != toks[0] {
			t.Fatal("concurrent normal fetches got different tokens")
		}
	}
	if got := h.e.Stats(); got.TokensIssued != 1 || got.Calls[PathStableToken] != n {
		t.Fatalf("stats %+v, want 1 token and %d calls", got, n)
	}
}

func TestConcurrentLegacyAndOCR(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	front := sample(t, "front.png")
	u := h.downloadURL(tok, "cards/front.png")
	if err := h.e.AddFault(Fault{Endpoint: PathOCRIDCard, Count: 5, ErrCode: CodeNoQuota}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	legacy := map[string]bool{}
	codes := map[int]int{}
	for i := range n {
		wg.Go(func() {
			l := h.legacy().str("access_token")
			var m wx
			if i%2 == 0 {
				m = h.ocrUpload(tok, "img", front)
			} else {
				m = h.ocrURL(tok, u)
			}
			_ = h.e.Stats()
			mu.Lock()
			defer mu.Unlock()
			legacy[l] = true
			codes[m.code()]++
		})
	}
	wg.Wait()
	if len(legacy) != n {
		t.Fatalf("%d distinct legacy tokens, want %d", len(legacy), n)
	}
	if codes[CodeNoQuota] != 5 || codes[0] != n-5 {
		t.Fatalf("errcodes %v, want 5 faulted and %d recognised", codes, n-5)
	}
	if got := h.e.Stats().TokensIssued; got != n+1 {
		t.Fatalf("TokensIssued %d, want %d", got, n+1)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, Options{Logger: logger})
	tok := h.token()
	l := h.legacy().str("access_token")
	u := h.downloadURL(tok, "cards/front.png")
	h.ocrURL(tok, u)
	h.ocrUpload(tok, "img", sample(t, "front.png"))
	h.postJSON(PathStableToken, nil, map[string]any{"grant_type": "client_credential", "appid": DefaultAppID, "secret": "wrong-secret"})
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, PathOCRIDCard) || !strings.Contains(out, `"errcode":40125`) {
		t.Fatalf("requests not logged: %s", out)
	}
	for _, secret := range []string{tok, l, DefaultSecret, "wrong-secret", "sign=", "张三", "440305199505132561"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
