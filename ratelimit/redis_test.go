package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
)

func openRedis(t *testing.T, url string, perMinute int) *Redis {
	t.Helper()
	// A generous timeout: these tests are about sharing, not speed, and the machine is shared.
	r, err := OpenRedis(url, RedisOptions{PerMinute: perMinute, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisSharesTheBudgetAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	const limit = 5
	a, b := openRedis(t, rs.URL, limit), openRedis(t, rs.URL, limit) // two instances, two clients
	ctx := context.Background()
	const caller = "openid:oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE"
	for i := range limit {
		l := a
		if i%2 == 1 {
			l = b
		}
		if ok, _, err := l.Allow(ctx, caller); !ok || err != nil {
			t.Fatalf("request %d refused: %v", i+1, err)
		}
	}
	for _, l := range []*Redis{a, b} {
		ok, wait, err := l.Allow(ctx, caller)
		if err != nil || ok {
			t.Fatalf("request over the shared budget: ok %v err %v", ok, err)
		}
		if wait <= 0 || wait > time.Minute {
			t.Fatalf("retryAfter %v, want within the one-minute window", wait)
		}
	}
	if ok, _, _ := b.Allow(ctx, "key:0123456789ab"); !ok {
		t.Fatal("another caller shares the budget")
	}

	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys %q, want one per caller", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, DefaultKeyPrefix) || strings.Contains(k, "oX3Vd5") || strings.Contains(k, "openid") || strings.Contains(k, "0123456789ab") {
			t.Errorf("key %q is not prefix + digest", k)
		}
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q has TTL %v, want within the window", k, ttl)
		}
	}
	if want := a.Key(caller); keys[0] != want && keys[1] != want {
		t.Errorf("Key(caller) = %q not among %q", want, keys)
	}
}

func TestRedisHealsAKeyWithoutExpiry(t *testing.T) {
	rs := redistest.Start(t)
	r := openRedis(t, rs.URL, 1)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	// A counter left without a TTL (e.g. by a manual INCR) must not block a caller forever.
	if err := c.Set(ctx, r.Key("x"), 99, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, wait, err := r.Allow(ctx, "x"); ok || err != nil || wait <= 0 {
		t.Fatalf("ok %v wait %v err %v", ok, wait, err)
	}
	if ttl := c.PTTL(ctx, r.Key("x")).Val(); ttl <= 0 {
		t.Fatalf("TTL %v after Allow, want the window", ttl)
	}
}

func TestFallbackLimitsInMemoryWhenRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	if rs.External {
		t.Skip("TEST_REDIS_URL is external: cannot stop it")
	}
	const limit = 3
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	f := NewFallback(openRedis(t, rs.URL, limit), NewMemory(limit, clk.Now), FallbackOptions{Logger: logger, Now: clk.Now, Cooldown: time.Second})
	ctx := context.Background()
	// Spend the shared budget of caller a.
	for range limit {
		if ok, _, err := f.Allow(ctx, "a"); !ok || err != nil {
			t.Fatal("refused within the budget")
		}
	}
	if ok, _, _ := f.Allow(ctx, "a"); ok {
		t.Fatal("shared budget not enforced")
	}

	rs.Stop()
	for i := range limit {
		ok, _, err := f.Allow(ctx, "b")
		if err != nil {
			t.Fatalf("Redis down: request %d failed: %v", i+1, err)
		}
		if !ok {
			t.Fatalf("Redis down: request %d refused within the in-memory budget", i+1)
		}
	}
	ok, wait, err := f.Allow(ctx, "b")
	if ok || err != nil || wait <= 0 {
		t.Fatalf("Redis down: over the budget: ok %v wait %v err %v; want limited in memory", ok, wait, err)
	}
	if !f.Degraded() {
		t.Fatal("breaker did not open")
	}

	rs.Restart() // empty: the shared counters are gone
	// go-redis re-dials a pool that failed to dial about once a second; probe (one per
	// cooldown of the fake clock) until it answers, bounded.
	for i, deadline := 0, time.Now().Add(10*time.Second); f.Degraded(); i++ {
		if time.Now().After(deadline) {
			t.Fatal("the shared store was not used again after Redis came back")
		}
		clk.Add(time.Second)
		if ok, _, err := f.Allow(ctx, "c"+strconv.Itoa(i)); !ok || err != nil {
			t.Fatalf("after restart: %v %v", ok, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	if n := c.DBSize(ctx).Val(); n != 1 {
		t.Fatalf("Redis holds %d keys after the probe, want the shared counter back in use", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "rate limit store is unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// A Redis that accepts connections and never answers: the breaker must keep requests off it
// after the threshold, and requests must still be limited.
func TestFallbackStopsWaitingOnASlowRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	var held sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); held.Wait() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			held.Add(1)
			go func() { defer held.Done(); <-done; c.Close() }()
		}
	}()
	r, err := OpenRedis("redis://"+ln.Addr().String()+"/0", RedisOptions{PerMinute: 2, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := NewFallback(r, NewMemory(2, clk.Now), FallbackOptions{Threshold: 2, Now: clk.Now})
	ctx := context.Background()
	for i := range 2 { // the threshold: these time out on Redis, then are limited in memory
		if ok, _, err := f.Allow(ctx, "a"); !ok || err != nil {
			t.Fatalf("request %d: %v %v", i+1, ok, err)
		}
	}
	if !f.Degraded() {
		t.Fatal("two timeouts did not open the breaker")
	}
	before := conns.Load()
	for range 10 {
		if ok, _, _ := f.Allow(ctx, "a"); ok {
			t.Fatal("over the in-memory budget while Redis is slow")
		}
	}
	if got := conns.Load(); got != before {
		t.Fatalf("%d new connections to the slow Redis while the breaker was open", got-before)
	}
}

// An abandoned request is not a Redis failure.
func TestFallbackIgnoresCallerCancellation(t *testing.T) {
	rs := redistest.Start(t)
	f := NewFallback(openRedis(t, rs.URL, 5), NewMemory(5, nil), FallbackOptions{Threshold: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Allow(ctx, "a")
	if f.Degraded() {
		t.Fatal("a cancelled caller opened the breaker")
	}
}

// With a secret the key is a keyed digest: it depends on the secret, so a dump of Redis
// cannot be matched against a list of addresses by hashing them.
func TestKeyIsKeyedWithASecret(t *testing.T) {
	plain := NewRedis(nil, RedisOptions{})
	a := NewRedis(nil, RedisOptions{Secret: []byte("secret-a-0123456789abcdef")})
	b := NewRedis(nil, RedisOptions{Secret: []byte("secret-b-0123456789abcdef")})
	const caller = "ip:203.0.113.9"
	ka, kb, kp := a.Key(caller), b.Key(caller), plain.Key(caller)
	if ka == kb || ka == kp || kb == kp {
		t.Fatalf("keys %q %q %q: the secret does not key the digest", ka, kb, kp)
	}
	if ka != a.Key(caller) || !strings.HasPrefix(ka, DefaultKeyPrefix) || strings.Contains(ka, "203.0.113") {
		t.Fatalf("key %q", ka)
	}
}
