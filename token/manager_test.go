package token

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestManager(t *testing.T, f Fetcher, opts ...ManagerOption) *Manager {
	t.Helper()
	opts = append([]ManagerOption{WithLogger(quietLogger())}, opts...)
	m, err := NewManager("wxapp", f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMarginBoundary(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk.Now)
	m := newTestManager(t, f, WithClock(clk.Now), WithMargin(5*time.Minute))
	ctx := context.Background()
	t0 := clk.Now()
	tok, err := m.Token(ctx)
	if err != nil || tok.Value != "tok-1" {
		t.Fatalf("first token = %q, %v", tok.Value, err)
	}
	refreshAt := t0.Add(2*time.Hour - 5*time.Minute)

	clk.Set(refreshAt.Add(-time.Nanosecond))
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("1 ns before the margin: fetches = %d, want 1 (cached)", got)
	}
	// At exactly expiry - margin the token counts as expired.
	clk.Set(refreshAt)
	f.rotate()
	tok, err = m.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 2 || tok.Value != "tok-2" {
		t.Fatalf("at the margin: fetches = %d token %q, want 2 and tok-2", got, tok.Value)
	}
}

func TestTokenInsideMarginIsHeldNotRefetchedPerCall(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk.Now)
	f.ttl = 4 * time.Minute // WeChat can hand out a token with less left than our margin
	m := newTestManager(t, f, WithClock(clk.Now))
	for i := 0; i < 10; i++ {
		if _, err := m.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
	clk.Add(minHold)
	if _, err := m.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("after the hold: fetches = %d, want 2", got)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	f := newFakeFetcher(time.Now)
	f.gate = make(chan struct{})
	m := newTestManager(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := m.Token(context.Background())
			if err == nil && tok.Value != "tok-1" {
				err = errors.New("wrong token " + tok.Value)
			}
			errs <- err
		}()
	}
	// Let the one fetch through once it has started.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

func TestCallerDeadlineDoesNotFailSharedFetch(t *testing.T) {
	f := newFakeFetcher(time.Now)
	f.gate = make(chan struct{})
	m := newTestManager(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := m.Token(ctx); done <- err }()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(f.gate)
	if _, err := m.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1 (the first fetch completed for the next caller)", got)
	}
}

func TestManagersShareOneStore(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		t.Run(name, func(t *testing.T) {
			var st Store = NewMemoryStore()
			if name == "file" {
				st, _ = NewFileStore(t.TempDir() + "/sub/token.json")
			}
			f := newFakeFetcher(time.Now)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				m := newTestManager(t, f, WithStore(st), WithWaitBound(10*time.Second))
				for j := 0; j < 10; j++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := m.Token(context.Background()); err != nil {
							t.Error(err)
						}
					}()
				}
			}
			wg.Wait()
			if got := f.calls.Load(); got != 1 {
				t.Fatalf("fetches across 8 managers = %d, want 1", got)
			}
		})
	}
}

func TestRejectedTokenRefetchedWithoutForceWhenWeChatRotated(t *testing.T) {
	st := NewMemoryStore()
	f := newFakeFetcher(time.Now)
	m := newTestManager(t, f, WithStore(st))
	ctx := context.Background()
	tok, _ := m.Token(ctx)
	f.rotate()
	if err := m.Invalidate(ctx, tok.Value); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "wxapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rejected token still stored: %v", err)
	}
	tok2, err := m.Token(ctx)
	if err != nil || tok2.Value != "tok-2" {
		t.Fatalf("after rejection: %q %v", tok2.Value, err)
	}
	if f.forces.Load() != 0 {
		t.Fatalf("forced %d times, want 0", f.forces.Load())
	}
}

