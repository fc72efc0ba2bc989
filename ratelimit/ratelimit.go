// Package ratelimit limits requests per caller. SCF runs many instances, each serving one
// event at a time, so a limit kept in one instance's memory barely limits anything: Redis
// counts the budget for the whole fleet, and the in-memory token bucket is the per-instance
// limit used when no Redis is configured and the fallback while Redis is down or slow. A
// failure never lifts the limit: it only narrows it to one instance.
package ratelimit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/sideredis"
)

// Limiter decides whether key (a caller) may make one more request now.
type Limiter interface {
	// Allow takes one request from key's budget. When the budget is spent it answers false
	// and how long until a request will be allowed again. err reports that the limiter could
	// not decide (its store failed); ok is then meaningless and the caller must fall back to
	// another limiter, never serve unlimited.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// The limiters, checked at compile time.
var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
	_ Limiter = (*Fallback)(nil)
)

// DefaultKeyPrefix is the Redis key prefix of the counters when Config.KeyPrefix is empty.
const DefaultKeyPrefix = "idcard-ocr:rl:"

// Config selects and sizes the limiter New builds.
type Config struct {
	// PerMinute is each caller's budget per minute; 0 turns limiting off.
	PerMinute int
	// StoreURL is TOKEN_STORE: redis:// and rediss:// share the budget through that Redis
	// (its user, password and db included); any other scheme limits per instance.
	StoreURL string
	// KeyPrefix prefixes the Redis keys (default DefaultKeyPrefix).
	KeyPrefix string
	// RedisTimeout bounds one Redis round trip before the request is limited in memory
	// instead (default DefaultRedisTimeout).
	RedisTimeout time.Duration
	// Logger receives one line when Redis goes down and one when it is back.
	Logger *slog.Logger
	// Now is the in-memory limiter's clock (default time.Now).
	Now func() time.Time
	// Secret keys the callers' digests in Redis (STORE_SECRET); see RedisOptions.Secret.
	Secret []byte
}

// New returns the limiter for cfg: nil when PerMinute is 0 (off); a Fallback from a Redis
// limiter to an in-memory one when StoreURL is a Redis URL; else an in-memory limiter. Close
// the result if it implements io.Closer (the Redis one does). Nothing is dialled here: a cold
// start costs no round trip.
func New(cfg Config) (Limiter, error) {
	if cfg.PerMinute < 0 {
		return nil, fmt.Errorf("rate limit must be >= 0 per minute, got %d", cfg.PerMinute)
	}
	if cfg.PerMinute == 0 {
		return nil, nil
	}
	mem := NewMemory(cfg.PerMinute, cfg.Now)
	if !sideredis.IsRedis(cfg.StoreURL) {
		return mem, nil
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	r, err := OpenRedis(cfg.StoreURL, RedisOptions{PerMinute: cfg.PerMinute, KeyPrefix: prefix, Secret: cfg.Secret, Timeout: cfg.RedisTimeout})
	if err != nil {
		return nil, err
	}
	return NewFallback(r, mem, FallbackOptions{Logger: cfg.Logger}), nil
}

// closeIf closes l when it holds a resource.
func closeIf(l Limiter) error {
	if c, ok := l.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
