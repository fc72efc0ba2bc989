// Package breaker is the circuit breaker that keeps requests off a shared store (Redis) that
// is timing out or refusing connections, so that each request pays for an outage at most
// once per cooldown instead of on every call.
package breaker

import (
	"log/slog"
	"sync"
	"time"
)

type state int

const (
	closed state = iota
	open
	halfOpen
)

// Options configure a Breaker. Zero values select the defaults named on each field.
type Options struct {
	// Threshold is how many consecutive failures open the breaker (default 1).
	Threshold int
	// Cooldown is how long it stays open before one probe is let through (default 5 s).
	Cooldown time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger gets one line when the breaker opens and one when it closes (default: discard).
	Logger *slog.Logger
	// DownMessage and UpMessage are those two lines, naming what is down and what is done
	// meanwhile (defaults: "store is unavailable", "store is available again").
	DownMessage, UpMessage string
}

// Breaker opens after Threshold consecutive failures, lets one probe through every cooldown
// (half-open), and closes on the first success. It logs exactly one line when the store goes
// down and one when it is back, however many requests see the outage. It is safe for
// concurrent use.
type Breaker struct {
	mu        sync.Mutex
	state     state
	failures  int
	openedAt  time.Time
	probing   bool
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	log       *slog.Logger
	down, up  string
}

// New returns a closed Breaker.
func New(o Options) *Breaker {
	b := &Breaker{threshold: o.Threshold, cooldown: o.Cooldown, now: o.Now, log: o.Logger, down: o.DownMessage, up: o.UpMessage}
	if b.threshold < 1 {
		b.threshold = 1
	}
	if b.cooldown <= 0 {
		b.cooldown = 5 * time.Second
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.down == "" {
		b.down = "store is unavailable"
	}
	if b.up == "" {
		b.up = "store is available again"
	}
	return b
}

// Allow reports whether the store may be used now. In half-open state only one caller (the
// probe) is let through until it reports back with Success or Failure.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case closed:
		return true
	case open:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = halfOpen
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

// Success records a call that the store answered; it closes an open breaker.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.probing = false
	if b.state != closed {
		b.state = closed
		b.log.Info(b.up)
	}
}

// Failure records a call that the store failed; a failed probe reopens the breaker for
// another cooldown.
func (b *Breaker) Failure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	switch b.state {
	case closed:
		b.failures++
		if b.failures >= b.threshold {
			b.state = open
			b.openedAt = b.now()
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			b.log.Warn(b.down, "error", msg, "retryEvery", b.cooldown.String())
		}
	default:
		b.state = open
		b.openedAt = b.now()
	}
}

// Cancel ends a call that got no verdict (its caller gave up before the store answered): a
// probe slot is released without reopening or closing the breaker, and nothing is counted.
func (b *Breaker) Cancel() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// IsOpen reports whether the store is considered down (open or half-open).
func (b *Breaker) IsOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != closed
}
