package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	redactpkg "github.com/wxocr/scf-idcard-ocr/internal/redact"
	"github.com/wxocr/scf-idcard-ocr/token"
)

// maxResponseBytes bounds how much of a response body is read. WeChat's JSON answers are a
// few hundred bytes; a larger body is a misbehaving proxy, not an answer.
const maxResponseBytes = 1 << 20

// request is one API call, replayable: every attempt rebuilds the HTTP request from it, and
// the body comes from newBody, never from a reader a previous attempt consumed.
type request struct {
	method   string
	endpoint string     // API path, also the name used in errors and logs
	query    url.Values // without the token
	// contentType and newBody describe the body; newBody nil means no body.
	contentType   string
	contentLength int64
	newBody       func() io.Reader
	// secrets are strings that must never surface in an error (the appsecret).
	secrets []string
}

func jsonRequest(endpoint string, v any) (*request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wechat %s: encode request: %w", endpoint, err)
	}
	return &request{
		method:        http.MethodPost,
		endpoint:      endpoint,
		contentType:   "application/json",
		contentLength: int64(len(b)),
		newBody:       func() io.Reader { return bytes.NewReader(b) },
	}, nil
}

// transport is the one path every call takes: build, send, check, retry.
type transport struct {
	*settings
}

// do runs req with tok (no token parameter when tok.Value is ""), retrying transient
// failures, and decodes a successful answer into out.
func (t *transport) do(ctx context.Context, req *request, tok token.Token, out response) error {
	secrets := req.secrets
	if tok.Value != "" {
		secrets = append(secrets[:len(secrets):len(secrets)], tok.Value)
	}
	for attempt := 0; ; attempt++ {
		reason, err := t.attempt(ctx, req, tok, secrets, out)
		if err == nil || reason == "" {
			return err
		}
		if attempt >= t.maxRetries {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		delay := t.delay(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			// Sleeping would end past the caller's deadline; the last error is more useful than
			// a bare deadline error.
			t.logger.LogAttrs(ctx, slog.LevelWarn, "wechat: not retrying, deadline too close",
				slog.String("endpoint", req.endpoint), slog.String("reason", reason),
				slog.Int("attempt", attempt+1))
			return err
		}
		t.logger.LogAttrs(ctx, slog.LevelWarn, "wechat: retrying",
			slog.String("endpoint", req.endpoint), slog.String("reason", reason),
			slog.Int("attempt", attempt+1), slog.Duration("delay", delay))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("wechat %s: waiting to retry after %s: %w", req.endpoint, reason, ctx.Err())
		case <-timer.C:
		}
	}
}

// delay is the jittered exponential backoff before retry number attempt+1.
func (t *transport) delay(attempt int) time.Duration {
	d := t.backoff
	for i := 0; i < attempt && d < t.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.maxBackoff)
	// "Equal jitter": at least half the delay, so retries do not bunch at zero.
	return d/2 + time.Duration(t.jitter()*float64(d/2))
}