func TestRejectedTokenReturnedAgainIsForcedOnceAcrossInstances(t *testing.T) {
	clk := newFakeClock()
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	a := newTestManager(t, f, WithStore(st), WithClock(clk.Now), WithWaitBound(50*time.Millisecond))
	b := newTestManager(t, f, WithStore(st), WithClock(clk.Now), WithWaitBound(50*time.Millisecond))
	ctx := context.Background()
	tok, _ := a.Token(ctx)
	if _, err := b.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// WeChat rejects tok-1 but normal mode still hands it out: only a force helps.
	_ = a.Invalidate(ctx, tok.Value)
	_ = b.Invalidate(ctx, tok.Value)
	ta, err := a.Token(ctx)
	if err != nil || ta.Value != "tok-2" {
		t.Fatalf("a: %q %v", ta.Value, err)
	}
	tb, err := b.Token(ctx)
	if err != nil || tb.Value != "tok-2" {
		t.Fatalf("b: %q %v (should take a's forced token from the store)", tb.Value, err)
	}
	if got := f.forces.Load(); got != 1 {
		t.Fatalf("forces = %d, want 1", got)
	}
	// The new token is rejected too within 30 s: no second force.
	_ = a.Invalidate(ctx, "tok-2")
	f.mu.Lock()
	f.gen = 2
	f.mu.Unlock()
	if _, err := a.Token(ctx); !errors.Is(err, ErrForceLimited) {
		t.Fatalf("second rejection within 30 s: %v, want ErrForceLimited", err)
	}
	if got := f.forces.Load(); got != 1 {
		t.Fatalf("forces = %d, want still 1", got)
	}
	clk.Add(ForceMinInterval)
	if tok, err := a.Token(ctx); err != nil || tok.Value != "tok-3" {
		t.Fatalf("30 s later: %q %v", tok.Value, err)
	}
}

// Issue 7 §7: when a forced refresh is not allowed yet, the manager answers at once with how
// long to wait (it used to poll the store for the whole wait bound, 3 s by default), and still
// takes what can work: a newer token another instance stored, or a normal fetch that already
// hands out a new token.
func TestForceLimitedAnswersAtOnceAndTakesWhatWorks(t *testing.T) {
	clk := newFakeClock()
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	// A wait bound far above anything the test allows: the old code would sit in it.
	a := newTestManager(t, f, WithStore(st), WithClock(clk.Now), WithWaitBound(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Invalidate(ctx, tok.Value)
	if tok, err = a.Token(ctx); err != nil || tok.Value != "tok-2" || f.forces.Load() != 1 {
		t.Fatalf("first rejection: %q %v, %d forces; want tok-2 by one force", tok.Value, err, f.forces.Load())
	}

	// 10 s later tok-2 is rejected too, and normal mode still returns it.
	clk.Add(10 * time.Second)
	_ = a.Invalidate(ctx, "tok-2")
	before := st.Ops()["get"]
	_, err = a.Token(ctx)
	var fl *ForceLimitedError
	if !errors.As(err, &fl) || !errors.Is(err, ErrForceLimited) {
		t.Fatalf("second rejection within 30 s: %v, want *ForceLimitedError", err)
	}
	if fl.Wait != 20*time.Second || fl.RetryAfter() != fl.Wait {
		t.Errorf("Wait = %v, want the 20 s left of this process's force interval", fl.Wait)
	}
	if gets := st.Ops()["get"] - before; gets > 3 {
		t.Errorf("%d store reads for one answer: the manager polled instead of answering", gets)
	}
	if f.forces.Load() != 1 {
		t.Errorf("forces = %d, want still 1", f.forces.Load())
	}

	// Another instance stored a newer token: the next call takes it without a force.
	other := Token{Value: "tok-from-b", ExpiresAt: clk.Now().Add(time.Hour), FetchedAt: clk.Now()}
	if err := st.Put(ctx, "wxapp", other); err != nil {
		t.Fatal(err)
	}
	if tok, err = a.Token(ctx); err != nil || tok.Value != other.Value {
		t.Fatalf("with a newer token in the store: %q %v", tok.Value, err)
	}

	// That one is rejected as well, and WeChat rotated meanwhile: the normal fetch's new
	// token is served, still without a force.
	_ = a.Invalidate(ctx, other.Value)
	f.rotate()
	if tok, err = a.Token(ctx); err != nil || tok.Value != "tok-3" || f.forces.Load() != 1 {
		t.Fatalf("after a rotation: %q %v, %d forces; want tok-3 with no force", tok.Value, err, f.forces.Load())
	}
}

// Another instance's force leaves this one no exact time: it answers the whole interval.
func TestForceLimitedByAnotherInstanceWaitsTheInterval(t *testing.T) {
	clk := newFakeClock()
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	a := newTestManager(t, f, WithStore(st), WithClock(clk.Now))
	ctx := context.Background()
	tok, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := st.ReserveForce(ctx, "wxapp", clk.Now()); !ok {
		t.Fatal("another instance could not reserve a force")
	}
	_ = a.Invalidate(ctx, tok.Value)
	var fl *ForceLimitedError
	if _, err := a.Token(ctx); !errors.As(err, &fl) || fl.Wait != ForceMinInterval {
		t.Fatalf("%v, want *ForceLimitedError waiting %v", err, ForceMinInterval)
	}
}

// With the day's forces spent, the answer says to wait until midnight China time, not 30 s.
func TestForceLimitedDaySpentWaitsUntilMidnight(t *testing.T) {
	clk := newFakeClock() // 18:00 China time
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	a := newTestManager(t, f, WithStore(st), WithClock(clk.Now))
	ctx := context.Background()
	tok, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < ForceDailyLimit; i++ {
		if ok, _, _ := st.ReserveForce(ctx, "wxapp", clk.Now().Add(-time.Duration(i+1)*time.Minute)); !ok {
			t.Fatalf("force %d refused", i+1)
		}
	}
	_ = a.Invalidate(ctx, tok.Value)
	var fl *ForceLimitedError
	if _, err := a.Token(ctx); !errors.As(err, &fl) || fl.Wait != 6*time.Hour {
		t.Fatalf("%v, want *ForceLimitedError waiting the 6 h to China midnight", err)
	}
}

func TestForceDailyLimit(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		t.Run(name, func(t *testing.T) {
			var st Store = NewMemoryStore()
			if name == "file" {
				st, _ = NewFileStore(t.TempDir() + "/token.json")
			}
			ctx := context.Background()
			// 23:00 China time; limits reset at China midnight.
			now := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
			n := 0
			for i := 0; i < 30; i++ {
				ok, _, err := st.ReserveForce(ctx, "wxapp", now.Add(time.Duration(i)*ForceMinInterval))
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					n++
				}
			}
			if n != ForceDailyLimit {
				t.Fatalf("forces allowed in one day = %d, want %d", n, ForceDailyLimit)
			}
			// The day's forces are spent at 23:15 China time: wait until midnight.
			if ok, wait, _ := st.ReserveForce(ctx, "wxapp", now.Add(15*time.Minute)); ok || wait != 45*time.Minute {
				t.Fatalf("spent day: ok %v wait %v, want a 45 min wait", ok, wait)
			}
			if ok, _, _ := st.ReserveForce(ctx, "wxapp", now.Add(time.Hour)); !ok {
				t.Fatal("force refused after China midnight")
			}
			if ok, wait, _ := st.ReserveForce(ctx, "wxapp", now.Add(time.Hour+ForceMinInterval-time.Second)); ok || wait != time.Second {
				t.Fatalf("second force 29 s later: ok %v wait %v, want refused with 1 s left", ok, wait)
			}
		})
	}
}

