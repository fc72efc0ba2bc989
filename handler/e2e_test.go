package handler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
	"github.com/wxocr/scf-idcard-ocr/ocr"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

const (
	apiKey   = "test-api-key"
	adminKey = "test-admin-key"
	// imagesHost is the image host named in testdata/events; end-to-end runs point it at a
	// loopback server that serves the emulator's sample cards.
	imagesHost = "https://images.example.com"
	fileFront  = "cloud://prod-4g8a2c1f.7072-prod-4g8a2c1f-1316000000/cards/front.png"
	fileBack   = "cloud://prod-4g8a2c1f.7072-prod-4g8a2c1f-1316000000/cards/back.png"
	frontID    = "440305199505132561"
)

type envConfig struct {
	secret       string // the secret the function uses (the emulator accepts DefaultSecret)
	rateLimit    int
	now          func() time.Time
	cloudHosting bool
	// requestTimeout is handler.Options.RequestTimeout (0: the default).
	requestTimeout time.Duration
	maxInflight    int64 // handler.Options.MaxInflightBytes
}

// testEnv is the whole function over loopback: the emulator, the real wechat client and
// token manager, the SSRF-safe fetcher, the ocr service and the handler on httptest servers.
type testEnv struct {
	emu     *emulator.Emulator
	emuSrv  *httptest.Server
	imgSrv  *httptest.Server
	imgHits *counter
	mgr     *token.Manager
	h       *handler.Handler
	srv     *httptest.Server
	logs    *syncbuf.Buffer
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newEnv(t *testing.T, mods ...func(*envConfig)) *testEnv {
	t.Helper()
	cfg := envConfig{secret: emulator.DefaultSecret}
	for _, m := range mods {
		m(&cfg)
	}
	files := emulator.SampleFiles()
	e := &testEnv{logs: &syncbuf.Buffer{}, imgHits: &counter{}}
	e.emu = emulator.New(emulator.Options{Files: files})
	e.emuSrv = httptest.NewServer(e.emu.Handler())
	t.Cleanup(e.emuSrv.Close)
	fileSrv := http.FileServerFS(files)
	e.imgSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.imgHits.inc()
		fileSrv.ServeHTTP(w, r)
	}))
	t.Cleanup(e.imgSrv.Close)

	quiet := slog.New(slog.DiscardHandler)
	fetcher := wechat.NewStableTokenFetcher(emulator.DefaultAppID, cfg.secret, wechat.WithBaseURL(e.emuSrv.URL), wechat.WithLogger(quiet))
	mgr, err := token.NewManager(emulator.DefaultAppID, fetcher, token.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	e.mgr = mgr
	wx, err := wechat.New(mgr, wechat.WithBaseURL(e.emuSrv.URL), wechat.WithBackoff(time.Millisecond, 5*time.Millisecond),
		wechat.WithTimeout(5*time.Second), wechat.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	policy := imagesrc.Policy{TrustedHosts: []string{hostOf(e.imgSrv.URL), hostOf(e.emuSrv.URL)}}
	svc, err := ocr.New(ocr.Options{WeChat: wx, Images: imagesrc.NewFetcher(policy), URLPolicy: policy, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	e.h, err = handler.New(handler.Options{
		Service: svc, Refresher: mgr, APIKeys: []string{"other-key", apiKey}, AdminKeys: []string{adminKey},
		RateLimitPerMinute: cfg.rateLimit, Logger: logger, Now: cfg.now, Version: "test", CloudHosting: cfg.cloudHosting,
		RequestTimeout: cfg.requestTimeout, MaxInflightBytes: cfg.maxInflight,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// response is a decoded API body, success or error.
type response struct {
	OK        bool   `json:"ok"`
	RequestID string `json:"requestId"`
	Provider  string `json:"provider"`
	Side      string `json:"side"`
	Verdict   string `json:"verdict"`
	Card      struct {
		Name      *string `json:"name"`
		IDNumber  *string `json:"idNumber"`
		ValidFrom *string `json:"validFrom"`
		ValidTo   *string `json:"validTo"`
		LongTerm  *bool   `json:"longTerm"`
	} `json:"card"`
	Checks   []json.RawMessage `json:"checks"`
	Warnings []string          `json:"warnings"`
	Refresh  *struct {
		Refreshed bool   `json:"refreshed"`
		Source    string `json:"source"`
	} `json:"refresh"`
	Error *struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		Retryable  bool   `json:"retryable"`
		RetryAfter int64  `json:"retryAfter"`
		Upstream   *struct {
			Provider string `json:"provider"`
			Code     string `json:"code"`
			Message  string `json:"message"`
		} `json:"upstream"`
	} `json:"error"`
}

func (r *response) code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func decodeResponse(t *testing.T, body []byte) *response {
	t.Helper()
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON: %v: %.300s", err, body)
	}
	if r.RequestID == "" {
		t.Errorf("response without requestId: %.300s", body)
	}
	if !r.OK && r.Error == nil {
		t.Errorf("ok:false without error: %.300s", body)
	}
	return &r
}

// do sends one HTTP request to the handler over loopback.
func (e *testEnv) do(t *testing.T, method, path, contentType, key string, body io.Reader) (*http.Response, *response) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp, decodeResponse(t, b)
}

func (e *testEnv) postJSON(t *testing.T, body string) (*http.Response, *response) {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/idcard", "application/json", apiKey, strings.NewReader(body))
}

func (e *testEnv) ocrCalls() int { return e.emu.Stats().Calls[emulator.PathOCRIDCard] }

// invoke runs one event through Invoke as scf-go-lib would, with an invocation context.
func (e *testEnv) invoke(t *testing.T, ctx context.Context, event []byte, environment map[string]string) (json.RawMessage, error) {
	t.Helper()
	ctx = functioncontext.NewContext(ctx, &functioncontext.FunctionContext{
		RequestID: "", Environment: environment, FunctionName: "idcard-ocr",
	})
	return e.h.Invoke(ctx, event)
}

// integration decodes an integration response and its body.
func integration(t *testing.T, raw json.RawMessage) (int, map[string]string, *response) {
	t.Helper()
	var ir struct {
		IsBase64Encoded bool              `json:"isBase64Encoded"`
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
	}
	if err := json.Unmarshal(raw, &ir); err != nil {
		t.Fatalf("not an integration response: %v: %.300s", err, raw)
	}
	if ir.Body == nil || ir.StatusCode == 0 || ir.IsBase64Encoded {
		t.Fatalf("not an integration response: %.300s", raw)
	}
	return ir.StatusCode, ir.Headers, decodeResponse(t, []byte(*ir.Body))
}

func eventFile(t *testing.T, e *testEnv, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	// The events name a public image host; here it is the loopback image server.
	return bytes.ReplaceAll(b, []byte(imagesHost), []byte(e.imgSrv.URL))
}

var caller = map[string]string{
	"WX_OPENID": "oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE", "WX_APPID": emulator.DefaultAppID,
	"WX_CLIENTIP": "203.0.113.9", "WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID,WX_CLIENTIP",
}

func TestEventsEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	httpEvents := []struct {
		file, side, requestID string
		status                int
	}{
		{"apigw-post-idcard.json", "front", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", 200},
		{"apigw-base64-body.json", "back", "9b1d2f44-0e6a-4c55-8d0e-2b7d4a9e6f10", 200},
		{"apigw-querystring-variants.json", "", "3f0d6a7e-1c2b-4b8e-9a55-7d2e8c4b1a90", 200},
		{"function-url-post.json", "front", "", 200},
		{"cloudbase-http.json", "both", "0b8a7c6d5e4f3a2b1c0d", 200},
	}
	for _, tt := range httpEvents {
		t.Run(tt.file, func(t *testing.T) {
			out, err := e.invoke(t, ctx, eventFile(t, e, tt.file), nil)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			status, headers, r := integration(t, out)
			if status != tt.status || !r.OK {
				t.Fatalf("status %d, body %+v", status, r.Error)
			}
			if tt.requestID != "" && (r.RequestID != tt.requestID || headers["X-Request-Id"] != tt.requestID) {
				t.Errorf("request ID = %q / header %q, want %q", r.RequestID, headers["X-Request-Id"], tt.requestID)
			}
			if r.RequestID != headers["X-Request-Id"] {
				t.Errorf("body requestId %q != header %q", r.RequestID, headers["X-Request-Id"])
			}
			if r.Side != tt.side {
				t.Errorf("side = %q, want %q", r.Side, tt.side)
			}
			if tt.side == "front" || tt.side == "both" {
				if r.Card.IDNumber == nil || *r.Card.IDNumber != frontID {
					t.Errorf("idNumber = %v", r.Card.IDNumber)
				}
			}
			if tt.side == "back" || tt.side == "both" {
				if r.Card.ValidFrom == nil || *r.Card.ValidFrom != "2019-03-08" {
					t.Errorf("validFrom = %v", r.Card.ValidFrom)
				}
			}
			if tt.side == "back" && r.Card.IDNumber != nil {
				t.Errorf("a back side carries an idNumber: %v", *r.Card.IDNumber)
			}
		})
	}

	callEvents := []struct{ file, side string }{
		{"callfunction-fileid.json", "front"},
		{"callfunction-imageurl.json", "back"},
		{"callfunction-both-sides.json", "both"},
		{"callfunction-legacy-userinfo.json", "front"},
	}
	for _, tt := range callEvents {
		t.Run(tt.file, func(t *testing.T) {
			env := caller
			if strings.Contains(tt.file, "legacy") {
				env = nil // older runtimes: identity only in the event's userInfo
			}
			out, err := e.invoke(t, ctx, eventFile(t, e, tt.file), env)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			r := decodeResponse(t, out)
			if !r.OK || r.Side != tt.side || r.Provider != "wechat" {
				t.Fatalf("response = %s", out)
			}
			if r.Checks == nil || r.Warnings == nil || r.Verdict == "" {
				t.Errorf("checks/warnings/verdict missing: %s", out)
			}
		})
	}

	t.Run("both sides verdict", func(t *testing.T) {
		out, _ := e.invoke(t, ctx, eventFile(t, e, "callfunction-both-sides.json"), caller)
		r := decodeResponse(t, out)
		if r.Verdict != "pass" {
			t.Errorf("verdict of a consistent front and back = %q: %s", r.Verdict, out)
		}
	})

	t.Run("timer.json", func(t *testing.T) {
		out, err := e.invoke(t, ctx, eventFile(t, e, "timer.json"), map[string]string{"TRIGGER_SRC": "timer"})
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		r := decodeResponse(t, out)
		if !r.OK || r.Refresh == nil || r.Refresh.Source == "" {
			t.Fatalf("timer response = %s", out)
		}
		tok, err := e.mgr.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), tok.Value) {
			t.Errorf("the refresh report leaks the token: %s", out)
		}
	})
}

func TestMalformedEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tt := range []struct {
		file string
		http bool
	}{
		{"malformed-truncated.json", false},
		{"malformed-not-object.json", false},
		{"malformed-apigw-querystring-object.json", true},
		{"malformed-apigw-bad-base64.json", true},
		{"malformed-apigw-bad-json-body.json", true},
		{"malformed-callfunction-two-images.json", false},
		{"malformed-callfunction-bad-base64.json", false},
		{"malformed-callfunction-unknown-side.json", false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			out, err := e.invoke(t, ctx, eventFile(t, e, tt.file), caller)
			if err != nil {
				t.Fatalf("Invoke returned a Go error for bad input: %v", err)
			}
			var r *response
			if tt.http {
				var status int
				status, _, r = integration(t, out)
				if status != 400 {
					t.Errorf("status = %d, want 400", status)
				}
			} else {
				r = decodeResponse(t, out)
			}
			if r.OK || r.code() != "INVALID_REQUEST" {
				t.Errorf("response = %s", out)
			}
		})
	}
	if n := e.ocrCalls(); n != 0 {
		t.Errorf("malformed events made %d OCR calls", n)
	}
}

// codes records which error codes the tests below provoked.
var (
	codesMu   sync.Mutex
	codesSeen = map[string]bool{}
)

func sawCode(t *testing.T, r *response, want string) {
	t.Helper()
	if r.OK || r.code() != want {
		var msg string
		if r.Error != nil {
			msg = r.Error.Message
		}
		t.Fatalf("code = %q (%s), want %s", r.code(), msg, want)
	}
	codesMu.Lock()
	codesSeen[want] = true
	codesMu.Unlock()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(emulator.SampleFiles(), "cards/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
