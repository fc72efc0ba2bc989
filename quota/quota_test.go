package quota

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
)

var secret = []byte("quota-test-secret-0123456789")

func openStores(t *testing.T, url string, n int) []Store {
	t.Helper()
	var out []Store
	for range n {
		r, err := OpenRedis(url, 2*time.Second) // generous: the machine is shared
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		out = append(out, r)
	}
	return out
}

func TestBudgetAndDailySharedThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	stores := openStores(t, rs.URL, 2)
	keys, _ := NewKeyer(secret, "")
	// Redis expires keys on its own clock, so the test's clock starts at the real time.
	clk := fakeclock.New(time.Now())
	ctx := context.Background()
	books := []*Book{NewBook(stores[0], keys, map[string]int{"wechat": 3}, clk.Now), NewBook(stores[1], keys, map[string]int{"wechat": 3}, clk.Now)}
	for i := range 3 {
		if ok, _, err := books[i%2].Spend(ctx, "wechat"); !ok || err != nil {
			t.Fatalf("call %d: %v %v", i+1, ok, err)
		}
	}
	ok, until, err := books[1].Spend(ctx, "wechat")
	if ok || err != nil || !until.Equal(chinaday.NextMidnight(clk.Now())) {
		t.Fatalf("over the budget: %v %v %v", ok, until, err)
	}
	if b, _ := books[0].Blocked(ctx, "wechat"); !b.Equal(until) {
		t.Fatalf("the other instance sees blocked until %v, want %v", b, until)
	}
	if ok, _, _ := books[0].Spend(ctx, "tencent"); !ok {
		t.Fatal("a provider without a budget was refused")
	}
	// The next day the budget is back.
	clk.Set(until)
	if b, _ := books[0].Blocked(ctx, "wechat"); !b.IsZero() {
		t.Fatalf("still blocked after midnight: %v", b)
	}
	if ok, _, _ := books[0].Spend(ctx, "wechat"); !ok {
		t.Fatal("budget not renewed at midnight")
	}

	daily := []*Daily{NewDaily(stores[0], keys, 2, clk.Now), NewDaily(stores[1], keys, 2, clk.Now)}
	const caller = "openid:oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE"
	for i := range 2 {
		if ok, _, _ := daily[i].Allow(ctx, caller); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, wait, _ := daily[0].Allow(ctx, caller)
	if ok || wait != chinaday.NextMidnight(clk.Now()).Sub(clk.Now()) {
		t.Fatalf("third: %v %v, want refused until midnight", ok, wait)
	}
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	all, _ := c.Keys(ctx, "*").Result()
	for _, k := range all {
		if !strings.HasPrefix(k, DefaultKeyPrefix) || strings.Contains(k, "oX3Vd5") || strings.Contains(k, "openid") {
			t.Errorf("key %q is not prefix + kind + keyed digest", k)
		}
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q has no expiry", k)
		}
	}
	// Another secret gives other keys: without the secret, a guess cannot be tested.
	other, _ := NewKeyer([]byte("another-secret-0123456789"), "")
	if other.Key("caller", caller) == keys.Key("caller", caller) {
		t.Error("keys do not depend on the secret")
	}
}

func TestFallbackCountsLocallyWhileRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	if rs.External {
		t.Skip("TEST_REDIS_URL is external: cannot stop it")
	}
	r := openStores(t, rs.URL, 1)[0]
	clk := fakeclock.New(time.Now())
	f := NewFallback(r, NewMemory(clk.Now), nil, clk.Now)
	keys, _ := NewKeyer(secret, "")
	d := NewDaily(f, keys, 2, clk.Now)
	book := NewBook(f, keys, nil, clk.Now)
	ctx := context.Background()
	if err := book.Exhausted(ctx, "wechat", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	for i := range 2 {
		ok, _, err := d.Allow(ctx, "ip:203.0.113.9")
		if !ok || err != nil {
			t.Fatalf("Redis down: request %d: %v %v", i+1, ok, err)
		}
	}
	if ok, _, err := d.Allow(ctx, "ip:203.0.113.9"); ok || err != nil {
		t.Fatalf("Redis down: over the limit: %v %v, want limited in memory", ok, err)
	}
	if !f.Degraded() {
		t.Fatal("breaker did not open")
	}
	// The mark made before the outage is still honoured by this instance.
	if b, err := book.Blocked(ctx, "wechat"); b.IsZero() || err != nil {
		t.Fatalf("exhaustion forgotten during the outage: %v %v", b, err)
	}
}
