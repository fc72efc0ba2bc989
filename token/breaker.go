package token

import (
	"log/slog"
	"time"

	cb "github.com/wxocr/scf-idcard-ocr/internal/breaker"
)

// breaker stops requests from waiting on a store that is timing out (see internal/breaker,
// shared with the rate limiter): after threshold consecutive failures it opens, lets one
// probe through every cooldown, closes on the first success, and logs one line each way.
type breaker struct{ b *cb.Breaker }

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time, log *slog.Logger) *breaker {
	return &breaker{cb.New(cb.Options{
		Threshold:   threshold,
		Cooldown:    cooldown,
		Now:         now,
		Logger:      log,
		DownMessage: "token store is unavailable; serving tokens fetched directly until it answers",
		UpMessage:   "token store is available again; using the shared token",
	})}
}

func (b *breaker) allow() bool       { return b.b.Allow() }
func (b *breaker) success()          { b.b.Success() }
func (b *breaker) failure(err error) { b.b.Failure(err) }
func (b *breaker) isOpen() bool      { return b.b.IsOpen() }