// attempt sends req once. It returns the error and, when the failure is transient and the
// caller's context is still live, the reason to retry it.
func (t *transport) attempt(ctx context.Context, req *request, tok token.Token, secrets []string, out response) (reason string, err error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	u := *t.baseURL
	u.Path += req.endpoint
	q := url.Values{}
	for k, v := range req.query {
		q[k] = v
	}
	if tok.Value != "" {
		q.Set(tok.QueryParam(), tok.Value)
	}
	u.RawQuery = q.Encode()

	var body io.Reader
	if req.newBody != nil {
		body = req.newBody()
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, u.String(), body)
	if err != nil {
		return "", sanitize(fmt.Errorf("wechat %s: build request: %w", req.endpoint, stripURL(err)), secrets)
	}
	if req.newBody != nil {
		hreq.ContentLength = req.contentLength
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(req.newBody()), nil }
		hreq.Header.Set("Content-Type", req.contentType)
	}
	hreq.Header.Set("Accept", "application/json")

	start := time.Now()
	resp, err := t.httpClient.Do(hreq)
	if err != nil {
		// *url.Error embeds the full URL, token and (legacy fetch) appsecret included.
		inner := stripURL(err)
		switch {
		case ctx.Err() != nil:
			return "", fmt.Errorf("wechat %s: %w", req.endpoint, ctx.Err())
		case actx.Err() != nil:
			return "attempt timeout", fmt.Errorf("wechat %s: attempt timed out after %v: %w", req.endpoint, t.timeout, context.DeadlineExceeded)
		default:
			return "connection error", sanitize(fmt.Errorf("wechat %s: %w", req.endpoint, inner), secrets)
		}
	}
	defer resp.Body.Close()

	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		inner := stripURL(err)
		switch {
		case ctx.Err() != nil:
			return "", fmt.Errorf("wechat %s: read response: %w", req.endpoint, ctx.Err())
		case actx.Err() != nil:
			return "attempt timeout", fmt.Errorf("wechat %s: reading response timed out after %v: %w", req.endpoint, t.timeout, context.DeadlineExceeded)
		default:
			return "connection error", sanitize(fmt.Errorf("wechat %s: read response: %w", req.endpoint, inner), secrets)
		}
	}
	err = checkResponse(req.endpoint, resp.StatusCode, raw, out)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		// WeChat's errmsg may quote img_url, a signed download URL.
		apiErr.ErrMsg = redactpkg.Text(redact(apiErr.ErrMsg, secrets))
		t.logger.LogAttrs(ctx, slog.LevelDebug, "wechat: call failed",
			slog.String("endpoint", req.endpoint), slog.Int("status", resp.StatusCode),
			slog.Int("errcode", apiErr.ErrCode), slog.Duration("latency", time.Since(start)))
		return apiErr.retryReason(), err
	}
	if err != nil {
		return "", sanitize(err, secrets)
	}
	t.logger.LogAttrs(ctx, slog.LevelDebug, "wechat: call ok",
		slog.String("endpoint", req.endpoint), slog.Duration("latency", time.Since(start)))
	return "", nil
}

// checkResponse turns an HTTP answer into nil (out decoded) or an error: *APIError for a
// non-2xx status or an errcode != 0, a plain error for a 2xx that is not the expected JSON.
func checkResponse(endpoint string, status int, raw []byte, out response) error {
	if len(raw) > maxResponseBytes {
		if status < 200 || status > 299 {
			return &APIError{Endpoint: endpoint, HTTPStatus: status, ErrMsg: statusText(status)}
		}
		return fmt.Errorf("wechat %s: response larger than %d bytes", endpoint, maxResponseBytes)
	}
	if status < 200 || status > 299 {
		e := &APIError{Endpoint: endpoint, HTTPStatus: status}
		var env envelope
		// A gateway's HTML error page is not echoed: it may quote the request URL.
		if json.Unmarshal(raw, &env) == nil {
			e.ErrCode, e.ErrMsg = int(env.ErrCode), env.ErrMsg
		}
		if e.ErrMsg == "" {
			e.ErrMsg = statusText(status)
		}
		return e
	}
	// A previous attempt may have decoded into out; stale fields (an errcode of -1 above
	// all) must not survive into this answer.
	reflect.ValueOf(out).Elem().SetZero()
	env := out.base()
	if err := json.Unmarshal(raw, out); err != nil {
		// The body may still carry a usable errcode even if other fields are mistyped.
		var only envelope
		if json.Unmarshal(raw, &only) == nil && only.ErrCode != 0 {
			return &APIError{Endpoint: endpoint, HTTPStatus: status, ErrCode: int(only.ErrCode), ErrMsg: only.ErrMsg}
		}
		return fmt.Errorf("wechat %s: decode response (HTTP %d, %d bytes): %w", endpoint, status, len(raw), err)
	}
	if env.ErrCode != 0 {
		return &APIError{Endpoint: endpoint, HTTPStatus: status, ErrCode: int(env.ErrCode), ErrMsg: env.ErrMsg}
	}
	return nil
}

// statusText names status even when net/http does not know it.
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "unexpected HTTP status"
}

// stripURL unwraps *url.Error, whose message quotes the request URL with its credentials.
func stripURL(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			return err
		}
		err = ue.Err
	}
}

// sanitize is the last guard: should any secret still be in err's message, the message is
// redacted and only context errors stay reachable through errors.Is.
func sanitize(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := redact(msg, secrets)
	if red == msg {
		return err
	}
	var keep error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		keep = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		keep = context.Canceled
	}
	return &redactedError{msg: red, err: keep}
}

// redact replaces each secret, raw or query-escaped as it appears in a URL, by [REDACTED].
// Values shorter than minRedactLen are no real token or appsecret (those are tens to hundreds
// of characters) and replacing them would only garble the message.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) < minRedactLen {
			continue
		}
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, "[REDACTED]")
		}
	}
	return s
}

const minRedactLen = 6

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
