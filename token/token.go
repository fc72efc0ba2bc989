// Package token holds WeChat access-token sources, the stores that share a token across
// function instances, and the coordination that keeps one refresher per rotation.
//
// New builds the source TOKEN_SOURCE names: a Manager (stable, legacy, or read-only store)
// over a Store opened by URL (file, redis, memory), a CloudBaseSource, or the token-less none
// source. The Manager caches in process until a margin before expiry, shares concurrent
// misses, lets one instance fetch under the store lock, forces a refresh only when WeChat
// hands back the token it just rejected (and, when the force limits do not allow one yet,
// answers *ForceLimitedError at once with the wait instead of holding the caller), and keeps
// serving through a store outage. An instance that finds the lock taken waits only while the
// holder works: it stops as soon as the holder stores a token or lets go without one (then it
// tries once itself), and at WithWaitBound (3 s) at the latest, so in a token-rejection storm,
// where every holder's refresh is refused, no request waits for the bound.
//
// Facts relied on (docs/wechat-errors.md, platform-facts §1): stable_token in normal mode
// returns the same token while it is valid; force_refresh invalidates it, at most 20 a day and
// 30 s apart; 40001/42001/40014 mean the token itself was refused.
package token

import (
	"context"
	"errors"
	"time"
)

// Token is one access token as WeChat issued it.
type Token struct {
	// Value is the token itself. It is empty for the "none" source (WeChat Cloud Hosting's
	// open interface service), in which case no token parameter is sent at all.
	Value string `json:"token"`
	// Param is the query parameter that carries Value: "access_token" when empty,
	// "cloudbase_access_token" for the CloudBase source.
	Param string `json:"param,omitempty"`
	// ExpiresAt is when WeChat stops accepting the token.
	ExpiresAt time.Time `json:"expiresAt"`
	// FetchedAt is when the token was obtained from WeChat.
	FetchedAt time.Time `json:"fetchedAt"`
}

// QueryParam returns the query parameter name to send Value under.
func (t Token) QueryParam() string {
	if t.Param == "" {
		return "access_token"
	}
	return t.Param
}

// ValidAt reports whether the token is still usable at now with the given safety margin.
func (t Token) ValidAt(now time.Time, margin time.Duration) bool {
	if t.Value == "" && t.Param == "" {
		return false
	}
	if t.ExpiresAt.IsZero() {
		return true
	}
	return now.Add(margin).Before(t.ExpiresAt)
}

// Source hands out a usable token. Implementations are safe for concurrent use.
type Source interface {
	Token(ctx context.Context) (Token, error)
}

// Invalidator is told that WeChat rejected a token (errcode 40001, 42001 or 40014), so the
// next Token call must not return it again.
type Invalidator interface {
	Invalidate(ctx context.Context, rejected string) error
}

// Provider is what API clients consume: a source whose rejected tokens can be reported.
type Provider interface {
	Source
	Invalidator
}

// Fetcher obtains a fresh token from WeChat. force asks stable_token for force_refresh=true;
// fetchers that cannot force ignore it.
type Fetcher interface {
	Fetch(ctx context.Context, force bool) (Token, error)
}

// ErrNoToken means a read-only source found no usable token; callers map it to UPSTREAM_AUTH.
var ErrNoToken = errors.New("no usable access token in the store")
