package wechat

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
	"github.com/wxocr/scf-idcard-ocr/token"
)

// fakeProvider hands out tokens[i] and moves to the next one when tokens[i] is invalidated.
type fakeProvider struct {
	mu          sync.Mutex
	tokens      []token.Token
	i           int
	invalidated []string
	tokenCalls  int
	invalidErr  error
	tokenErr    error
}

func tokens(values ...string) *fakeProvider {
	p := &fakeProvider{}
	for _, v := range values {
		p.tokens = append(p.tokens, token.Token{Value: v})
	}
	return p
}

func (p *fakeProvider) Token(context.Context) (token.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenCalls++
	if p.tokenErr != nil {
		return token.Token{}, p.tokenErr
	}
	return p.tokens[min(p.i, len(p.tokens)-1)], nil
}

func (p *fakeProvider) Invalidate(_ context.Context, rejected string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated = append(p.invalidated, rejected)
	if p.i < len(p.tokens) && p.tokens[p.i].Value == rejected {
		p.i++
	}
	return p.invalidErr
}

// env is one test's server, client and log capture.
type env struct {
	srv    *httptest.Server
	mux    *http.ServeMux
	client *Client
	tokens *fakeProvider
	logs   *syncbuf.Buffer
}

// newEnv starts a loopback server with mux and a client on it with fast, deterministic
// backoff and debug logs captured.
func newEnv(t testing.TB, p *fakeProvider, opts ...Option) *env {
	t.Helper()
	e := &env{mux: http.NewServeMux(), tokens: p, logs: &syncbuf.Buffer{}}
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	all := append([]Option{
		WithBaseURL(e.srv.URL),
		WithLogger(slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithBackoff(time.Millisecond, 4*time.Millisecond),
	}, opts...)
	c, err := New(p, all...)
	if err != nil {
		t.Fatal(err)
	}
	c.t.jitter = func() float64 { return 0.5 }
	e.client = c
	return e
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// counter counts handler calls.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
