package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
)

// fakeFetcher behaves like stable_token in normal mode: the same token until rotate or a
// forced refresh, which issue a new one.
type fakeFetcher struct {
	mu      sync.Mutex
	gen     int
	ttl     time.Duration
	now     func() time.Time
	calls   atomic.Int64
	forces  atomic.Int64
	gate    chan struct{} // when set, each fetch waits for it
	failErr error
}

func newFakeFetcher(now func() time.Time) *fakeFetcher {
	return &fakeFetcher{gen: 1, ttl: 2 * time.Hour, now: now}
}

func (f *fakeFetcher) Fetch(ctx context.Context, force bool) (Token, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		return Token{}, f.failErr
	}
	if force {
		f.forces.Add(1)
		f.gen++
	}
	now := f.now()
	return Token{Value: fmt.Sprintf("tok-%d", f.gen), ExpiresAt: now.Add(f.ttl), FetchedAt: now}, nil
}

func (f *fakeFetcher) rotate() {
	f.mu.Lock()
	f.gen++
	f.mu.Unlock()
}

// newFakeClock returns the settable clock the token tests start from: 10:00 UTC, far from
// China's midnight.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
}

// flakyStore wraps a store and fails every operation while down is set.
type flakyStore struct {
	Store
	down  atomic.Bool
	fails atomic.Int64
}

var errDown = errors.New("connection refused")

func (s *flakyStore) Get(ctx context.Context, key string) (Token, error) {
	if s.down.Load() {
		s.fails.Add(1)
		return Token{}, errDown
	}
	return s.Store.Get(ctx, key)
}

func (s *flakyStore) Put(ctx context.Context, key string, t Token) error {
	if s.down.Load() {
		s.fails.Add(1)
		return errDown
	}
	return s.Store.Put(ctx, key, t)
}

func (s *flakyStore) CompareAndDelete(ctx context.Context, key, v string) (bool, error) {
	if s.down.Load() {
		s.fails.Add(1)
		return false, errDown
	}
	return s.Store.CompareAndDelete(ctx, key, v)
}

func (s *flakyStore) TryLock(ctx context.Context, key string, ttl time.Duration) (Unlock, bool, error) {
	if s.down.Load() {
		s.fails.Add(1)
		return nil, false, errDown
	}
	return s.Store.TryLock(ctx, key, ttl)
}

func (s *flakyStore) ReserveForce(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if s.down.Load() {
		s.fails.Add(1)
		return false, 0, errDown
	}
	return s.Store.ReserveForce(ctx, key, now)
}
