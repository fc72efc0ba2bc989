package resultcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/breaker"
	"github.com/wxocr/scf-idcard-ocr/internal/sideredis"
)

// MaxMemoryEntries bounds the in-memory store (a result is about a kilobyte).
const MaxMemoryEntries = 2000

// Memory is a Store in this instance's memory. It never fails.
type Memory struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]memEntry
}

type memEntry struct {
	v       []byte
	expires time.Time
}

// NewMemory returns an empty in-memory store on the clock now (default time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, m: map[string]memEntry{}}
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil, nil
	}
	if !s.now().Before(e.expires) {
		delete(s.m, key)
		return nil, nil
	}
	return e.v, nil
}

// Set implements Store. When full, expired entries go first, then everything: a cache may
// forget.
func (s *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= MaxMemoryEntries {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= MaxMemoryEntries {
			clear(s.m)
		}
	}
	s.m[key] = memEntry{v: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

// Len is the number of entries held.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// DefaultRedisTimeout bounds one Redis round trip: a slow Redis costs a request at most this
// before it reads the image from the provider instead.
const DefaultRedisTimeout = 150 * time.Millisecond

// Redis is a Store shared by every instance on one Redis. While Redis fails (its breaker is
// open) the instance caches in its own memory instead.
type Redis struct {
	c       *redis.Client
	timeout time.Duration
	local   *Memory
	br      *breaker.Breaker
}

// OpenRedis returns a store with its own small client for rawURL (redis:// or rediss://).
// Nothing is dialled until the first call.
func OpenRedis(rawURL string, logger *slog.Logger) (*Redis, error) {
	c, err := sideredis.Open(rawURL, "result cache", DefaultRedisTimeout)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Redis{c: c, timeout: DefaultRedisTimeout, local: NewMemory(nil), br: breaker.New(breaker.Options{
		Threshold:   2,
		Logger:      logger,
		DownMessage: "result cache store is unavailable; caching per instance until it answers",
		UpMessage:   "result cache store is available again",
	})}, nil
}

func (r *Redis) done(ctx context.Context, err error) {
	switch {
	case err == nil:
		r.br.Success()
	case ctx.Err() != nil:
		r.br.Cancel()
	default:
		r.br.Failure(err)
	}
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	if !r.br.Allow() {
		return r.local.Get(ctx, key)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.c.Get(cctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		r.done(ctx, nil)
		return nil, nil
	}
	r.done(ctx, err)
	if err != nil {
		return r.local.Get(ctx, key)
	}
	return v, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if !r.br.Allow() {
		return r.local.Set(ctx, key, value, ttl)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.c.Set(cctx, key, value, ttl).Err()
	r.done(ctx, err)
	if err != nil {
		_ = r.local.Set(ctx, key, value, ttl)
		return fmt.Errorf("result cache: redis set: %w", err)
	}
	return nil
}

// Close closes the client.
func (r *Redis) Close() error { return r.c.Close() }

// Open returns the store for storeURL (TOKEN_STORE): Redis for redis:// and rediss://, else
// memory. Close the result if it implements io.Closer.
func Open(storeURL string, logger *slog.Logger) (Store, error) {
	if !sideredis.IsRedis(storeURL) {
		return NewMemory(nil), nil
	}
	return OpenRedis(storeURL, logger)
}

var _ io.Closer = (*Redis)(nil)
