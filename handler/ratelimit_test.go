package handler

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(60) // one a second
	for i := range 60 {
		if ok, _ := l.allow("a", t0); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, wait := l.allow("a", t0)
	if ok || wait != time.Second {
		t.Fatalf("61st: ok %v wait %v, want refused for 1s", ok, wait)
	}
	if ok, _ := l.allow("b", t0); !ok {
		t.Fatal("another caller shares the bucket")
	}
	if ok, _ := l.allow("a", t0.Add(999*time.Millisecond)); ok {
		t.Fatal("refilled too early")
	}
	if ok, _ := l.allow("a", t0.Add(time.Second)); !ok {
		t.Fatal("not refilled after a second")
	}
	if ok, _ := (*limiter)(nil).allow("a", t0); !ok || newLimiter(0) != nil {
		t.Fatal("a zero limit must be off")
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10)
	for i := range maxBuckets + 5 {
		l.allow(string(rune(i)), t0)
	}
	if len(l.buckets) > maxBuckets {
		t.Fatalf("%d buckets", len(l.buckets))
	}
}

func TestKeySet(t *testing.T) {
	ks := newKeySet([]string{" k1 ", "", "k2"})
	if len(ks) != 2 || !ks.match("k1") || !ks.match("k2") || ks.match("k3") || ks.match("") {
		t.Fatal("keySet matches wrongly")
	}
	if newKeySet(nil).match("") {
		t.Fatal("empty set matched")
	}
}
