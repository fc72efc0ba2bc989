package handler

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per caller: perMinute tokens of capacity, refilled continuously.
// Buckets live in the instance's memory, so the limit is per function instance; that bounds
// a single caller's burst on a warm instance, which is what it is for.
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds memory under many distinct callers; full buckets are swept first.
const maxBuckets = 10000

func newLimiter(perMinute int) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{perMinute: float64(perMinute), buckets: map[string]*bucket{}}
}

// allow takes one token for key at now, or says how long until one is available.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rate := l.perMinute / float64(time.Minute) // tokens per nanosecond
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
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

// sweep drops buckets that have refilled completely (they carry no state), and if that is
// not enough, every bucket: forgetting callers errs on the side of serving them.
func (l *limiter) sweep(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))*rate >= l.perMinute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
