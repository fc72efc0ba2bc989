// Package emulator is an in-memory stand-in for the WeChat server APIs this project calls:
// access tokens (legacy and stable), cloud-storage download URLs and ID-card OCR, and for
// Tencent Cloud OCR's IDCardOCR (API 3.0 with TC3-HMAC-SHA256 signature verification, see
// tencent.go and tc3.go). It serves them
// over net/http so that clients are exercised exactly as in production, plus test controls under
// /_emulator/ (fault injection, call statistics, file serving).
//
// Recognition contract: a PNG whose tEXt chunk has keyword "idcard-emulator" and a JSON object
// of WeChat response fields as text (or a JPEG with that JSON in a COM segment) is recognised
// as that card; any other decodable image answers 101001, undecodable or oversized data 101002.
// See testdata/cards/README.md.
//
// The emulator fetches whatever img_url it is given: it is a test tool and must not be exposed.
package emulator

import (
	"crypto/rand"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Default credentials accepted when Options leaves them empty (the sandbox's dummy app).
const (
	DefaultAppID  = "wxsandbox0000000001"
	DefaultSecret = "sandbox-secret-not-for-production"
)

// MaxImageBytes is WeChat's image limit for cv/ocr/idcard; larger images answer 101002.
const MaxImageBytes = 2 << 20

// Endpoint paths, as keys of Stats.Calls and values of Fault.Endpoint.
const (
	PathToken       = "/cgi-bin/token"
	PathStableToken = "/cgi-bin/stable_token"
	PathBatchDL     = "/tcb/batchdownloadfile"
	PathOCRIDCard   = "/cv/ocr/idcard"
	PathFiles       = "/_emulator/files"
	PathFaults      = "/_emulator/faults"
	PathStats       = "/_emulator/stats"
)

// Options configure an Emulator. Zero values select the defaults named on each field.
type Options struct {
	// AppID and Secret are the only credentials the token endpoints accept
	// (defaults DefaultAppID, DefaultSecret).
	AppID, Secret string
	// TokenTTL is the lifetime of every issued token (default 7200 s). A stable token is
	// replaced once less than 5 minutes remain, or half the TTL when the TTL is under 10
	// minutes, so that short test TTLs still exercise reuse.
	TokenTTL time.Duration
	// Files backs cloud://<env>.<bucket>/<path>: the file is Files/<path> for any env and
	// bucket. Pass os.DirFS(dir), or SampleFiles(). Nil means no file exists.
	Files fs.FS
	// Now is the clock for token lifetimes, quotas and download-URL expiry (default time.Now).
	Now func() time.Time
	// Logger receives one record per request; it never gets tokens, secrets, query strings or
	// image data (default: discard).
	Logger *slog.Logger
	// HTTPClient fetches img_url (default: a client with FetchTimeout). A sandbox that serves
	// the emulator without a socket can route fetches back to Handler with a custom transport.
	HTTPClient *http.Client
	// FetchTimeout bounds one img_url fetch, whichever client is used (default 5 s).
	FetchTimeout time.Duration
	// LegacyDailyLimit caps /cgi-bin/token issues per day (default 2000, as WeChat).
	LegacyDailyLimit int
	// ForceRefreshDailyLimit caps stable_token force_refresh per day (default 20).
	ForceRefreshDailyLimit int
	// ForceRefreshInterval is the minimum spacing of force refreshes (default 30 s).
	ForceRefreshInterval time.Duration
	// OpenInterface accepts API calls that carry no token parameter at all, as WeChat Cloud
	// Hosting's open interface service does for calls from inside the container (the
	// platform authenticates the container, not the call). A token that is present is still
	// checked.
	OpenInterface bool
	// TencentSecretID and TencentSecretKey are the only Tencent Cloud key pair IDCardOCR
	// accepts (defaults DefaultTencentSecretID, DefaultTencentSecretKey). TencentToken, when
	// set, makes them temporary keys: requests must carry it as X-TC-Token.
	TencentSecretID, TencentSecretKey, TencentToken string
}

// Stats counts what the emulator has served since New.
type Stats struct {
	// Calls counts requests per endpoint path, including ones answered by an injected fault.
	Calls map[string]int `json:"calls"`
	// TokensIssued counts new tokens from both token endpoints (a stable_token call that
	// returns the current token does not issue one).
	TokensIssued int `json:"tokensIssued"`
}

// Emulator is the WeChat API emulator. All state is in memory; it is safe for concurrent use.
type Emulator struct {
	appID, secret string
	ttl           time.Duration
	files         fs.FS
	now           func() time.Time
	log           *slog.Logger
	client        *http.Client
	fetchTimeout  time.Duration
	legacyLimit   int
	forceLimit    int
	forceGap      time.Duration
	open          bool
	signKey       []byte
	handler       http.Handler

	tcSecretID, tcSecretKey, tcToken string

	// sleep waits for an injected delay; tests replace it to observe the requested duration.
	sleep func(r *http.Request, d time.Duration) bool

	mu     sync.Mutex
	tokens map[string]*tokenRecord
	legacy legacyState
	stable stableState
	calls  map[string]int
	issued int
	faults map[string][]*Fault
}

// New returns an emulator configured by o.
func New(o Options) *Emulator {
	e := &Emulator{
		appID:       o.AppID,
		secret:      o.Secret,
		ttl:         o.TokenTTL,
		files:       o.Files,
		now:         o.Now,
		log:         o.Logger,
		client:      o.HTTPClient,
		legacyLimit: o.LegacyDailyLimit,
		forceLimit:  o.ForceRefreshDailyLimit,
		forceGap:    o.ForceRefreshInterval,
		open:        o.OpenInterface,
		tokens:      make(map[string]*tokenRecord),
		calls:       make(map[string]int),
		faults:      make(map[string][]*Fault),
		sleep:       sleepCtx,
		tcSecretID:  o.TencentSecretID,
		tcSecretKey: o.TencentSecretKey,
		tcToken:     o.TencentToken,
	}
	if e.tcSecretID == "" {
		e.tcSecretID = DefaultTencentSecretID
	}
	if e.tcSecretKey == "" {
		e.tcSecretKey = DefaultTencentSecretKey
	}
	if e.appID == "" {
		e.appID = DefaultAppID
	}
	if e.secret == "" {
		e.secret = DefaultSecret
	}
	if e.ttl <= 0 {
		e.ttl = 7200 * time.Second
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.fetchTimeout = o.FetchTimeout
	if e.fetchTimeout <= 0 {
		e.fetchTimeout = 5 * time.Second
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	if e.legacyLimit <= 0 {
		e.legacyLimit = 2000
	}
	if e.forceLimit <= 0 {
		e.forceLimit = 20
	}
	if e.forceGap <= 0 {
		e.forceGap = 30 * time.Second
	}
	e.signKey = make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, e.signKey); err != nil {
		panic("emulator: crypto/rand: " + err.Error()) // crypto/rand does not fail on supported platforms
	}

	mux := http.NewServeMux()
	mux.Handle(PathToken, e.api(PathToken, e.serveToken))
	mux.Handle(PathStableToken, e.api(PathStableToken, e.serveStableToken))
	mux.Handle(PathBatchDL, e.api(PathBatchDL, e.serveBatchDownload))
	mux.Handle(PathOCRIDCard, e.api(PathOCRIDCard, e.serveOCR))
	mux.Handle(PathFiles+"/", e.api(PathFiles, e.serveFile))
	// Tencent Cloud API 3.0 posts every action to the root path.
	mux.Handle("/{$}", e.api(PathTencentCloud, e.serveTencent))
	mux.HandleFunc(PathFaults, e.serveFaults)
	mux.HandleFunc(PathStats, e.serveStats)
	e.handler = mux
	return e
}

// Handler serves every endpoint: the WeChat APIs, file downloads and the /_emulator/ controls.
func (e *Emulator) Handler() http.Handler { return e.handler }

// Stats returns a snapshot of the call counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	calls := make(map[string]int, len(e.calls))
	for k, v := range e.calls {
		calls[k] = v
	}
	return Stats{Calls: calls, TokensIssued: e.issued}
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status  int
	errcode int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Hijack on the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// api wraps an endpoint: count the call, apply a pending fault, log the outcome. Only the
// path is logged: query strings carry access tokens and secrets.
func (e *Emulator) api(endpoint string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e.mu.Lock()
		e.calls[endpoint]++
		f := e.takeFault(endpoint)
		e.mu.Unlock()

		sw := &statusWriter{ResponseWriter: w}
		outcome := "served"
		if f != nil {
			outcome = "fault"
			if !e.applyFault(sw, r, f) {
				h(sw, r)
				outcome = "served after fault delay"
			}
		} else {
			h(sw, r)
		}
		e.log.LogAttrs(r.Context(), slog.LevelDebug, "emulator request",
			slog.String("method", r.Method),
			slog.String("endpoint", endpoint),
			slog.Int("status", sw.status),
			slog.Int("errcode", sw.errcode),
			slog.String("outcome", outcome),
			slog.Duration("latency", time.Since(start)),
		)
	})
}
