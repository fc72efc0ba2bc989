package fakeclock

import (
	"sync"
	"testing"
	"time"
)

func TestSetAndAdd(t *testing.T) {
	start := time.Date(2026, 11, 29, 15, 59, 59, 0, time.UTC)
	c := New(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	c.Add(time.Second)
	if want := start.Add(time.Second); !c.Now().Equal(want) {
		t.Fatalf("after Add: %v, want %v", c.Now(), want)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Fatalf("after Set: %v, want %v", c.Now(), start)
	}
}

// Run with -race: the code under test reads the clock from other goroutines.
func TestConcurrentUse(t *testing.T) {
	c := New(time.Time{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Add(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(time.Time{}); got != 400*time.Millisecond {
		t.Fatalf("moved %v, want 400ms", got)
	}
}
