package handler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/events"
	"github.com/wxocr/scf-idcard-ocr/token"
)

// Refresher refreshes the shared access token when it expires within lead; *token.Manager
// implements it. The report is returned to the caller as JSON.
type Refresher interface {
	Refresh(ctx context.Context, lead time.Duration) (token.RefreshReport, error)
}

// invokeEvent is everything Invoke reads from an event, filled by one decode: the
// platform's fields and a cloud call's data side by side.
type invokeEvent struct {
	events.Event `json:",inline"`
	requestJSON  `json:",inline"`
}

// Invoke is the single SCF entry point, for cloudfunction.Start(h.Invoke). It decodes the
// event once, recognises its kind (events.Decode), answers HTTP events with an integration
// response, cloud calls with the same JSON objects as the HTTP API, and timers by refreshing
// the token. Bad input is answered, never returned as a Go error; only a timer whose refresh
// fails is an error, so that the platform records the invocation as failed.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (out json.RawMessage, err error) {
	ri := &reqInfo{start: h.now()}
	var inv events.Invocation
	var cloudBaseToken string
	if fc, ok := functioncontext.FromContext(ctx); ok && fc != nil {
		inv = events.NewInvocation(fc.RequestID, fc.Environment)
		cloudBaseToken = fc.Environment["WX_CLOUDBASE_ACCESSTOKEN"]
	}
	ri.id = inv.RequestID
	ri.openID = inv.OpenID
	ri.clientIP = inv.ClientIP
	// A CloudBase access token the platform put into this invocation's context (never the
	// event, which the caller writes) serves this invocation's WeChat calls when
	// TOKEN_SOURCE=cloudbase, before the pushed file, as @cloudbase/node-sdk does.
	ctx = token.WithInvocationToken(ctx, cloudBaseToken)

	var ev invokeEvent
	kind, derr := events.Decode(event, &ev, inv, h.jsonOpts)
	ri.kind = kind
	if ri.id == "" && ev.RequestContext != nil {
		ri.id = string(ev.RequestContext.RequestID)
	}
	if ri.id == "" {
		ri.id = newRequestID()
	}
	defer h.logRequest(ri)
	if derr != nil {
		var ae *apperr.Error
		if !errors.As(derr, &ae) { // an imageBase64 that did not decode keeps its own code
			ae = apperr.Wrap(apperr.InvalidRequest, derr, "malformed event: %s", eventErrorText(derr))
		}
		switch {
		case kind.IsHTTP():
			return h.integrationError(ri, ae)
		case kind == events.KindTimer:
			recordError(ri, ae) // for the log line; the platform gets derr
			return nil, derr
		}
		return h.callError(ri, ae)
	}
	ctx, cancel := h.withDeadline(ctx)
	defer cancel()
	ctx = context.WithValue(ctx, ctxKey{}, ri)
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic while invoking", "requestId", ri.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ae := apperr.Wrap(apperr.Internal, fmt.Errorf("panic: %v", p), "internal error")
			if kind.IsHTTP() {
				out, err = h.integrationError(ri, ae)
			} else {
				out, err = h.callError(ri, ae)
			}
		}
	}()

	switch {
	case kind == events.KindTimer:
		body, rerr := h.refresh(ctx, ri)
		if rerr != nil {
			recordError(ri, rerr) // for the log line; the platform gets the wrapped error
			return nil, fmt.Errorf("timer %q: refresh token: %w", ev.TriggerName, rerr)
		}
		return marshalRaw(body)
	case kind.IsHTTP():
		return h.serveEvent(ctx, ri, &ev.HTTPRequest)
	}
	return h.serveCall(ctx, ri, &ev.requestJSON)
}

// eventErrorText describes an event's decoding error without echoing the input: what the
// JSON decoder found, or the events package's own words ("httpMethod is blank").
func eventErrorText(err error) string {
	if text := jsonErrorText(err); text != "" {
		return text
	}
	return err.Error()
}

// serveCall answers a wx.cloud.callFunction: the platform has authenticated the caller, so
// only the rate limit applies.
func (h *Handler) serveCall(ctx context.Context, ri *reqInfo, data *requestJSON) (json.RawMessage, error) {
	ri.source = data.source()
	if data.UserInfo != nil && ri.openID == "" {
		// Older runtimes carry the caller in the event; the platform fills userInfo.
		ri.openID = data.UserInfo.OpenID
	}
	if lerr := h.rateLimit(ctx, ri); lerr != nil {
		return h.callError(ri, lerr)
	}
	res, err := h.recognize(ctx, ri, data.request())
	if err != nil {
		return h.callError(ri, err)
	}
	ri.status = http.StatusOK
	return marshalRaw(res)
}

