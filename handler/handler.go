// Package handler is the function's edge: the HTTP API (POST /v1/idcard, GET /healthz,
// POST /v1/token/refresh) and the SCF entry point Invoke, which decodes each event once
// (package events says whether it is API Gateway, a Function URL, CloudBase HTTP access, a
// timer or a wx.cloud.callFunction) and runs every HTTP event through the same http.Handler
// that the serve command uses. Request bodies are decoded once too, imageBase64 straight into
// image bytes; what a request must look like is the recognition service's rule
// (ocr.Request.Validate), not the handler's.
package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/events"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/internal/redact"
	"github.com/wxocr/scf-idcard-ocr/ocr"
	"github.com/wxocr/scf-idcard-ocr/ratelimit"
	"github.com/wxocr/scf-idcard-ocr/token"
)

// Recognizer is the recognition service (*ocr.Service).
type Recognizer interface {
	Recognize(ctx context.Context, req ocr.Request) (*ocr.Result, error)
}

// The ports the handler consumes and the one it serves, checked at compile time.
var (
	_ Recognizer   = (*ocr.Service)(nil)
	_ Refresher    = (*token.Manager)(nil)
	_ http.Handler = (*Handler)(nil)
)

// DefaultMaxImageBytes is the image size limit when Options.MaxImageBytes is zero: WeChat's.
const DefaultMaxImageBytes = 2 << 20

// Options configures a Handler. Service is required; everything else has a default.
type Options struct {
	// Service recognises images.
	Service Recognizer
	// Refresher refreshes the access token for timer events and POST /v1/token/refresh; nil
	// answers both with an INTERNAL error saying no refresher is configured.
	Refresher Refresher
	// RefreshLead is how long before expiry a refresh replaces the token (default 30m).
	RefreshLead time.Duration
	// APIKeys are accepted on the HTTP API as "Authorization: Bearer <key>".
	APIKeys []string
	// AdminKeys are accepted on POST /v1/token/refresh.
	AdminKeys []string
	// AuthDisabled turns key checks off: the sandbox only.
	AuthDisabled bool
	// CloudHosting says the handler runs behind WeChat Cloud Hosting (云托管), whose gateway
	// sets X-WX-SOURCE and X-WX-OPENID (or X-WX-FROM-OPENID, for a Mini Program sharing the
	// environment) on wx.cloud.callContainer requests. Only then is such a request to
	// POST /v1/idcard taken as that Mini Program user's, like a cloud call: no API key, rate
	// limited per openid. Anywhere else a client could forge the headers, so they are ignored.
	CloudHosting bool
	// RateLimitPerMinute is each caller's budget per minute, enforced per instance (an
	// in-memory token bucket) when Limiter is nil; 0 = off. Give it or Limiter, not both.
	RateLimitPerMinute int
	// Limiter, when set, decides the rate limit: ratelimit.New's limiter, which shares the
	// budget through Redis and falls back to memory by itself. A limiter that still cannot
	// decide gets the request refused (RATE_LIMITED, retry in 1 s), never served unlimited.
	Limiter ratelimit.Limiter
	// DailyLimiter, when set, is each caller's daily limit (a *quota.Daily, which counts in
	// memory while its store is down), asked after the per-minute limit lets a request
	// through.
	DailyLimiter ratelimit.Limiter
	// MaxImageBytes is the largest image accepted (default DefaultMaxImageBytes); request
	// bodies are capped from it.
	MaxImageBytes int64
	// Logger receives one line per request (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Version is reported by /healthz.
	Version string
	// RequestTimeout is the one deadline of a request, shared by all its upstream calls and
	// retries (default DefaultRequestTimeout); Invoke also stops a margin before the
	// platform's deadline.
	RequestTimeout time.Duration
	// MaxInflightBytes bounds the request body bytes that HTTP requests served by ServeHTTP
	// hold at once; a request over it is answered OVERLOADED. 0 means no bound.
	MaxInflightBytes int64
}

// Handler serves the HTTP API and SCF events.
type Handler struct {
	svc          Recognizer
	refresher    Refresher
	lead         time.Duration
	apiKeys      keySet
	adminKeys    keySet
	authDisabled bool
	cloudHosting bool
	limiter      ratelimit.Limiter // nil: off
	daily        ratelimit.Limiter // nil: off
	maxImage     int64
	jsonOpts     jsonv2.Options // decodes request JSON (jsonOptions)
	log          *slog.Logger
	now          func() time.Time
	version      string

	requestTimeout time.Duration
	inflight       *inflight // nil: no bound
}

