package token

import (
	"context"
	"sync"
	"time"
)

// invocationKey carries a CloudBase access token handed to one invocation or request.
type invocationKey struct{}

// WithInvocationToken returns ctx carrying value, a CloudBase access token the platform handed
// to this one invocation or request: WX_CLOUDBASE_ACCESSTOKEN in a CloudBase invocation's
// context, or the X-WX-CLOUDBASE-ACCESS-TOKEN header WeChat Cloud Hosting sets on requests
// that come through WeChat. The cloudbase source serves it (as cloudbase_access_token=) in
// preference to the pushed file for calls made with ctx. An empty value leaves ctx as it is.
//
// The edge must only call it with a value the platform set: a client-supplied token would
// otherwise make the function call WeChat with the client's credentials.
func WithInvocationToken(ctx context.Context, value string) context.Context {
	if value == "" {
		return ctx
	}
	return context.WithValue(ctx, invocationKey{}, value)
}

// InvocationToken returns the token WithInvocationToken put into ctx, or "".
func InvocationToken(ctx context.Context) string {
	v, _ := ctx.Value(invocationKey{}).(string)
	return v
}

// invocationFirst serves the per-invocation CloudBase token when the context carries one and
// WeChat has not rejected it, else the configured source (the pushed file or the
// environment). @cloudbase/node-sdk does the same: the invocation context's
// WX_CLOUDBASE_ACCESSTOKEN before the process environment and the file.
type invocationFirst struct {
	next Service

	mu       sync.Mutex
	rejected string // the last per-invocation token WeChat refused
}

func withInvocationTokens(next Service) *invocationFirst { return &invocationFirst{next: next} }

// Token implements Source.
func (s *invocationFirst) Token(ctx context.Context) (Token, error) {
	if v := InvocationToken(ctx); v != "" {
		s.mu.Lock()
		rejected := v == s.rejected
		s.mu.Unlock()
		if !rejected {
			// Its expiry is not told; the platform hands a valid one to each invocation.
			return Token{Value: v, Param: CloudBaseParam}, nil
		}
	}
	return s.next.Token(ctx)
}

// Invalidate implements Invalidator: a rejected per-invocation token is not served again (the
// retry falls back to the configured source); any other value is the configured source's.
func (s *invocationFirst) Invalidate(ctx context.Context, rejected string) error {
	if rejected != "" && rejected == InvocationToken(ctx) {
		s.mu.Lock()
		s.rejected = rejected
		s.mu.Unlock()
		return nil
	}
	return s.next.Invalidate(ctx, rejected)
}

// Refresh implements Service: per-invocation tokens need no refresh, the file may.
func (s *invocationFirst) Refresh(ctx context.Context, lead time.Duration) (RefreshReport, error) {
	return s.next.Refresh(ctx, lead)
}

// Close implements Service.
func (s *invocationFirst) Close() error { return s.next.Close() }
