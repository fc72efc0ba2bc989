// Package wechat is the client for WeChat's server APIs the function uses: cloud-storage
// download URLs (tcb/batchdownloadfile), ID-card OCR (cv/ocr/idcard) and the access-token
// endpoints (cgi-bin/stable_token, cgi-bin/token), with one request path that turns every
// failure into a typed *APIError, retries only transient failures, and recovers once from a
// rejected token. Tokens and appsecrets never appear in errors or logs.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wxocr/scf-idcard-ocr/token"
)

// Client calls WeChat APIs with tokens from a token.Provider. It is safe for concurrent use.
type Client struct {
	t      *transport
	tokens token.Provider
}

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
// body is rebuilt from its bytes for that.
func (c *Client) call(ctx context.Context, req *request, out response) error {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return fmt.Errorf("wechat %s: get access token: %w", req.endpoint, err)
	}
	err = c.t.do(ctx, req, tok, out)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !IsTokenRejected(apiErr.ErrCode) || tok.Value == "" {
		// Without a token value there is nothing to invalidate: the platform injects it.
		return err
	}
	c.t.logger.LogAttrs(ctx, slog.LevelWarn, "wechat: access token rejected, refreshing",
		slog.String("endpoint", req.endpoint), slog.Int("errcode", apiErr.ErrCode))
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
		return fmt.Errorf("wechat %s: get access token after errcode %d: %w", req.endpoint, apiErr.ErrCode, terr)
	}
	if fresh.Value == tok.Value {
		// The same token again would be rejected again; report the rejection.
		return err
	}
	return c.t.do(ctx, req, fresh, out)
}