// New checks the options and builds a Handler.
func New(o Options) (*Handler, error) {
	if o.Service == nil {
		return nil, errors.New("handler: Options.Service is required")
	}
	if o.RateLimitPerMinute < 0 {
		return nil, fmt.Errorf("handler: RateLimitPerMinute must be >= 0, got %d", o.RateLimitPerMinute)
	}
	if o.Limiter != nil && o.RateLimitPerMinute != 0 {
		return nil, errors.New("handler: give RateLimitPerMinute or a Limiter, not both (the Limiter has its own budget)")
	}
	if o.MaxImageBytes < 0 {
		return nil, fmt.Errorf("handler: MaxImageBytes must be >= 0, got %d", o.MaxImageBytes)
	}
	if o.MaxInflightBytes < 0 {
		return nil, fmt.Errorf("handler: MaxInflightBytes must be >= 0, got %d", o.MaxInflightBytes)
	}
	if o.RequestTimeout < 0 {
		return nil, fmt.Errorf("handler: RequestTimeout must be >= 0, got %s", o.RequestTimeout)
	}
	if o.RefreshLead < 0 {
		return nil, fmt.Errorf("handler: RefreshLead must be >= 0, got %s", o.RefreshLead)
	}
	h := &Handler{
		svc:          o.Service,
		refresher:    o.Refresher,
		lead:         o.RefreshLead,
		apiKeys:      newKeySet(o.APIKeys),
		adminKeys:    newKeySet(o.AdminKeys),
		authDisabled: o.AuthDisabled,
		cloudHosting: o.CloudHosting,
		limiter:      o.Limiter,
		daily:        o.DailyLimiter,
		maxImage:     o.MaxImageBytes,
		log:          o.Logger,
		now:          o.Now,
		version:      o.Version,

		requestTimeout: o.RequestTimeout,
		inflight:       newInflight(o.MaxInflightBytes),
	}
	if h.requestTimeout == 0 {
		h.requestTimeout = DefaultRequestTimeout
	}
	if h.lead == 0 {
		h.lead = 30 * time.Minute
	}
	if h.maxImage == 0 {
		h.maxImage = DefaultMaxImageBytes
	}
	h.jsonOpts = jsonOptions(h.maxImage)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if o.RateLimitPerMinute > 0 {
		h.limiter = ratelimit.NewMemory(o.RateLimitPerMinute, h.now)
	}
	return h, nil
}

// reqInfo travels in the request context from the entry point to the log line.
type reqInfo struct {
	id       string
	kind     events.Kind
	openID   string // Mini Program caller, from the invocation context
	clientIP string
	start    time.Time

	// filled while serving, for the log line
	caller   string
	source   string
	side     string
	verdict  string
	provider string
	reason   string
	cached   bool
	maskedID string
	status   int
	code     string
	err      error

	// closeOnError: an HTTP request with a body that an error answer may leave unread. The
	// connection is closed after such an answer, so that net/http does not read (up to
	// 256 KB of) a body the function has refused, at whatever pace its sender chooses.
	// Legitimate clients pay one reconnection after an error.
	closeOnError bool
}

// kindHTTP is the log's event kind of a request to ServeHTTP that did not come through Invoke.
const kindHTTP events.Kind = "http"

type ctxKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(ctxKey{}).(*reqInfo)
	return ri
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ServeHTTP serves the HTTP API. Requests from Invoke arrive with their request ID, event
// kind and caller already in the context; direct requests get a fresh ID.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := infoFrom(r.Context())
	if ri == nil {
		ri = &reqInfo{id: newRequestID(), kind: kindHTTP, clientIP: remoteHost(r.RemoteAddr), start: h.now(),
			closeOnError: r.ContentLength != 0}
		ctx, cancel := h.withDeadline(r.Context())
		defer cancel()
		r = r.WithContext(context.WithValue(ctx, ctxKey{}, ri))
		defer h.logRequest(ri)
	}
	w.Header().Set("X-Request-Id", ri.id)
	defer func() {
		if p := recover(); p != nil {
			if err, _ := p.(error); errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			h.log.Error("panic while serving", "requestId", ri.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.writeError(w, ri, apperr.Wrap(apperr.Internal, fmt.Errorf("panic: %v", p), "internal error"))
		}
	}()
	switch route(r.URL.Path) {
	case "/healthz":
		if !allowMethod(w, r, ri, h, http.MethodGet, http.MethodHead) {
			return
		}
		h.writeJSON(w, ri, http.StatusOK, healthBody{OK: true, RequestID: ri.id, Version: h.version, Time: h.now().UTC().Format(time.RFC3339)})
	case "/v1/idcard":
		if !allowMethod(w, r, ri, h, http.MethodPost) {
			return
		}
		h.serveIDCard(w, r, ri)
	case "/v1/token/refresh":
		if !allowMethod(w, r, ri, h, http.MethodPost) {
			return
		}
		h.serveRefresh(w, r, ri)
	default:
		h.writeError(w, ri, apperr.Errorf(apperr.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	}
}

// routes are the endpoints ServeHTTP knows.
var routes = [...]string{"/v1/idcard", "/v1/token/refresh", "/healthz"}

// route maps a request path to its endpoint, or "" for none. Gateways pass paths with a
// prefix: API Gateway may add the stage, CloudBase HTTP access keeps the service's route
// prefix (/idcard-ocr/v1/idcard), and a web function behind a proxy sees whatever the proxy
// forwards. So a path matches an endpoint when it is the endpoint or ends with it after a
// '/'-bounded prefix; every endpoint starts with '/', which makes a suffix match exactly that
// (/xv1/idcard does not end with /v1/idcard). One trailing slash is ignored.
func route(path string) string {
	path = strings.TrimSuffix(path, "/")
	for _, r := range routes {
		if strings.HasSuffix(path, r) {
			return r
		}
	}
	return ""
}

type healthBody struct {
	OK        bool   `json:"ok"`
	RequestID string `json:"requestId"`
	Version   string `json:"version,omitempty"`
	Time      string `json:"time"`
}

func allowMethod(w http.ResponseWriter, r *http.Request, ri *reqInfo, h *Handler, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	h.writeError(w, ri, apperr.Errorf(apperr.MethodNotAllowed, "method %s is not allowed here; use %s", r.Method, strings.Join(methods, " or ")))
	return false
}

// authorize checks the bearer key against keys and records the caller for rate limiting.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, ri *reqInfo, keys keySet, what string) bool {
	if h.authDisabled {
		return true
	}
	key, ok := bearer(r)
	if ok && keys.match(key) {
		ri.caller = keyID(key)
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="idcard-ocr"`)
	msg := "missing or invalid API key: send Authorization: Bearer <key>"
	if what == "admin" {
		msg = "an admin key is required: send Authorization: Bearer <admin key>"
	}
	h.writeError(w, ri, apperr.Errorf(apperr.Unauthorized, "%s", msg))
	return false
}

// kindCloudHosting is the log's event kind of a wx.cloud.callContainer request.
const kindCloudHosting events.Kind = "cloudhosting"

// cloudHostingCaller takes the caller from Cloud Hosting's headers when the deployment runs
// behind it (Options.CloudHosting) and the request came through wx.cloud.callContainer: the
// platform's docs say to check that X-WX-SOURCE is present, and the user is X-WX-OPENID, or
// X-WX-FROM-OPENID when another Mini Program shares the environment. Source:
// developers.weixin.qq.com/miniprogram/dev/wxcloudrun/src/development/weixin/ (容器内变量信息).
func (h *Handler) cloudHostingCaller(r *http.Request, ri *reqInfo) bool {
	if !h.cloudHosting || r.Header.Get("X-WX-SOURCE") == "" {
		return false
	}
	openID := r.Header.Get("X-WX-OPENID")
	if openID == "" {
		openID = r.Header.Get("X-WX-FROM-OPENID")
	}
	if openID == "" {
		return false // e.g. an official-account page not logged in: no user, so a key is needed
	}
	ri.openID = openID
	ri.kind = kindCloudHosting
	if ip := strings.TrimSpace(r.Header.Get("X-Original-Forwarded-For")); ip != "" {
		ri.clientIP = ip
	}
	return true
}

// callerKey is who a rate limit applies to: the Mini Program user, else the API key, else
// the client address.
func callerKey(ri *reqInfo) string {
	switch {
	case ri.openID != "":
		return "openid:" + ri.openID
	case ri.caller != "":
		return ri.caller
	case ri.clientIP != "":
		return "ip:" + ri.clientIP
	}
	return "anonymous"
}

// rateLimit takes one request from the caller's budget; the error carries its RetryAfter,
// which writeError sends. Falling back when a store fails is the limiter's business
// (ratelimit.Fallback); a limiter that still cannot decide has the request refused, fail
// closed.
func (h *Handler) rateLimit(ctx context.Context, ri *reqInfo) error {
	key := callerKey(ri)
	for _, l := range [...]struct {
		limiter ratelimit.Limiter
		what    string
	}{{h.limiter, "too many requests"}, {h.daily, "the daily request limit is reached"}} {
		if l.limiter == nil {
			continue
		}
		ok, wait, err := l.limiter.Allow(ctx, key)
		if err != nil {
			e := apperr.Wrap(apperr.RateLimited, err, "the rate limit cannot be checked now: retry in 1 s")
			e.RetryAfter = time.Second
			return e
		}
		if !ok {
			// One rounding (apperr's, up to whole seconds) for the message, the Retry-After
			// header and a cloud call's retryAfter, so the three always agree.
			e := apperr.Errorf(apperr.RateLimited, "%s", l.what)
			e.RetryAfter = max(wait, time.Second)
			e.Message = fmt.Sprintf("%s: retry in %d s", l.what, e.RetryAfterSeconds())
			return e
		}
	}
	return nil
}

func (h *Handler) serveIDCard(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if h.cloudHostingCaller(r, ri) {
		// The platform also hands the request a temporary token of the environment's owner
		// for WeChat's APIs (容器内云调用, 方式一: X-WX-CLOUDBASE-ACCESS-TOKEN); the cloudbase
		// token source uses it before the pushed file. Only here, where the headers are trusted.
		r = r.WithContext(token.WithInvocationToken(r.Context(), r.Header.Get("X-WX-CLOUDBASE-ACCESS-TOKEN")))
	} else if !h.authorize(w, r, ri, h.apiKeys, "api") {
		return
	}
	if err := h.rateLimit(r.Context(), ri); err != nil {
		h.writeError(w, ri, err)
		return
	}
	if ri.kind == kindHTTP {
		// Served over HTTP, bodies arrive concurrently: admit this one only if its bytes fit.
		release, err := h.inflight.acquire(h.inflight.cost(r, h.maxImage))
		if err != nil {
			h.writeError(w, ri, err)
			return
		}
		defer release()
	}
	req, err := h.parseHTTPRequest(r)
	if err != nil {
		// A body that stops arriving fails as a read error once the deadline has passed.
		h.writeError(w, ri, ctxError(r.Context(), err))
		return
	}
	res, err := h.recognize(r.Context(), ri, req)
	if err != nil {
		h.writeError(w, ri, err)
		return
	}
	h.writeJSON(w, ri, http.StatusOK, res)
}

// recognize calls the service and records the outcome for the log line.
func (h *Handler) recognize(ctx context.Context, ri *reqInfo, req ocr.Request) (*resultBody, error) {
	if ri.source == "" {
		// The parsers name the sources (a decoded imageBase64 reaches the service as bytes).
		ri.source = sourceOf(req)
	}
	res, err := h.svc.Recognize(ctx, req)
	if err != nil {
		return nil, ctxError(ctx, err)
	}
	if res == nil {
		return nil, apperr.Errorf(apperr.Internal, "internal error")
	}
	ri.side = string(res.Side)
	ri.verdict = string(res.Verdict)
	ri.provider, ri.reason, ri.cached = res.Provider, res.ProviderReason, res.Cached
	if res.Card.IDNumber != nil {
		ri.maskedID = idcard.Mask(*res.Card.IDNumber)
	}
	return &resultBody{OK: true, RequestID: ri.id, Result: res}, nil
}

// resultBody is the success response: the transport's envelope around the service's result,
// whose fields are inlined: {"ok":true,"requestId","provider","side","card",…}.
type resultBody struct {
	OK        bool   `json:"ok"`
	RequestID string `json:"requestId"`
	*ocr.Result
}

func sourceOf(req ocr.Request) string {
	if req.Front != nil || req.Back != nil {
		name := func(im *ocr.Image) string {
			if im == nil {
				return "none"
			}
			return im.Source()
		}
		return "front=" + name(req.Front) + ",back=" + name(req.Back)
	}
	return req.Image.Source()
}

func (h *Handler) serveRefresh(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if !h.authorize(w, r, ri, h.adminKeys, "admin") {
		return
	}
	body, err := h.refresh(r.Context(), ri)
	if err != nil {
		h.writeError(w, ri, err)
		return
	}
	h.writeJSON(w, ri, http.StatusOK, body)
}

type refreshBody struct {
	OK        bool                `json:"ok"`
	RequestID string              `json:"requestId"`
	Refresh   token.RefreshReport `json:"refresh"`
}

func (h *Handler) refresh(ctx context.Context, ri *reqInfo) (*refreshBody, error) {
	if h.refresher == nil {
		return nil, apperr.Errorf(apperr.Internal, "token refresh is not configured")
	}
	rep, err := h.refresher.Refresh(ctx, h.lead)
	if err != nil {
		return nil, mapRefreshError(err)
	}
	return &refreshBody{OK: true, RequestID: ri.id, Refresh: rep}, nil
}

// mapRefreshError keeps application errors and makes the rest an UPSTREAM_AUTH: a refresh
// that fails without a more precise cause means WeChat would not give us a token.
func mapRefreshError(err error) *apperr.Error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Timeout, err, "the token refresh ran out of time")
	}
	return apperr.Wrap(apperr.UpstreamAuth, err, "the access token could not be refreshed")
}

// errorBody is the error response: {"ok":false,"requestId","error":{…}}.
type errorBody struct {
	OK        bool        `json:"ok"`
	RequestID string      `json:"requestId"`
	Error     errorDetail `json:"error"`
}

type errorDetail struct {
	Code      apperr.Code `json:"code"`
	Message   string      `json:"message"`
	Retryable bool        `json:"retryable"`
	// RetryAfter is the Retry-After header's seconds, for cloud calls, which have no headers.
	RetryAfter int64            `json:"retryAfter,omitempty"`
	Upstream   *apperr.Upstream `json:"upstream"`
}

func (h *Handler) errorBody(ri *reqInfo, err error) (*errorBody, *apperr.Error) {
	recordError(ri, err)
	ae := apperr.AsError(err)
	return &errorBody{RequestID: ri.id, Error: errorDetail{Code: ae.Code, Message: ae.Message, Retryable: ae.Retryable,
		RetryAfter: ae.RetryAfterSeconds(), Upstream: ae.Upstream}}, ae
}

// recordError notes err's code and cause on ri for the request's log line.
func recordError(ri *reqInfo, err error) {
	ri.code = string(apperr.AsError(err).Code)
	ri.err = err
}

func (h *Handler) writeError(w http.ResponseWriter, ri *reqInfo, err error) {
	body, ae := h.errorBody(ri, err)
	if body.Error.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(body.Error.RetryAfter, 10))
	}
	h.writeJSON(w, ri, ae.Code.Status(), body)
}

func (h *Handler) writeJSON(w http.ResponseWriter, ri *reqInfo, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a bug gets here (every body is a plain struct); answer with a fixed body.
		h.log.Error("encode response", "requestId", ri.id, "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"ok":false,"requestId":"` + ri.id + `","error":{"code":"INTERNAL","message":"internal error","retryable":false,"upstream":null}}`)
		ri.code = string(apperr.Internal)
	}
	ri.status = status
	if status >= 400 && ri.closeOnError {
		// Close instead of reading what is left of the body: Connection: close stops
		// net/http's drain before the answer, the past read deadline its read of up to
		// 256 KB after it. (Answers through Invoke have no connection; the call fails.)
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// logRequest writes the one line per request. It carries no personal data: the ID number
// only masked, never names, addresses, tokens or image bytes.
func (h *Handler) logRequest(ri *reqInfo) {
	outcome := ri.code
	if outcome == "" {
		outcome = "ok"
	}
	attrs := []slog.Attr{
		slog.String("requestId", ri.id),
		slog.String("event", string(ri.kind)),
		slog.Int64("latencyMs", h.now().Sub(ri.start).Milliseconds()),
		slog.String("outcome", outcome),
	}
	if ri.status != 0 {
		attrs = append(attrs, slog.Int("status", ri.status))
	}
	if ri.source != "" {
		attrs = append(attrs, slog.String("source", ri.source))
	}
	if ri.side != "" {
		attrs = append(attrs, slog.String("side", ri.side))
	}
	if ri.provider != "" {
		// Which provider answered and why (a failover's reason), or that the cache did.
		attrs = append(attrs, slog.String("provider", ri.provider), slog.String("providerReason", ri.reason), slog.Bool("cached", ri.cached))
	}
	if ri.verdict != "" {
		attrs = append(attrs, slog.String("verdict", ri.verdict))
	}
	if ri.maskedID != "" {
		attrs = append(attrs, slog.String("idNumber", ri.maskedID))
	}
	level := slog.LevelInfo
	if ri.err != nil {
		// The internal detail of an error (wrapped causes) is logged, never returned.
		// Last guard: whatever error reached here, no signed URL query leaves in the log.
		attrs = append(attrs, slog.String("err", redact.Text(ri.err.Error())))
		if ae := apperr.AsError(ri.err); ae.Code == apperr.Internal {
			level = slog.LevelError
		}
	}
	h.log.LogAttrs(context.Background(), level, "request", attrs...)
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
