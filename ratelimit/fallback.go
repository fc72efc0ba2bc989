package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/breaker"
)

// FallbackOptions configure a Fallback. Zero values select the defaults named on each field.
type FallbackOptions struct {
	// Threshold is how many consecutive primary failures open the breaker (default 2: one
	// slow reply alone does not narrow the limit to one instance).
	Threshold int
	// Cooldown is how long requests skip the primary before one probes it again (default 5 s).
	Cooldown time.Duration
	// Logger gets one line when the primary goes down and one when it is back.
	Logger *slog.Logger
	// Now is the breaker's clock (default time.Now).
	Now func() time.Time
}

// Fallback asks primary (the shared Redis limiter) and, when it fails or its circuit breaker
// is open, secondary (the in-memory limiter), so that requests neither wait on a dead Redis
// nor go unlimited. It fails only if secondary fails.
type Fallback struct {
	primary, secondary Limiter
	br                 *breaker.Breaker
}

// NewFallback returns a Fallback from primary to secondary.
func NewFallback(primary, secondary Limiter, o FallbackOptions) *Fallback {
	if o.Threshold == 0 {
		o.Threshold = 2
	}
	return &Fallback{primary: primary, secondary: secondary, br: breaker.New(breaker.Options{
		Threshold:   o.Threshold,
		Cooldown:    o.Cooldown,
		Now:         o.Now,
		Logger:      o.Logger,
		DownMessage: "rate limit store is unavailable; limiting per instance until it answers",
		UpMessage:   "rate limit store is available again; limits are shared",
	})}
}

// Allow implements Limiter.
func (f *Fallback) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if f.br.Allow() {
		ok, wait, err := f.primary.Allow(ctx, key)
		switch {
		case err == nil:
			f.br.Success()
			return ok, wait, nil
		case ctx.Err() != nil:
			// The caller gave up: that says nothing about the store.
			f.br.Cancel()
		default:
			f.br.Failure(err)
		}
	}
	return f.secondary.Allow(ctx, key)
}

// Degraded reports whether requests are being limited by the secondary (the breaker is open).
func (f *Fallback) Degraded() bool { return f.br.IsOpen() }

// Close closes both limiters where they hold resources.
func (f *Fallback) Close() error {
	return errors.Join(closeIf(f.primary), closeIf(f.secondary))
}
