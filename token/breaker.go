package token

import (
	"log/slog"
	"sync"
	"time"
)

type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

// breaker stops requests from waiting on a store that is timing out: after threshold
// consecutive failures it opens, lets one probe through every cooldown (half-open), and closes
// on the first success. It logs exactly one line when the store goes down and one when it is
// back, however many requests see the outage.
type breaker struct {
	mu        sync.Mutex
	state     breakerState
	failures  int
	openedAt  time.Time
	probing   bool
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	log       *slog.Logger
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time, log *slog.Logger) *breaker {
	if threshold < 1 {
		threshold = 1
	}
	return &breaker{threshold: threshold, cooldown: cooldown, now: now, log: log}
}

// allow reports whether the store may be used now. In half-open state only one caller (the
// probe) is let through until it reports back.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return true
	case breakerOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = breakerHalfOpen
		b.probing = true
		return true
	default:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
}

func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.probing = false
	if b.state != breakerClosed {
		b.state = breakerClosed
		b.log.Info("token store is available again; using the shared token")
	}
}

func (b *breaker) failure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	switch b.state {
	case breakerClosed:
		b.failures++
		if b.failures >= b.threshold {
			b.state = breakerOpen
			b.openedAt = b.now()
			b.log.Warn("token store is unavailable; serving tokens fetched directly until it answers",
				"error", err.Error(), "retryEvery", b.cooldown.String())
		}
	default:
		b.state = breakerOpen
		b.openedAt = b.now()
	}
}

// isOpen reports whether the store is considered down (open or half-open).
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != breakerClosed
}
