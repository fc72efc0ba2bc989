// Package wechat is the client for WeChat's server APIs the function uses: cloud-storage
// download URLs (tcb/batchdownloadfile), ID-card OCR (cv/ocr/idcard) and the access-token
// endpoints (cgi-bin/stable_token, cgi-bin/token), with one request path that turns every
// failure into a typed *APIError, retries only transient failures, and recovers once from a
// rejected token. APIError.AppError maps every errcode through one table (errors.go; the
// sources are in docs/wechat-errors.md). Tokens and appsecrets never appear in errors or logs.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/wxocr/scf-idcard-ocr/token"
)

// Client calls WeChat APIs with tokens from a token.Provider. It is safe for concurrent use.
type Client struct {
	t      *transport
	tokens token.Provider
	// rejection is WeChat's last token rejection, reported with its own code when a later
	// call cannot get a replacement token yet.
	rejection atomic.Pointer[APIError]
}

// ErrNoToken means the token source has no usable access token (an empty read-only store, a
// CloudBase token not pushed yet); errors from a failed call wrap it so that callers need not
// know the token package.
var ErrNoToken = errors.New("no usable access token")

// New returns a client that takes its access tokens from tokens. A token whose Value is ""
// (WeChat Cloud Hosting's open interface service) is sent as no token parameter at all.
func New(tokens token.Provider, opts ...Option) (*Client, error) {
	if tokens == nil {
		return nil, errors.New("wechat: nil token provider")
	}
	s, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	return &Client{t: &transport{settings: s}, tokens: tokens}, nil
}

// call runs req with a token from the provider. When WeChat rejects the token (40001, 42001,
// 40014) the token is invalidated, a new one taken, and the call made once more; the request
// body is rebuilt from its bytes for that. A rejection that cannot be recovered this way is
// answered with WeChat's code and a RetryAfter: the source's wait when a forced refresh is
// not allowed yet, else rejectedRetryAfter.
func (c *Client) call(ctx context.Context, req *request, out response) error {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return c.tokenError(req.endpoint, nil, err)
	}
	err = c.t.do(ctx, req, tok, out)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !IsTokenRejected(apiErr.ErrCode) || tok.Value == "" {
		// Without a token value there is nothing to invalidate: the platform injects it.
		return err
	}
	c.t.logger.LogAttrs(ctx, slog.LevelWarn, "wechat: access token rejected, refreshing",
		slog.String("endpoint", req.endpoint), slog.Int("errcode", apiErr.ErrCode))
	c.rejection.Store(apiErr)
	if ierr := c.tokens.Invalidate(ctx, tok.Value); ierr != nil {
		// Carry on: the provider may still hand out a different token; if it hands back the
		// rejected one, the check below stops.
		c.t.logger.LogAttrs(ctx, slog.LevelWarn, "wechat: invalidating rejected token failed",
			slog.String("endpoint", req.endpoint), slog.String("error", redact(ierr.Error(), []string{tok.Value})))
	}
	if ctx.Err() != nil {
		return err
	}
	fresh, terr := c.tokens.Token(ctx)
	if terr != nil {
		return c.tokenError(req.endpoint, apiErr, terr)
	}
	if fresh.Value == tok.Value {
		// The same token again would be rejected again; report the rejection.
		return retryRejected(apiErr)
	}
	err = c.t.do(ctx, req, fresh, out)
	if !errors.As(err, &apiErr) || !IsTokenRejected(apiErr.ErrCode) {
		return err
	}
	// The replacement was rejected too (a rejection storm). No third call: drop it, and ask
	// the source once more only to learn when a replacement will be allowed, so the answer
	// carries WeChat's code and a Retry-After that is true.
	c.rejection.Store(apiErr)
	_ = c.tokens.Invalidate(ctx, fresh.Value)
	if ctx.Err() != nil {
		return err
	}
	if _, terr := c.tokens.Token(ctx); terr != nil {
		return c.tokenError(req.endpoint, apiErr, terr)
	}
	return retryRejected(apiErr)
}

// rejectedRetryAfter is the Retry-After of a token rejection when the source did not say when
// a replacement is allowed: it has one now (or may have soon), so the caller retries shortly.
const rejectedRetryAfter = time.Second

// retryRejected is a rejection answered with rejectedRetryAfter.
func retryRejected(rejected *APIError) error {
	cp := *rejected
	if cp.RetryAfter == 0 {
		cp.RetryAfter = rejectedRetryAfter
	}
	return &cp
}

// tokenError reports a failure to get a token for endpoint. When the source says when a
// replacement will be allowed (a forced refresh is rate-limited), the answer is WeChat's own
// rejection (this call's, else the last one) with that RetryAfter, so the caller learns the
// code and when to retry; an empty source wraps ErrNoToken; anything else (a token endpoint's
// own errcode, a network failure, a deadline) is wrapped as it is.
func (c *Client) tokenError(endpoint string, rejected *APIError, err error) error {
	var rl interface{ RetryAfter() time.Duration }
	if errors.As(err, &rl) && rl.RetryAfter() > 0 {
		if rejected == nil {
			rejected = c.rejection.Load()
		}
		if rejected != nil {
			cp := *rejected
			cp.Endpoint, cp.RetryAfter = endpoint, rl.RetryAfter()
			return fmt.Errorf("%w (no replacement token yet: %w)", &cp, err)
		}
	}
	if errors.Is(err, token.ErrNoToken) {
		return fmt.Errorf("wechat %s: get access token: %w: %w", endpoint, ErrNoToken, err)
	}
	return fmt.Errorf("wechat %s: get access token: %w", endpoint, err)
}
