package quota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/breaker"
	"github.com/wxocr/scf-idcard-ocr/internal/sideredis"
)

// Store keeps counters and marks that vanish at a given time, shared by every instance that
// uses the same store. Keys are already digests: no store ever sees a caller's identity.
type Store interface {
	// Incr adds one to key's counter, which is deleted at expireAt, and returns the new count.
	Incr(ctx context.Context, key string, expireAt time.Time) (int64, error)
	// Mark sets key until the time until.
	Mark(ctx context.Context, key string, until time.Time) error
	// Marked returns the time key is marked until, or the zero time when it is not marked.
	Marked(ctx context.Context, key string) (time.Time, error)
}

// MaxMemoryEntries bounds the in-memory store under many distinct callers.
const MaxMemoryEntries = 10000

// Memory is a Store in the instance's memory: the store without Redis, and the fallback
// while Redis is down. It never fails.
type Memory struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]memEntry
}

type memEntry struct {
	n       int64
	expires time.Time
}

// NewMemory returns an empty in-memory store on the clock now (default time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, m: map[string]memEntry{}}
}

// get returns key's live entry, deleting it when expired. Call with mu held.
func (s *Memory) get(key string, now time.Time) (memEntry, bool) {
	e, ok := s.m[key]
	if ok && !now.Before(e.expires) {
		delete(s.m, key)
		return memEntry{}, false
	}
	return e, ok
}

// room makes space for one entry: expired entries go first; if none has expired, counters
// go too, which errs on the side of serving callers (marks are kept: they are few, one per
// provider).
func (s *Memory) room(now time.Time) {
	if len(s.m) < MaxMemoryEntries {
		return
	}
	for k, e := range s.m {
		if !now.Before(e.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= MaxMemoryEntries {
		for k, e := range s.m {
			if e.n > 0 {
				delete(s.m, k)
			}
		}
	}
}

// Incr implements Store.
func (s *Memory) Incr(_ context.Context, key string, expireAt time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e, ok := s.get(key, now)
	if !ok {
		s.room(now)
		e = memEntry{expires: expireAt}
	}
	e.n++
	s.m[key] = e
	return e.n, nil
}

// Mark implements Store.
func (s *Memory) Mark(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !now.Before(until) {
		return nil
	}
	s.room(now)
	s.m[key] = memEntry{expires: until}
	return nil
}

// Marked implements Store.
func (s *Memory) Marked(_ context.Context, key string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key, s.now()); ok {
		return e.expires, nil
	}
	return time.Time{}, nil
}

// DefaultRedisTimeout bounds one Redis round trip: past it the instance counts in memory
// instead, as the rate limiter does.
const DefaultRedisTimeout = 150 * time.Millisecond

// Redis is a Store shared by every instance on one Redis.
type Redis struct {
	c       *redis.Client
	timeout time.Duration
}

// redisIncr increments a counter and gives it its expiry when it has none (new, or one that
// lost it), so a counter never outlives its day.
var redisIncr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return n`)

// OpenRedis returns a store with its own small client for rawURL (redis:// or rediss://).
// Nothing is dialled until the first call; Close closes the client.
func OpenRedis(rawURL string, timeout time.Duration) (*Redis, error) {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	c, err := sideredis.Open(rawURL, "quota", timeout)
	if err != nil {
		return nil, err
	}
	return &Redis{c: c, timeout: timeout}, nil
}

// Incr implements Store in one round trip.
func (r *Redis) Incr(ctx context.Context, key string, expireAt time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := redisIncr.Run(ctx, r.c, []string{key}, expireAt.UnixMilli()).Int64()
	if err != nil {
		return 0, fmt.Errorf("quota: redis incr: %w", err)
	}
	return n, nil
}

// Mark implements Store: the value is the time in Unix milliseconds, and the key expires then.
func (r *Redis) Mark(ctx context.Context, key string, until time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.c.SetArgs(ctx, key, strconv.FormatInt(until.UnixMilli(), 10), redis.SetArgs{ExpireAt: until}).Err()
	if err != nil {
		return fmt.Errorf("quota: redis set: %w", err)
	}
	return nil
}

// Marked implements Store.
func (r *Redis) Marked(ctx context.Context, key string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("quota: redis get: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("quota: redis mark %q is not a time", v)
	}
	return time.UnixMilli(ms), nil
}

// Close closes the client.
func (r *Redis) Close() error { return r.c.Close() }

// Fallback asks the shared store and, when it fails or its breaker is open, the in-memory
// one, so that a Redis outage narrows counting to one instance and never lifts a limit. It
// never fails.
type Fallback struct {
	primary Store
	local   *Memory
	br      *breaker.Breaker
}

// NewFallback returns a Fallback from primary to local.
func NewFallback(primary Store, local *Memory, logger *slog.Logger, now func() time.Time) *Fallback {
	return &Fallback{primary: primary, local: local, br: breaker.New(breaker.Options{
		Threshold:   2,
		Now:         now,
		Logger:      logger,
		DownMessage: "quota store is unavailable; counting budgets and daily limits per instance until it answers",
		UpMessage:   "quota store is available again; budgets and daily limits are shared",
	})}
}

// try runs f on the primary when the breaker lets it, reporting whether it answered.
func (f *Fallback) try(ctx context.Context, op func(Store) error) bool {
	if !f.br.Allow() {
		return false
	}
	err := op(f.primary)
	switch {
	case err == nil:
		f.br.Success()
		return true
	case ctx.Err() != nil:
		f.br.Cancel() // the caller gave up: that says nothing about the store
	default:
		f.br.Failure(err)
	}
	return false
}

// Incr implements Store.
func (f *Fallback) Incr(ctx context.Context, key string, expireAt time.Time) (int64, error) {
	var n int64
	if f.try(ctx, func(s Store) (err error) { n, err = s.Incr(ctx, key, expireAt); return err }) {
		return n, nil
	}
	return f.local.Incr(ctx, key, expireAt)
}

// Mark implements Store. The mark is also kept locally, so that this instance honours it
// through a later outage.
func (f *Fallback) Mark(ctx context.Context, key string, until time.Time) error {
	f.try(ctx, func(s Store) error { return s.Mark(ctx, key, until) })
	return f.local.Mark(ctx, key, until)
}

// Marked implements Store: marked when either store says so.
func (f *Fallback) Marked(ctx context.Context, key string) (time.Time, error) {
	var t time.Time
	f.try(ctx, func(s Store) (err error) { t, err = s.Marked(ctx, key); return err })
	lt, _ := f.local.Marked(ctx, key)
	if lt.After(t) {
		t = lt
	}
	return t, nil
}

// Degraded reports whether the shared store is being skipped.
func (f *Fallback) Degraded() bool { return f.br.IsOpen() }

// Close closes the shared store when it holds a connection.
func (f *Fallback) Close() error {
	if c, ok := f.primary.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
