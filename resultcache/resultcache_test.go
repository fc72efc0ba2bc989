package resultcache

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
)

func newCache(t *testing.T, store Store, secret string) *Cache {
	t.Helper()
	c, err := New(store, Options{Secret: []byte(secret), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const secretA = "server-secret-A-0123456789abcdef"

func TestRoundTripAndIsolation(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(nil)
	c := newCache(t, store, secretA)
	img := []byte("\x89PNG...the image bytes...")
	val := []byte(`{"name":"张三","id":"440305199505132561"}`)
	c.Put(ctx, img, val)
	if got, ok := c.Get(ctx, img); !ok || !bytes.Equal(got, val) {
		t.Fatalf("Get = %q %v", got, ok)
	}
	// Another image, or the same image under another secret, finds nothing.
	if _, ok := c.Get(ctx, append(img, 0)); ok {
		t.Error("a different image hit")
	}
	if _, ok := newCache(t, store, "server-secret-B-0123456789abcdef").Get(ctx, img); ok {
		t.Error("another secret hit")
	}
	// What is stored is neither the value nor anything readable in it.
	for k, e := range store.m {
		if !strings.HasPrefix(k, DefaultKeyPrefix) || bytes.Contains(e.v, []byte("440305")) || bytes.Contains(e.v, []byte("张三")) {
			t.Errorf("stored %q = %q", k, e.v)
		}
	}
}

func TestTamperedOrSwappedEntriesAreMisses(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(nil)
	c := newCache(t, store, secretA)
	a, b := []byte("image a"), []byte("image b")
	c.Put(ctx, a, []byte("result a"))
	c.Put(ctx, b, []byte("result b"))
	na, _, _ := c.derive(a)
	nb, _, _ := c.derive(b)
	// An attacker with write access swaps the entries: the name is the additional data, so
	// each fails to open under the other's name (and the other's key).
	store.m[na], store.m[nb] = store.m[nb], store.m[na]
	if v, ok := c.Get(ctx, a); ok {
		t.Fatalf("swapped entry opened: %q", v)
	}
	e := store.m[nb]
	e.v[len(e.v)-1] ^= 1
	if v, ok := c.Get(ctx, b); ok {
		t.Fatalf("tampered entry opened: %q", v)
	}
}

func TestExpiryAndRedis(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mem := NewMemory(func() time.Time { return now })
	c := newCache(t, mem, secretA)
	c.Put(ctx, []byte("x"), []byte("v"))
	now = now.Add(time.Minute)
	if _, ok := c.Get(ctx, []byte("x")); ok {
		t.Fatal("served after the TTL")
	}

	rs := redistest.Start(t)
	r1, err := OpenRedis(rs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, _ := OpenRedis(rs.URL, nil)
	defer r2.Close()
	newCache(t, r1, secretA).Put(ctx, []byte("img"), []byte("shared"))
	if v, ok := newCache(t, r2, secretA).Get(ctx, []byte("img")); !ok || string(v) != "shared" {
		t.Fatalf("second instance: %q %v", v, ok)
	}
	if rs.External {
		return
	}
	// Redis down: a miss, then this instance caches in memory; never an error.
	rs.Stop()
	c2 := newCache(t, r2, secretA)
	for range 3 {
		c2.Put(ctx, []byte("during"), []byte("local"))
	}
	if v, ok := c2.Get(ctx, []byte("during")); !ok || string(v) != "local" {
		t.Fatalf("during the outage: %q %v", v, ok)
	}
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := New(NewMemory(nil), Options{Secret: []byte("short"), TTL: time.Minute}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := New(NewMemory(nil), Options{Secret: []byte(secretA)}); err == nil {
		t.Error("zero TTL accepted")
	}
}
