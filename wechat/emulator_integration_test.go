package wechat_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// cachingProvider is the smallest token.Provider over a Fetcher: one cached token, dropped
// when reported rejected. The real manager lives in package token.
type cachingProvider struct {
	mu          sync.Mutex
	f           token.Fetcher
	cur         token.Token
	invalidated int
}

func (p *cachingProvider) Token(ctx context.Context) (token.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.Value != "" {
		return p.cur, nil
	}
	t, err := p.f.Fetch(ctx, false)
	if err != nil {
		return token.Token{}, err
	}
	p.cur = t
	return t, nil
}

func (p *cachingProvider) Invalidate(_ context.Context, rejected string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated++
	if p.cur.Value == rejected {
		p.cur = token.Token{}
	}
	return nil
}

type emuEnv struct {
	emu    *emulator.Emulator
	srv    *httptest.Server
	client *wechat.Client
	tokens *cachingProvider
	logs   *strings.Builder
	mu     *sync.Mutex
}

// lockedWriter serialises log writes into a strings.Builder.
type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newEmuEnv(t *testing.T) *emuEnv {
	t.Helper()
	emu := emulator.New(emulator.Options{Files: emulator.SampleFiles()})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	logs, mu := &strings.Builder{}, &sync.Mutex{}
	logger := slog.New(slog.NewTextHandler(lockedWriter{mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := []wechat.Option{wechat.WithBaseURL(srv.URL), wechat.WithBackoff(time.Millisecond, 4*time.Millisecond), wechat.WithLogger(logger)}
	p := &cachingProvider{f: wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, opts...)}
	c, err := wechat.New(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &emuEnv{emu: emu, srv: srv, client: c, tokens: p, logs: logs, mu: mu}
}

func TestEmulatorStableToken(t *testing.T) {
	e := newEmuEnv(t)
	f := wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(e.srv.URL))
	ctx := context.Background()
	t1, err := f.Fetch(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if t1.Value == "" || !t1.ExpiresAt.After(t1.FetchedAt.Add(time.Hour)) {
		t.Errorf("token %+v", t1)
	}
	t2, err := f.Fetch(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if t2.Value != t1.Value {
		t.Error("normal-mode stable_token returned a different token")
	}
	t3, err := f.Fetch(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if t3.Value == t1.Value {
		t.Error("force_refresh returned the same token")
	}
	if s := e.emu.Stats(); s.TokensIssued != 2 || s.Calls[emulator.PathStableToken] != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestEmulatorTokenErrors(t *testing.T) {
	e := newEmuEnv(t)
	const wrong = "wrong-secret-value-123"
	for name, f := range map[string]token.Fetcher{
		"stable": wechat.NewStableTokenFetcher(emulator.DefaultAppID, wrong, wechat.WithBaseURL(e.srv.URL)),
		"legacy": wechat.NewLegacyTokenFetcher(emulator.DefaultAppID, wrong, wechat.WithBaseURL(e.srv.URL)),
	} {
		_, err := f.Fetch(context.Background(), false)
		var ae *wechat.APIError
		if !errors.As(err, &ae) || ae.ErrCode != wechat.ErrCodeInvalidSecret {
			t.Errorf("%s: error %v, want 40125", name, err)
		} else if strings.Contains(err.Error(), wrong) {
			t.Errorf("%s: secret in error %v", name, err)
		}
	}
	legacy := wechat.NewLegacyTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(e.srv.URL))
	if tok, err := legacy.Fetch(context.Background(), false); err != nil || tok.Value == "" {
		t.Errorf("legacy fetch: %+v %v", tok, err)
	}
}

func TestEmulatorFileIDToCard(t *testing.T) {
	e := newEmuEnv(t)
	ctx := context.Background()
	const front = "cloud://test-env.7465-test-env-1258717764/cards/front.png"
	const missing = "cloud://test-env.7465-test-env-1258717764/cards/none.png"
	files, err := e.client.BatchDownloadFile(ctx, "", []string{front, missing}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]wechat.FileURL{}
	for _, f := range files {
		byID[f.FileID] = f
	}
	if f := byID[front]; f.Status != 0 || f.DownloadURL == "" {
		t.Fatalf("front: %+v", f)
	}
	if f := byID[missing]; f.Status == 0 {
		t.Errorf("missing file: %+v", f)
	}
	card, err := e.client.IDCardByURL(ctx, byID[front].DownloadURL, "photo")
	if err != nil {
		t.Fatal(err)
	}
	if card.Type != "Front" || card.ID != "440305199505132561" || card.Name != "张三" || card.Nationality != "汉" {
		t.Errorf("card %+v", *card)
	}
}

func TestEmulatorUpload(t *testing.T) {
	e := newEmuEnv(t)
	ctx := context.Background()
	back := map[string]string{"type": "Back", "valid_date": "20080618-长期", "authority": "深圳市公安局福田分局"}
	card, err := e.client.IDCardByImage(ctx, emulator.EncodeCardPNG(back), "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	if card.Type != "Back" || card.ValidDate != "20080618-长期" {
		t.Errorf("card %+v", *card)
	}
	front := map[string]string{"type": "Front", "name": "李四", "id": "440304196003150313", "gender": "男", "nationality": "汉", "addr": "x"}
	card, err = e.client.IDCardByImage(ctx, emulator.EncodeCardJPEG(front), "image/jpeg", "scan")
	if err != nil || card.Name != "李四" {
		t.Fatalf("jpeg: %+v %v", card, err)
	}
	for name, tc := range map[string]struct {
		img  []byte
		code int
	}{
		"no card":     {emulator.EncodePlainPNG(), wechat.ErrCodeCardNotFound},
		"undecodable": {[]byte("\x89PNG\r\n\x1a\n truncated"), wechat.ErrCodeImageDecodeFailed},
	} {
		_, err := e.client.IDCardByImage(ctx, tc.img, "", "")
		var ae *wechat.APIError
		if !errors.As(err, &ae) || ae.ErrCode != tc.code {
			t.Errorf("%s: %v, want %d", name, err, tc.code)
		}
	}
}

func TestEmulatorRevokeRecovers(t *testing.T) {
	e := newEmuEnv(t)
	ctx := context.Background()
	img := emulator.EncodeCardPNG(map[string]string{"type": "Front", "name": "张三", "id": "440305199505132561"})
	if _, err := e.client.IDCardByImage(ctx, img, "image/png", ""); err != nil {
		t.Fatal(err)
	}
	e.emu.Revoke()
	card, err := e.client.IDCardByImage(ctx, img, "image/png", "")
	if err != nil {
		t.Fatalf("after Revoke: %v", err)
	}
	if card.Name != "张三" {
		t.Errorf("card %+v", *card)
	}
	e.mu.Lock()
	logs := e.logs.String()
	e.mu.Unlock()
	if !strings.Contains(logs, "access token rejected") || strings.Contains(logs, e.tokens.cur.Value) ||
		strings.Contains(logs, emulator.DefaultSecret) {
		t.Errorf("logs lack the rejection or carry a credential:\n%s", logs)
	}
	s := e.emu.Stats()
	if s.Calls[emulator.PathOCRIDCard] != 3 || s.TokensIssued != 2 || e.tokens.invalidated != 1 {
		t.Errorf("stats %+v, invalidations %d: want 3 OCR calls (ok, 40001, replay), 2 tokens, 1 invalidation", s, e.tokens.invalidated)
	}
}

func TestEmulatorFaultsRetried(t *testing.T) {
	cases := map[string]struct {
		fault     emulator.Fault
		wantCalls int
		wantErr   bool
	}{
		"-1 twice":      {emulator.Fault{ErrCode: -1, Count: 2}, 3, false},
		"502 twice":     {emulator.Fault{Status: 502, Count: 2}, 3, false},
		"reset twice":   {emulator.Fault{Reset: true, Count: 2}, 3, false},
		"-1 thrice":     {emulator.Fault{ErrCode: -1, Count: 3}, 3, true},
		"101003 quota":  {emulator.Fault{ErrCode: wechat.ErrCodeQuotaExhausted, Count: 3}, 1, true},
		"45009 limited": {emulator.Fault{ErrCode: wechat.ErrCodeDailyLimit, Count: 3}, 1, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEmuEnv(t)
			tc.fault.Endpoint = emulator.PathOCRIDCard
			if err := e.emu.AddFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			_, err := e.client.IDCardByImage(context.Background(), emulator.EncodeCardPNG(map[string]string{"type": "Back", "valid_date": "20190308-20290308"}), "image/png", "")
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error %v", err, tc.wantErr)
			}
			if got := e.emu.Stats().Calls[emulator.PathOCRIDCard]; got != tc.wantCalls {
				t.Errorf("%d OCR calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestEmulatorAttemptTimeoutRetried(t *testing.T) {
	emu := emulator.New(emulator.Options{Files: emulator.SampleFiles()})
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	opts := []wechat.Option{wechat.WithBaseURL(srv.URL), wechat.WithBackoff(time.Millisecond, 2*time.Millisecond),
		wechat.WithTimeout(200 * time.Millisecond), wechat.WithLogger(slog.New(slog.DiscardHandler))}
	p := &cachingProvider{f: wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, opts...)}
	c, err := wechat.New(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	files, err := c.BatchDownloadFile(ctx, "", []string{"cloud://e.b/cards/back.png"}, 0)
	if err != nil || len(files) != 1 || files[0].Status != 0 {
		t.Fatalf("%+v %v", files, err)
	}
	// The request by URL has no body, so the emulator sees the client give up and ends the
	// delay; an upload's delay would outlast the test (the server notices a closed
	// connection only after the handler has read the body).
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: time.Minute, Count: 1}); err != nil {
		t.Fatal(err)
	}
	card, err := c.IDCardByURL(ctx, files[0].DownloadURL, "")
	if err != nil || card.Type != "Back" {
		t.Fatalf("%+v %v", card, err)
	}
	if got := emu.Stats().Calls[emulator.PathOCRIDCard]; got != 2 {
		t.Errorf("%d OCR calls, want 2 (one timed out)", got)
	}
}
