// Package quota keeps what limits spend on the OCR providers, shared by every instance through
// the store (Redis in production, the instance's memory without it): which provider's quota
// is exhausted and until when, each provider's daily budget of calls, and each caller's daily
// limit of requests. A Redis outage narrows counting to one instance (Fallback), never lifts
// a limit. Keys are keyed digests (HMAC-SHA-256 with a server-side secret): a dump of the
// store names no caller, and without the secret nobody can test a guess against it.
package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
	"github.com/wxocr/scf-idcard-ocr/internal/keyhash"
	"github.com/wxocr/scf-idcard-ocr/internal/sideredis"
)

// DefaultKeyPrefix prefixes every key this package writes.
const DefaultKeyPrefix = "idcard-ocr:quota:"

// Keyer turns names (a provider, a caller) into store keys: prefix + HMAC-SHA-256 digest.
type Keyer struct {
	secret []byte
	prefix string
}

// NewKeyer returns a Keyer with the server-side secret and a key prefix (default
// DefaultKeyPrefix).
func NewKeyer(secret []byte, prefix string) (*Keyer, error) {
	if len(secret) < 16 {
		return nil, errors.New("quota: the secret must be at least 16 bytes")
	}
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &Keyer{secret: append([]byte(nil), secret...), prefix: prefix}, nil
}

// Key returns the store key for a kind of record and a name.
func (k *Keyer) Key(kind, name string) string {
	return k.prefix + kind + ":" + keyhash.Sum(k.secret, kind, name)
}

// Open returns the store for storeURL (TOKEN_STORE): a Fallback from Redis to memory for
// redis:// and rediss://, else memory. Close the result if it implements io.Closer.
func Open(storeURL string, logger *slog.Logger) (Store, error) {
	if !sideredis.IsRedis(storeURL) {
		return NewMemory(nil), nil
	}
	r, err := OpenRedis(storeURL, 0)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return NewFallback(r, NewMemory(nil), logger, nil), nil
}

// Book records provider quota: exhaustion until the provider's reset, and the daily budget an
// operator set for each provider. It is what the recognition service asks before each call.
type Book struct {
	store   Store
	keys    *Keyer
	budgets map[string]int64
	now     func() time.Time
}

// NewBook returns a Book on store with a daily budget per provider name (absent or 0: no
// budget) and the clock now (default time.Now).
func NewBook(store Store, keys *Keyer, budgets map[string]int, now func() time.Time) *Book {
	if now == nil {
		now = time.Now
	}
	b := &Book{store: store, keys: keys, budgets: map[string]int64{}, now: now}
	for p, n := range budgets {
		if n > 0 {
			b.budgets[p] = int64(n)
		}
	}
	return b
}

// Blocked returns until when provider must not be called (its quota or budget is spent), or
// the zero time when it may be.
func (b *Book) Blocked(ctx context.Context, provider string) (time.Time, error) {
	until, err := b.store.Marked(ctx, b.keys.Key("exhausted", provider))
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s quota: %w", provider, err)
	}
	if !until.After(b.now()) {
		return time.Time{}, nil
	}
	return until, nil
}

// Exhausted records that provider's quota is spent until the time until.
func (b *Book) Exhausted(ctx context.Context, provider string, until time.Time) error {
	if err := b.store.Mark(ctx, b.keys.Key("exhausted", provider), until); err != nil {
		return fmt.Errorf("record %s quota: %w", provider, err)
	}
	return nil
}

// Spend takes one call from provider's daily budget. When the budget is spent it answers
// false and the day's end, and marks the provider exhausted until then, so that later
// requests skip it without counting.
func (b *Book) Spend(ctx context.Context, provider string) (bool, time.Time, error) {
	limit, ok := b.budgets[provider]
	if !ok {
		return true, time.Time{}, nil
	}
	now := b.now()
	end := chinaday.NextMidnight(now)
	n, err := b.store.Incr(ctx, b.keys.Key("budget", provider+"|"+chinaday.Day(now)), end)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("count %s budget: %w", provider, err)
	}
	if n <= limit {
		return true, time.Time{}, nil
	}
	if err := b.Exhausted(ctx, provider, end); err != nil {
		return false, end, err
	}
	return false, end, nil
}

// Daily is a per-caller daily limit: at most Limit requests per caller per day (Asia/Shanghai).
// It implements ratelimit.Limiter, so the handler asks it beside the per-minute limiter.
type Daily struct {
	store Store
	keys  *Keyer
	limit int64
	now   func() time.Time
}

// NewDaily returns a limit of perDay requests per caller (at least 1) on store.
func NewDaily(store Store, keys *Keyer, perDay int, now func() time.Time) *Daily {
	if now == nil {
		now = time.Now
	}
	return &Daily{store: store, keys: keys, limit: int64(max(perDay, 1)), now: now}
}

// Allow takes one request from caller's budget for today; when it is spent, it answers false
// and the time left until midnight Asia/Shanghai.
func (d *Daily) Allow(ctx context.Context, caller string) (bool, time.Duration, error) {
	now := d.now()
	end := chinaday.NextMidnight(now)
	n, err := d.store.Incr(ctx, d.keys.Key("caller", caller+"|"+chinaday.Day(now)), end)
	if err != nil {
		return false, 0, fmt.Errorf("count daily requests: %w", err)
	}
	if n <= d.limit {
		return true, 0, nil
	}
	return false, end.Sub(now), nil
}
