package token

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
)

// commandCounter counts the commands a client sends, to prove round trips.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

var prefixSeq atomic.Int64

func openRedis(t testing.TB, srv *redistest.Server) *RedisStore {
	t.Helper()
	// A unique prefix keeps tests apart on a shared TEST_REDIS_URL.
	prefix := fmt.Sprintf("test:%d:%d:", time.Now().UnixNano(), prefixSeq.Add(1))
	st, err := OpenStore(context.Background(), srv.URL, WithKeyPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*RedisStore)
}

func TestRedisStoreOperations(t *testing.T) {
	srv := redistest.Start(t)
	st := openRedis(t, srv)
	c := st.Client()
	ctx := context.Background()
	if _, err := st.Get(ctx, "wxapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := st.Put(ctx, "wxapp", Token{Value: "t1", ExpiresAt: exp, FetchedAt: exp.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ttl := c.PTTL(ctx, st.Key("wxapp")).Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL %v, want about the token's remaining hour", ttl)
	}
	raw := c.Get(ctx, st.Key("wxapp")).Val()
	for _, k := range []string{`"token":"t1"`, `"expiresAt"`, `"fetchedAt"`} {
		if !strings.Contains(raw, k) {
			t.Fatalf("stored value %s lacks %s", raw, k)
		}
	}
	got, err := st.Get(ctx, "wxapp")
	if err != nil || got.Value != "t1" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("get %+v %v", got, err)
	}
	if ok, _ := st.CompareAndDelete(ctx, "wxapp", "other"); ok {
		t.Fatal("deleted a token that was not the rejected one")
	}
	if ok, err := st.CompareAndDelete(ctx, "wxapp", "t1"); !ok || err != nil {
		t.Fatalf("compare-and-delete: %v %v", ok, err)
	}
	if _, err := st.Get(ctx, "wxapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}

	// The lock: exclusive, and an expired holder's unlock never frees a newer holder's lock.
	u1, ok, err := st.TryLock(ctx, "wxapp", 50*time.Millisecond)
	if !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if _, ok, _ := st.TryLock(ctx, "wxapp", time.Second); ok {
		t.Fatal("second holder got the lock")
	}
	for c.Exists(ctx, st.Key("wxapp")+":lock").Val() == 1 {
		time.Sleep(10 * time.Millisecond) // bounded by the 50 ms PX
	}
	u2, ok, _ := st.TryLock(ctx, "wxapp", time.Minute)
	if !ok {
		t.Fatal("lock not free after its TTL")
	}
	_ = u1(ctx)
	if _, ok, _ := st.TryLock(ctx, "wxapp", time.Minute); ok {
		t.Fatal("the expired holder's unlock released the new holder's lock")
	}
	_ = u2(ctx)
	if _, ok, _ := st.TryLock(ctx, "wxapp", time.Minute); !ok {
		t.Fatal("unlock did not release")
	}

	// Force limits: one per 30 s (real-time PX) and 20 per China day.
	now := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	if ok, _, err := st.ReserveForce(ctx, "wxapp", now); !ok || err != nil {
		t.Fatalf("first force: %v %v", ok, err)
	}
	if ok, wait, _ := st.ReserveForce(ctx, "wxapp", now); ok || wait <= 0 || wait > ForceMinInterval {
		t.Fatalf("second force within 30 s: ok %v wait %v, want refused with at most 30 s left", ok, wait)
	}
	dayKey := st.Key("wxapp") + ":force:day:" + chinaday.Day(now)
	c.Set(ctx, dayKey, ForceDailyLimit, time.Hour)
	c.Del(ctx, st.Key("wxapp")+":force:last")
	// 03:00 UTC is 11:00 China time: 13 hours to midnight.
	if ok, wait, _ := st.ReserveForce(ctx, "wxapp", now); ok || wait != 13*time.Hour {
		t.Fatalf("over the daily limit: ok %v wait %v, want refused until China midnight (13 h)", ok, wait)
	}
}

func TestRedisHitIsOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	st := openRedis(t, srv)
	ctx := context.Background()
	clk := newFakeClock()
	clk.Set(time.Now())
	f := newFakeFetcher(clk.Now)
	writer := newTestManager(t, f, WithStore(st), WithClock(clk.Now))
	if _, err := writer.Token(ctx); err != nil {
		t.Fatal(err)
	}
	cc := &commandCounter{}
	st.Client().AddHook(cc)
	reader := newTestManager(t, f, WithStore(st), WithClock(clk.Now))
	before := commandCalls(t, st.Client(), "get")
	cc.n.Store(0)
	tok, err := reader.Token(ctx)
	if err != nil || tok.Value != "tok-1" {
		t.Fatalf("reader: %q %v", tok.Value, err)
	}
	if got := cc.n.Load(); got != 1 {
		t.Fatalf("a store hit sent %d commands, want 1", got)
	}
	if got := commandCalls(t, st.Client(), "get") - before; got != 1 {
		t.Fatalf("server counted %d GETs, want 1", got)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("fetches = %d, want 1", f.calls.Load())
	}
}

// commandCalls reads the server's own count of a command from INFO commandstats.
func commandCalls(t testing.TB, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_"+cmd+":calls=") {
			var n int
			fmt.Sscanf(strings.TrimPrefix(line, "cmdstat_"+cmd+":calls="), "%d", &n)
			return n
		}
	}
	return 0
}

func TestRedisUnreachableOpensBreakerFast(t *testing.T) {
	// A port nothing listens on: connection refused, as when Redis is down.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	st, err := OpenStore(context.Background(), "redis://"+addr+"/0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	f := newFakeFetcher(time.Now)
	m, err := NewManager("wxapp", f, WithStore(st), WithLogger(slogText(&logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i < 20; i++ {
		if _, err := m.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = m.Invalidate(context.Background(), "tok-1")
		f.rotate()
	}
	if n := strings.Count(logs.String(), "token store is unavailable"); n != 1 {
		t.Fatalf("down log lines = %d, want 1", n)
	}
}

func BenchmarkRedisStoreGet(b *testing.B) {
	srv := redistest.Start(b)
	st := openRedis(b, srv)
	ctx := context.Background()
	_ = st.Put(ctx, "wxapp", Token{Value: strings.Repeat("x", 160), ExpiresAt: time.Now().Add(time.Hour)})
	cc := &commandCounter{}
	st.Client().AddHook(cc)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Get(ctx, "wxapp"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cc.n.Load())/float64(b.N), "cmds/op")
}
