// Package fakeclock is the settable clock tests hand to code that takes a `func() time.Time`
// (token.WithClock, breaker, ratelimit, quota, the emulator), so that a boundary is crossed by
// moving the clock, never by sleeping. It is safe for concurrent use: the code under test
// reads it from its own goroutines.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a settable clock; its zero value reads the zero time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time; pass c.Now where a clock function is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