func TestReadOnlySource(t *testing.T) {
	st := NewMemoryStore()
	m := newTestManager(t, nil, WithStore(st))
	ctx := context.Background()
	if _, err := m.Token(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("empty store: %v, want ErrNoToken", err)
	}
	_ = st.Put(ctx, "wxapp", Token{Value: "central", ExpiresAt: time.Now().Add(time.Hour)})
	if tok, err := m.Token(ctx); err != nil || tok.Value != "central" {
		t.Fatalf("stored token: %q %v", tok.Value, err)
	}
	_ = m.Invalidate(ctx, "central")
	if _, err := m.Token(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("rejected token: %v, want ErrNoToken", err)
	}
	if _, err := st.Get(ctx, "wxapp"); err != nil {
		t.Fatalf("read-only source changed the store: %v", err)
	}
	rep, err := m.Refresh(ctx, 30*time.Minute)
	if !errors.Is(err, ErrNoToken) || rep.Refreshed || rep.Source != "store" {
		t.Fatalf("refresh: %+v %v", rep, err)
	}
}

func TestRefreshLead(t *testing.T) {
	clk := newFakeClock()
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	m := newTestManager(t, f, WithStore(st), WithClock(clk.Now))
	ctx := context.Background()
	rep, err := m.Refresh(ctx, 30*time.Minute)
	if err != nil || !rep.Refreshed || !rep.ExpiresAt.Equal(clk.Now().Add(2*time.Hour)) || rep.Source != "stable" {
		t.Fatalf("empty store: %+v %v", rep, err)
	}
	clk.Add(time.Hour)
	rep, err = m.Refresh(ctx, 30*time.Minute)
	if err != nil || rep.Refreshed {
		t.Fatalf("an hour left: %+v %v, want no refresh", rep, err)
	}
	clk.Add(31 * time.Minute)
	f.rotate()
	rep, err = m.Refresh(ctx, 30*time.Minute)
	if err != nil || !rep.Refreshed || !rep.ExpiresAt.Equal(clk.Now().Add(2*time.Hour)) {
		t.Fatalf("29 min left: %+v %v, want refresh", rep, err)
	}
	if got, _ := st.Get(ctx, "wxapp"); got.Value != "tok-2" {
		t.Fatalf("store holds %q after refresh", got.Value)
	}
	if tok, _ := m.Token(ctx); tok.Value != "tok-2" {
		t.Fatalf("Token after refresh = %q", tok.Value)
	}
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestStoreOutageBreaker(t *testing.T) {
	clk := newFakeClock()
	brClk := newFakeClock()
	st := &flakyStore{Store: NewMemoryStore()}
	f := newFakeFetcher(clk.Now)
	var logs syncbuf.Buffer
	m, err := NewManager("wxapp", f, WithStore(st), WithClock(clk.Now), WithBreakerClock(brClk.Now),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st.down.Store(true)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Token(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("fetches during outage = %d, want 1", got)
	}
	failsWhenOpen := st.fails.Load()
	// Token expires while the store is still down: the open breaker keeps requests off it.
	clk.Add(2 * time.Hour)
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.fails.Load(); got != failsWhenOpen {
		t.Fatalf("store tried %d more times while the breaker was open", got-failsWhenOpen)
	}
	// The probe after the cooldown fails: still down, no new log line.
	brClk.Add(DefaultBreakerCooldown)
	clk.Add(2 * time.Hour)
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// The store is back: the next probe writes the directly fetched token back to it.
	st.down.Store(false)
	brClk.Add(DefaultBreakerCooldown)
	tok, err := m.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "wxapp"); err != nil || got.Value != tok.Value {
		t.Fatalf("store after recovery holds %q, %v; want the served token", got.Value, err)
	}
	out := logs.String()
	if n := strings.Count(out, "token store is unavailable"); n != 1 {
		t.Fatalf("down log lines = %d, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "token store is available again"); n != 1 {
		t.Fatalf("back log lines = %d, want 1:\n%s", n, out)
	}
	if strings.Contains(out, tok.Value) {
		t.Fatal("a token reached the log")
	}
}

func slogText(w *syncbuf.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestCachedTokenAllocatesNothing(t *testing.T) {
	f := newFakeFetcher(time.Now)
	m := newTestManager(t, f)
	ctx := context.Background()
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = m.Token(ctx) }); n != 0 {
		t.Fatalf("cached Token allocates %v times", n)
	}
}

func BenchmarkTokenCached(b *testing.B) {
	m, _ := NewManager("wxapp", newFakeFetcher(time.Now), WithLogger(quietLogger()))
	ctx := context.Background()
	if _, err := m.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTokenCachedSerial(b *testing.B) {
	m, _ := NewManager("wxapp", newFakeFetcher(time.Now), WithLogger(quietLogger()))
	ctx := context.Background()
	if _, err := m.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadOnlySourceWithStoreDown(t *testing.T) {
	st := &flakyStore{Store: NewMemoryStore()}
	st.down.Store(true)
	m := newTestManager(t, nil, WithStore(st))
	if _, err := m.Token(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("store down, read-only: %v, want ErrNoToken", err)
	}
}

func TestRefreshDuringOutageFetchesDirectlyThenSyncs(t *testing.T) {
	brClk := newFakeClock()
	st := &flakyStore{Store: NewMemoryStore()}
	f := newFakeFetcher(time.Now)
	m := newTestManager(t, f, WithStore(st), WithBreakerClock(brClk.Now))
	ctx := context.Background()
	st.down.Store(true)
	rep, err := m.Refresh(ctx, 30*time.Minute)
	if err != nil || !rep.Refreshed {
		t.Fatalf("refresh during outage: %+v %v", rep, err)
	}
	st.down.Store(false)
	brClk.Add(DefaultBreakerCooldown)
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "wxapp"); err != nil || got.Value != "tok-1" {
		t.Fatalf("store after recovery: %q %v", got.Value, err)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("fetches = %d, want 1", f.calls.Load())
	}
}

func TestSlowLockHolderIsNotWaitedOnForever(t *testing.T) {
	st := NewMemoryStore()
	ctx := context.Background()
	// Another instance holds the lock and never stores anything.
	unlock, ok, _ := st.TryLock(ctx, "wxapp", time.Minute)
	if !ok {
		t.Fatal("lock")
	}
	defer unlock(ctx)
	f := newFakeFetcher(time.Now)
	m := newTestManager(t, f, WithStore(st), WithWaitBound(20*time.Millisecond))
	tok, err := m.Token(ctx)
	if err != nil || tok.Value != "tok-1" {
		t.Fatalf("%q %v", tok.Value, err)
	}
	if got, _ := st.Get(ctx, "wxapp"); got.Value != "tok-1" {
		t.Fatalf("the token fetched without the lock was not shared: %q", got.Value)
	}
	if ops := st.Ops(); ops["lock"] < 1+2 { // ours, then the manager's before and during the wait
		t.Fatalf("lock attempts = %d, want the manager's first and at least one while waiting", ops["lock"]-1)
	}
}

// A holder that lets go of the lock without storing a token (its fetch failed, its forced
// refresh was refused) releases its waiters at once: they take the lock and try themselves
// instead of polling the store to the wait bound, which is an hour here.
func TestWaiterTakesOverWhenHolderLetsGoWithoutToken(t *testing.T) {
	st := NewMemoryStore()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	unlock, ok, _ := st.TryLock(ctx, "wxapp", time.Minute)
	if !ok {
		t.Fatal("lock")
	}
	f := newFakeFetcher(time.Now)
	m := newTestManager(t, f, WithStore(st), WithWaitBound(time.Hour))
	type result struct {
		tok Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := m.Token(ctx)
		done <- result{tok, err}
	}()
	// Let the manager find the lock taken and start waiting, then let go without a token.
	for st.Ops()["lock"] < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.tok.Value != "tok-1" {
		t.Fatalf("%q %v", r.tok.Value, r.err)
	}
	if n := m.LockWaitsEnded(); n != 1 {
		t.Fatalf("LockWaitsEnded = %d, want 1", n)
	}
	if got, _ := st.Get(ctx, "wxapp"); got.Value != "tok-1" {
		t.Fatalf("the waiter's token was not stored: %q", got.Value)
	}
}

func TestFetchFailureServesTokenInsideMarginUntilExpiry(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk.Now)
	m := newTestManager(t, f, WithClock(clk.Now))
	ctx := context.Background()
	if _, err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.failErr = errors.New("system busy")
	f.mu.Unlock()
	clk.Add(2*time.Hour - time.Minute) // inside the margin, one minute before expiry
	if tok, err := m.Token(ctx); err != nil || tok.Value != "tok-1" {
		t.Fatalf("inside the margin with WeChat failing: %q %v", tok.Value, err)
	}
	clk.Add(time.Minute) // expired: nothing left to serve
	if _, err := m.Token(ctx); err == nil {
		t.Fatal("served an expired token")
	}
}

// A caller that gives up (a client hanging up cancels the request context) while a store
// operation runs says nothing about the store: the breaker must not open on it.
func TestCallerCancelDoesNotOpenTheStoreBreaker(t *testing.T) {
	m := newTestManager(t, newFakeFetcher(time.Now), WithBreaker(1, time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		err := m.storeOp(ctx, "get", func(c context.Context) error { <-c.Done(); return c.Err() })
		if err == nil {
			t.Fatal("no error from a cancelled operation")
		}
	}
	if m.br.IsOpen() {
		t.Error("cancelled callers opened the store breaker")
	}
	// A real failure still does.
	_ = m.storeOp(context.Background(), "get", func(context.Context) error { return errDown })
	if !m.br.IsOpen() {
		t.Error("a store failure did not open the breaker")
	}
}

// BenchmarkForceLimitedAnswer is the cost of answering a request while a rejected token
// cannot be replaced yet (issue 7 §7): one normal fetch (a fake here), one force reservation
// and one store read. The manager used to poll the store for the whole wait bound (3 s).
func BenchmarkForceLimitedAnswer(b *testing.B) {
	clk := newFakeClock()
	st := NewMemoryStore()
	f := newFakeFetcher(clk.Now)
	m, err := NewManager("wxapp", f, WithStore(st), WithClock(clk.Now), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tok, err := m.Token(ctx)
	if err != nil {
		b.Fatal(err)
	}
	_ = m.Invalidate(ctx, tok.Value)
	if _, err := m.Token(ctx); err != nil { // the first rejection forces
		b.Fatal(err)
	}
	_ = m.Invalidate(ctx, "tok-2")
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Token(ctx); !errors.Is(err, ErrForceLimited) {
			b.Fatalf("%v, want ErrForceLimited", err)
		}
	}
}
