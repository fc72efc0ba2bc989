package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMemoryBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemory(60, nil) // one a second
	for i := range 60 {
		if ok, _ := l.AllowAt("a", t0); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, wait := l.AllowAt("a", t0)
	if ok || wait != time.Second {
		t.Fatalf("61st: ok %v wait %v, want refused for 1s", ok, wait)
	}
	if ok, _ := l.AllowAt("b", t0); !ok {
		t.Fatal("another caller shares the bucket")
	}
	if ok, _ := l.AllowAt("a", t0.Add(999*time.Millisecond)); ok {
		t.Fatal("refilled too early")
	}
	if ok, _ := l.AllowAt("a", t0.Add(time.Second)); !ok {
		t.Fatal("not refilled after a second")
	}
}

func TestMemoryUsesItsClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemory(2, func() time.Time { return now })
	ctx := context.Background()
	for range 2 {
		if ok, _, err := l.Allow(ctx, "a"); !ok || err != nil {
			t.Fatal("refused within the budget")
		}
	}
	if ok, wait, _ := l.Allow(ctx, "a"); ok || wait != 30*time.Second {
		t.Fatalf("3rd: ok %v wait %v, want refused for 30s", ok, wait)
	}
	now = now.Add(30 * time.Second)
	if ok, _, _ := l.Allow(ctx, "a"); !ok {
		t.Fatal("not refilled on the injected clock")
	}
}

func TestMemoryBoundsMemory(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemory(10, nil)
	for i := range MaxBuckets + 5 {
		l.AllowAt(string(rune(i)), t0)
	}
	if l.Len() > MaxBuckets {
		t.Fatalf("%d buckets", l.Len())
	}
}

func TestNewChoosesByStoreURL(t *testing.T) {
	if l, err := New(Config{PerMinute: 0, StoreURL: "redis://127.0.0.1:1/0"}); l != nil || err != nil {
		t.Fatalf("PerMinute 0: %v %v, want off", l, err)
	}
	if _, err := New(Config{PerMinute: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
	for _, u := range []string{"file:///tmp/x.json", "memory://", ""} {
		l, err := New(Config{PerMinute: 5, StoreURL: u})
		if _, ok := l.(*Memory); !ok || err != nil {
			t.Errorf("%q: %T %v, want *Memory", u, l, err)
		}
	}
	for _, u := range []string{"redis://127.0.0.1:1/0", "rediss://user:pw@127.0.0.1:1/2", "REDIS://127.0.0.1:1"} {
		l, err := New(Config{PerMinute: 5, StoreURL: u})
		f, ok := l.(*Fallback)
		if !ok || err != nil {
			t.Errorf("%q: %T %v, want *Fallback", u, l, err)
			continue
		}
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	if _, err := New(Config{PerMinute: 5, StoreURL: "redis://:secretpw@127.0.0.1:6379/notadb"}); err == nil {
		t.Error("bad redis URL accepted")
	} else if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error quotes the password: %v", err)
	}
}