func (h *Handler) callError(ri *reqInfo, err error) (json.RawMessage, error) {
	body, ae := h.errorBody(ri, err)
	ri.status = ae.Code.Status()
	return marshalRaw(body)
}

func marshalRaw(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b, nil
}

// serveEvent runs an HTTP-shaped event through ServeHTTP and returns the integration
// response.
func (h *Handler) serveEvent(ctx context.Context, ri *reqInfo, ev *events.HTTPRequest) (json.RawMessage, error) {
	r, err := eventRequest(ctx, ev)
	if err != nil {
		return h.integrationError(ri, apperr.Wrap(apperr.InvalidRequest, err, "malformed HTTP event: %s", err.Error()))
	}
	ri.clientIP = clientIP(ev, ri.clientIP)
	r.RemoteAddr = ri.clientIP
	rec := &recorder{header: make(http.Header, 4)}
	h.ServeHTTP(rec, r)
	return rec.response()
}

func (h *Handler) integrationError(ri *reqInfo, err error) (json.RawMessage, error) {
	body, ae := h.errorBody(ri, err)
	rec := &recorder{header: make(http.Header, 4)}
	rec.header.Set("X-Request-Id", ri.id)
	h.writeJSON(rec, ri, ae.Code.Status(), body)
	return rec.response()
}

// eventRequest builds the *http.Request an HTTP event describes. The body is read from the
// event's string without copying it (and decoded on the fly when it is base64).
func eventRequest(ctx context.Context, ev *events.HTTPRequest) (*http.Request, error) {
	method := strings.ToUpper(strings.TrimSpace(ev.HTTPMethod))
	path := ev.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	q := url.Values{}
	for k, vs := range ev.QueryStringParameters {
		q[k] = vs
	}
	for k, vs := range ev.QueryString {
		q[k] = vs
	}
	u := &url.URL{Path: path, RawQuery: q.Encode()}
	var body io.Reader = strings.NewReader(ev.Body)
	length := int64(len(ev.Body))
	if ev.IsBase64Encoded {
		body = base64.NewDecoder(base64.StdEncoding, strings.NewReader(ev.Body))
		length = decodedLen(ev.Body)
	}
	r, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	r.RequestURI = u.RequestURI()
	r.ContentLength = length
	r.Header = make(http.Header, len(ev.Headers))
	for k, vs := range ev.Headers {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	if host := r.Header.Get("Host"); host != "" {
		r.Host = host
	}
	return r, nil
}

// decodedLen is the exact decoded size of well-formed padded base64, else -1 (unknown).
func decodedLen(s string) int64 {
	n := len(s)
	if n%4 != 0 || strings.ContainsAny(s, "\r\n \t") {
		return -1
	}
	pad := 0
	if n > 0 && s[n-1] == '=' {
		pad++
		if n > 1 && s[n-2] == '=' {
			pad++
		}
	}
	return int64(n/4*3 - pad)
}

// clientIP is the caller's address as the platform reports it: API Gateway's sourceIp, a
// Function URL's x-scf-remote-addr, else the last X-Forwarded-For hop (added by the
// platform's proxy; earlier hops are the client's to invent), else the invocation context.
func clientIP(ev *events.HTTPRequest, fallback string) string {
	if ev.RequestContext != nil && ev.RequestContext.SourceIP != "" {
		return string(ev.RequestContext.SourceIP)
	}
	if a := ev.Headers.Get("x-scf-remote-addr"); a != "" {
		return remoteHost(a)
	}
	if xff := ev.Headers.Get("x-forwarded-for"); xff != "" {
		parts := strings.Split(xff, ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	return fallback
}

// recorder is a minimal http.ResponseWriter that keeps the response for the integration
// response; unlike httptest.ResponseRecorder it keeps no snapshot copies.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

var _ http.ResponseWriter = (*recorder)(nil)

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) response() (json.RawMessage, error) {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	headers := make(map[string]string, len(r.header))
	for k, vs := range r.header {
		headers[k] = strings.Join(vs, ", ")
	}
	return marshalRaw(events.HTTPResponse{StatusCode: status, Headers: headers, Body: r.body.String()})
}
