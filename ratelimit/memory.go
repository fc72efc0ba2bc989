package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Memory is a token bucket per caller: perMinute tokens of capacity, refilled continuously.
// Buckets live in the instance's memory, so the limit is per function instance; that bounds
// a single caller's burst on a warm instance, and is what remains while Redis is down.
type Memory struct {
	mu        sync.Mutex
	perMinute float64
	now       func() time.Time
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// MaxBuckets bounds memory under many distinct callers; full buckets are swept first.
const MaxBuckets = 10000

// NewMemory returns a limiter of perMinute requests per caller (at least 1) on the clock now
// (default time.Now).
func NewMemory(perMinute int, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{perMinute: float64(max(perMinute, 1)), now: now, buckets: map[string]*bucket{}}
}

// Allow implements Limiter; it never fails.
func (l *Memory) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	ok, wait := l.AllowAt(key, l.now())
	return ok, wait, nil
}

// AllowAt takes one token for key at now, or says how long until one is available.
func (l *Memory) AllowAt(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rate := l.perMinute / float64(time.Minute) // tokens per nanosecond
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= MaxBuckets {
			l.sweep(now, rate)
		}
		b = &bucket{tokens: l.perMinute, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(l.perMinute, b.tokens+float64(el)*rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / rate))
	return false, wait
}

// Len is the number of callers tracked.
func (l *Memory) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep drops buckets that have refilled completely (they carry no state), and if that is
// not enough, every bucket: forgetting callers errs on the side of serving them.
func (l *Memory) sweep(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))*rate >= l.perMinute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= MaxBuckets {
		clear(l.buckets)
	}
}
