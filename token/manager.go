package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxocr/scf-idcard-ocr/internal/breaker"
)

// Defaults of the Manager; see the With* options.
const (
	DefaultMargin       = 5 * time.Minute
	DefaultLockTTL      = 10 * time.Second
	DefaultWaitBound    = 3 * time.Second
	DefaultFetchTimeout = 15 * time.Second
	DefaultStoreTimeout = time.Second
	// DefaultBreakerCooldown is how long the store is left alone after it failed before one
	// request probes it again.
	DefaultBreakerCooldown = 5 * time.Second
)

// ErrForceLimited means WeChat returned the very token it had just rejected and a
// force_refresh is not allowed now (another instance forced less than 30 s ago, or 20 were
// used today) and the store holds no newer token. The error is a *ForceLimitedError, which
// says when to try again.
var ErrForceLimited = errors.New("access token was rejected and force_refresh is rate-limited")

// ForceLimitedError is the error behind ErrForceLimited. It is returned at once, without
// waiting for the limit to pass: the caller answers "retry later" and the next call tries
// again (a normal fetch may by then return a new token, or another instance may have stored
// one).
type ForceLimitedError struct {
	// Wait is how long until the force limits allow a forced refresh again, as the store
	// counts them: the rest of the 30 s interval, or until midnight Beijing time when the
	// day's 20 are spent.
	Wait time.Duration
}

func (e *ForceLimitedError) Error() string {
	return fmt.Sprintf("%v; retry in %v", ErrForceLimited, e.Wait.Round(time.Second))
}

// Is makes errors.Is(err, ErrForceLimited) true.
func (e *ForceLimitedError) Is(target error) bool { return target == ErrForceLimited }

// RetryAfter is Wait, for callers that only know the method.
func (e *ForceLimitedError) RetryAfter() time.Duration { return e.Wait }

// RefreshReport is what a timer invocation or the refresh-token command reports. It never
// carries the token.
type RefreshReport struct {
	// Refreshed is true when this call fetched from WeChat and stored the result.
	Refreshed bool `json:"refreshed"`
	// ExpiresAt is the expiry of the token in use after the call.
	ExpiresAt time.Time `json:"expiresAt"`
	// Source is the TOKEN_SOURCE that served the call.
	Source string `json:"source"`
}

// Manager is the caching, coordinating token Provider. A process keeps its token in memory
// until a margin before expiry; concurrent misses share one fetch; across instances a store
// lock lets one of them fetch while the others wait for the stored result; a rejected token is
// compare-and-deleted and re-fetched, forcing a refresh only when WeChat hands back the very
// token it rejected. When the store fails, a circuit breaker routes requests to direct fetches
// until it answers again.
type Manager struct {
	key          string
	source       string
	fetcher      Fetcher // nil: read-only, the store is filled by someone else
	store        Store
	margin       time.Duration
	lockTTL      time.Duration
	waitBound    time.Duration
	fetchTimeout time.Duration
	storeTimeout time.Duration
	now          func() time.Time
	log          *slog.Logger
	br           *breaker.Breaker
	brThreshold  int
	brCooldown   time.Duration
	brNow        func() time.Time

	// base anchors the cached entry's deadline as a duration, so that the hot path with the
	// real clock reads only the monotonic clock (time.Since), about half the cost of time.Now.
	base      time.Time
	realClock bool

	cur     atomic.Pointer[entry]
	sf      singleflight.Group
	syncing atomic.Bool

	mu         sync.Mutex
	rejected   [4]string  // the last values WeChat rejected, newest first
	localForce forceState // force limits while the store is down
	fetches    atomic.Int64
	// lockWaitsEnded counts waits for a lock holder that ended because the holder let go
	// without storing a token.
	lockWaitsEnded atomic.Int64
}

type entry struct {
	tok       Token
	refreshAt time.Time
	// refreshAfter is refreshAt - Manager.base.
	refreshAfter time.Duration
	// unsynced marks a token fetched while the store was down; it is written back once the
	// store answers so that other instances need not fetch too.
	unsynced bool
}

// ManagerOption configures NewManager.
type ManagerOption func(*Manager)

// WithStore sets the shared store (default: a new MemoryStore).
func WithStore(s Store) ManagerOption { return func(m *Manager) { m.store = s } }

// WithMargin sets how long before expiry a token counts as expired (default 5 min).
func WithMargin(d time.Duration) ManagerOption { return func(m *Manager) { m.margin = d } }

// WithClock swaps the clock that decides expiry, for tests.
func WithClock(now func() time.Time) ManagerOption {
	return func(m *Manager) { m.now, m.realClock = now, false }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) ManagerOption { return func(m *Manager) { m.log = l } }

// WithLockTTL sets the store lock's TTL: the longest a crashed refresher can hold the others
// back (default 10 s).
func WithLockTTL(d time.Duration) ManagerOption { return func(m *Manager) { m.lockTTL = d } }

// WithWaitBound sets the longest an instance that did not get the lock waits for the holder's
// token before fetching itself (default 3 s). The wait ends earlier as soon as the holder
// stores a token or releases the lock without one, so it only runs to the bound when the
// holder's own fetch is that slow (or the holder died holding the lock).
func WithWaitBound(d time.Duration) ManagerOption { return func(m *Manager) { m.waitBound = d } }

// WithFetchTimeout bounds one shared fetch, whichever caller started it (default 15 s).
func WithFetchTimeout(d time.Duration) ManagerOption {
	return func(m *Manager) { m.fetchTimeout = d }
}

// WithStoreTimeout bounds each store operation (default 1 s); the Redis client's own
// timeouts are shorter.
func WithStoreTimeout(d time.Duration) ManagerOption {
	return func(m *Manager) { m.storeTimeout = d }
}

// WithBreaker sets after how many consecutive store failures the breaker opens (default 1)
// and how long it stays open before one probe (default 5 s).
func WithBreaker(threshold int, cooldown time.Duration) ManagerOption {
	return func(m *Manager) { m.brThreshold, m.brCooldown = threshold, cooldown }
}

// WithBreakerClock swaps the breaker's clock, for tests.
func WithBreakerClock(now func() time.Time) ManagerOption {
	return func(m *Manager) { m.brNow = now }
}

// WithSourceName sets the name reported in RefreshReport.Source (default "stable", or
// "store" for a read-only manager).
func WithSourceName(name string) ManagerOption { return func(m *Manager) { m.source = name } }

// NewManager returns a Manager for key (the appid). f fetches from WeChat; a nil f makes the
// manager read-only (TOKEN_SOURCE=store): it never calls WeChat and answers ErrNoToken when
// the store has no usable token.
func NewManager(key string, f Fetcher, opts ...ManagerOption) (*Manager, error) {
	if key == "" {
		return nil, errors.New("token manager needs a key (the appid)")
	}
	m := &Manager{
		key:          key,
		fetcher:      f,
		margin:       DefaultMargin,
		lockTTL:      DefaultLockTTL,
		waitBound:    DefaultWaitBound,
		fetchTimeout: DefaultFetchTimeout,
		storeTimeout: DefaultStoreTimeout,
		now:          time.Now,
		realClock:    true,
		log:          slog.Default(),
		brThreshold:  1,
		brCooldown:   DefaultBreakerCooldown,
		brNow:        time.Now,
	}
	if f == nil {
		m.source = SourceStore
	} else {
		m.source = SourceStable
	}
	for _, o := range opts {
		o(m)
	}
	if m.store == nil {
		m.store = NewMemoryStore()
	}
	if m.margin < 0 || m.lockTTL <= 0 || m.waitBound < 0 || m.fetchTimeout <= 0 || m.storeTimeout <= 0 {
		return nil, errors.New("token manager durations must be positive")
	}
	// The breaker stops requests from waiting on a store that is timing out: after threshold
	// consecutive failures it opens, lets one probe through every cooldown and closes on the
	// first success, logging one line each way.
	m.br = breaker.New(breaker.Options{
		Threshold:   m.brThreshold,
		Cooldown:    m.brCooldown,
		Now:         m.brNow,
		Logger:      m.log,
		DownMessage: "token store is unavailable; serving tokens fetched directly until it answers",
		UpMessage:   "token store is available again; using the shared token",
	})
	m.base = m.now()
	return m, nil
}

// Fetches returns how many fetches this manager made from WeChat.
func (m *Manager) Fetches() int64 { return m.fetches.Load() }

// LockWaitsEnded returns how many times a wait for another instance's refresh ended because
// that instance released the lock without storing a token (its fetch failed or its forced
// refresh was refused), after which this manager tried itself at once.
func (m *Manager) LockWaitsEnded() int64 { return m.lockWaitsEnded.Load() }

// Close closes the store.
func (m *Manager) Close() error { return m.store.Close() }

// Token implements Source. The cached path takes no lock and allocates nothing.
func (m *Manager) Token(ctx context.Context) (Token, error) {
	if e := m.cur.Load(); e != nil && m.sinceBase() < e.refreshAfter {
		if e.unsynced {
			m.trySync(ctx, e)
		}
		return e.tok, nil
	}
	return m.slow(ctx)
}

// sinceBase is the current time as a duration since m.base.
func (m *Manager) sinceBase() time.Duration {
	if m.realClock {
		return time.Since(m.base)
	}
	return m.now().Sub(m.base)
}

func (m *Manager) slow(ctx context.Context) (Token, error) {
	// The shared work runs detached from the first caller's context, so that one caller
	// giving up does not fail the others; each caller still stops waiting at its own deadline.
	ch := m.sf.DoChan("token", func() (any, error) {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.fetchTimeout)
		defer cancel()
		return m.obtain(c)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(Token), nil
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// obtain finds or fetches a usable token; only one runs at a time per process.
func (m *Manager) obtain(ctx context.Context) (Token, error) {
	now := m.now()
	e := m.cur.Load()
	if e != nil && now.Before(e.refreshAt) {
		return e.tok, nil
	}
	// A token inside the margin but not yet expired is a fallback if WeChat cannot be
	// reached: serving it beats failing the request.
	var stale Token
	if e != nil && m.servable(e.tok, now) {
		stale = e.tok
	}
	if m.br.Allow() {
		t, err := m.storeGet(ctx)
		if err == nil && m.servable(t, now) && !t.ExpiresAt.Before(stale.ExpiresAt) {
			stale = t
		}
		switch {
		case err == nil && m.usable(t, now):
			return m.adopt(t, false), nil
		case err == nil || errors.Is(err, ErrNotFound):
			if m.fetcher == nil {
				return Token{}, ErrNoToken
			}
			t, err := m.coordinatedFetch(ctx)
			var se *storeError
			if err == nil {
				return t, nil
			}
			if !errors.As(err, &se) {
				return m.fallback(stale, err)
			}
		}
	}
	// The store is down or was just found failing.
	if m.fetcher == nil {
		return Token{}, fmt.Errorf("%w (the token store is unavailable)", ErrNoToken)
	}
	t, err := m.fetchChecked(ctx)
	if err != nil {
		return m.fallback(stale, err)
	}
	return m.adopt(t, true), nil
}

// servable reports whether t is unexpired and not rejected, margin aside.
func (m *Manager) servable(t Token, now time.Time) bool {
	return t.Value != "" && t.ValidAt(now, 0) && !m.isRejected(t.Value)
}

// fallback serves a still-valid token when a fetch failed, or returns the failure.
func (m *Manager) fallback(stale Token, err error) (Token, error) {
	if stale.Value == "" {
		return Token{}, err
	}
	m.log.Warn("token fetch failed; serving the current token until it expires", "error", err.Error(),
		"expiresAt", stale.ExpiresAt)
	return m.adopt(stale, false), nil
}

// coordinatedFetch fetches under the store lock, or waits for the holder's result.
func (m *Manager) coordinatedFetch(ctx context.Context) (Token, error) {
	unlock, ok, err := m.storeLock(ctx)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		t, found, u, err := m.waitHolder(ctx, m.waitBound)
		switch {
		case err != nil:
			return Token{}, err
		case found:
			return m.adopt(t, false), nil
		case u == nil:
			// The holder is slow or dead and still holds the lock: fetch anyway,
			// stable_token in normal mode hands everyone the same token.
			return m.fetchAndPut(ctx)
		}
		// The holder let go without storing a usable token (its fetch failed, or its force
		// was refused): this caller tries once itself, as the holder now.
		unlock = u
	}
	defer m.storeUnlock(ctx, unlock)
	// Another holder may have stored a token between our miss and our lock.
	if t, err := m.storeGet(ctx); err == nil && m.usable(t, m.now()) {
		return m.adopt(t, false), nil
	}
	return m.fetchAndPut(ctx)
}

func (m *Manager) fetchAndPut(ctx context.Context) (Token, error) {
	t, err := m.fetchChecked(ctx)
	if err != nil {
		return Token{}, err
	}
	putErr := m.storePut(ctx, t)
	return m.adopt(t, putErr != nil), nil
}

// fetchChecked fetches in normal mode and forces a refresh only when WeChat returns the very
// token it just rejected, within the force limits shared through the store. When a force is
// not allowed yet it looks once in the store, where another instance may have put a newer
// token, and otherwise answers *ForceLimitedError at once: waiting here would hold every
// request for seconds with little chance of a new token.
func (m *Manager) fetchChecked(ctx context.Context) (Token, error) {
	t, err := m.fetch(ctx, false)
	if err != nil {
		return Token{}, err
	}
	if !m.isRejected(t.Value) {
		return t, nil
	}
	allowed, wait := m.reserveForce(ctx)
	if allowed {
		m.log.Warn("WeChat returned the token it had just rejected; forcing a refresh")
		return m.fetch(ctx, true)
	}
	if m.br.Allow() {
		if t, err := m.storeGet(ctx); err == nil && m.usable(t, m.now()) {
			return t, nil
		}
	}
	return Token{}, &ForceLimitedError{Wait: wait}
}

func (m *Manager) fetch(ctx context.Context, force bool) (Token, error) {
	m.fetches.Add(1)
	t, err := m.fetcher.Fetch(ctx, force)
	if err != nil {
		return Token{}, fmt.Errorf("fetch access token: %w", err)
	}
	if t.Value == "" {
		return Token{}, errors.New("fetch access token: WeChat returned an empty token")
	}
	if t.FetchedAt.IsZero() {
		t.FetchedAt = m.now()
	}
	return t, nil
}

// reserveForce counts one force_refresh against the limits shared through the store (or, with
// the store down, this process's own) and reports whether it may be made, and if not, how
// long until it may.
func (m *Manager) reserveForce(ctx context.Context) (ok bool, wait time.Duration) {
	now := m.now()
	if m.br.Allow() {
		err := m.storeOp(ctx, "reserve force_refresh", func(c context.Context) (err error) {
			ok, wait, err = m.store.ReserveForce(c, m.key, now)
			return err
		})
		if err == nil {
			return ok, wait
		}
	}
	// Without the store, this instance still keeps to the limits on its own.
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.localForce.reserve(now)
}

// waitHolder waits for the instance holding the refresh lock. It polls the store with
// jittered backoff and ends at the first of: the store holds a usable token (found); the lock
// is free again and this caller took it (unlock is non-nil; the holder finished without
// storing a usable token, as during a token-rejection storm when its force was refused);
// bound passes (neither). So a waiter waits no longer than the holder's own attempt, capped
// by bound; it never polls on after the holder has given up. Waiting is real time, not the
// swappable clock.
func (m *Manager) waitHolder(ctx context.Context, bound time.Duration) (t Token, found bool, unlock Unlock, err error) {
	deadline := time.Now().Add(bound)
	delay := 5 * time.Millisecond
	for {
		t, err := m.storeGet(ctx)
		switch {
		case err == nil && m.usable(t, m.now()):
			return t, true, nil, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return Token{}, false, nil, err
		}
		u, ok, err := m.storeLock(ctx)
		switch {
		case err != nil:
			return Token{}, false, nil, err
		case ok:
			m.lockWaitsEnded.Add(1)
			return Token{}, false, u, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return Token{}, false, nil, nil
		}
		d := delay/2 + rand.N(delay/2+1)
		if d > left {
			d = left
		}
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return Token{}, false, nil, ctx.Err()
		case <-tm.C:
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// usable reports whether a token read from the store may be served.
func (m *Manager) usable(t Token, now time.Time) bool {
	if t.Value == "" || m.isRejected(t.Value) {
		return false
	}
	if m.fetcher == nil {
		// A read-only instance cannot refresh: it serves the stored token to its real expiry.
		return t.ValidAt(now, 0)
	}
	return t.ValidAt(now, m.margin)
}

// minHold is how long a token already inside the margin is cached, so that a token that can
// only be renewed later (stable_token returns the same token until 5 min before expiry) does
// not make every call fetch.
const minHold = 30 * time.Second

func (m *Manager) adopt(t Token, unsynced bool) Token {
	now := m.now()
	ra := t.ExpiresAt.Add(-m.margin)
	if t.ExpiresAt.IsZero() {
		ra = now.Add(24 * time.Hour)
	} else if !now.Before(ra) {
		hold := t.ExpiresAt.Sub(now) / 2
		if hold > minHold {
			hold = minHold
		}
		ra = now.Add(hold)
	}
	m.cur.Store(&entry{tok: t, refreshAt: ra, refreshAfter: ra.Sub(m.base), unsynced: unsynced})
	return t
}

// isRejected reports whether WeChat recently rejected v. A few values are kept because a slow
// request may report an older token after a newer one was rejected too.
func (m *Manager) isRejected(v string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rejected {
		if r != "" && r == v {
			return true
		}
	}
	return false
}

// Invalidate implements Invalidator: the rejected token leaves the process cache and, if it
// is still the stored one, the store; the next Token call fetches.
func (m *Manager) Invalidate(ctx context.Context, rejected string) error {
	if rejected == "" {
		return nil
	}
	m.mu.Lock()
	if m.rejected[0] != rejected {
		copy(m.rejected[1:], m.rejected[:len(m.rejected)-1])
		m.rejected[0] = rejected
	}
	m.mu.Unlock()
	for {
		e := m.cur.Load()
		if e == nil || e.tok.Value != rejected || m.cur.CompareAndSwap(e, nil) {
			break
		}
	}
	if m.fetcher == nil {
		// Read-only: the token centre owns the store; we only stop serving the value.
		return nil
	}
	if m.br.Allow() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.storeTimeout)
		defer cancel()
		_ = m.storeOp(c, "compare-and-delete", func(c context.Context) error {
			_, err := m.store.CompareAndDelete(c, m.key, rejected)
			return err
		})
	}
	return nil
}

// Refresh refreshes the token when less than lead remains (timer invocations and the
// refresh-token command) and reports the result.
func (m *Manager) Refresh(ctx context.Context, lead time.Duration) (RefreshReport, error) {
	ch := m.sf.DoChan("refresh", func() (any, error) {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.fetchTimeout)
		defer cancel()
		return m.refresh(c, lead)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return RefreshReport{Source: m.source}, r.Err
		}
		return r.Val.(RefreshReport), nil
	case <-ctx.Done():
		return RefreshReport{Source: m.source}, ctx.Err()
	}
}

func (m *Manager) refresh(ctx context.Context, lead time.Duration) (RefreshReport, error) {
	if m.fetcher == nil {
		return m.refreshReadOnly(ctx)
	}
	fresh := func(t Token) bool { return t.Value != "" && m.now().Add(lead).Before(t.ExpiresAt) }
	if m.br.Allow() {
		if rep, done, err := m.refreshShared(ctx, fresh); done {
			return rep, err
		}
	}
	return m.refreshLocal(ctx, fresh)
}

// refreshReadOnly reports the stored token: a read-only instance never fetches.
func (m *Manager) refreshReadOnly(ctx context.Context) (RefreshReport, error) {
	t, err := m.Token(ctx)
	if err != nil {
		return RefreshReport{Source: m.source}, err
	}
	return m.report(t, false), nil
}

// refreshShared refreshes through the store: a fresh stored token is reported as it is;
// otherwise the lock holder fetches and stores, and an instance that did not get the lock
// reports what the holder stores. done is false when the store could not settle it (it
// failed, or the holder stored nothing in time); the caller then refreshes on its own.
func (m *Manager) refreshShared(ctx context.Context, fresh func(Token) bool) (rep RefreshReport, done bool, err error) {
	t, ok, err := m.freshStored(ctx, fresh)
	if err != nil {
		return RefreshReport{}, false, nil
	}
	if ok {
		return m.report(m.adopt(t, false), false), true, nil
	}
	unlock, locked, err := m.storeLock(ctx)
	if err != nil {
		return RefreshReport{}, false, nil
	}
	if !locked {
		// Another instance is refreshing right now: report what it stores, or refresh
		// as the holder if it let go without storing.
		t, found, u, err := m.waitHolder(ctx, m.waitBound)
		switch {
		case err != nil || (!found && u == nil):
			return RefreshReport{}, false, nil
		case found:
			return m.report(m.adopt(t, false), false), true, nil
		}
		unlock = u
	}
	defer m.storeUnlock(ctx, unlock)
	// Another holder may have stored a fresh token between our read and our lock.
	if t, ok, _ := m.freshStored(ctx, fresh); ok {
		return m.report(m.adopt(t, false), false), true, nil
	}
	t, err = m.fetchAndPut(ctx)
	if err != nil {
		return RefreshReport{Source: m.source}, true, err
	}
	return m.report(t, true), true, nil
}

// freshStored reads the store: ok when it holds a usable token that is fresh; err only when
// the store itself failed (a miss is not an error).
func (m *Manager) freshStored(ctx context.Context, fresh func(Token) bool) (Token, bool, error) {
	t, err := m.storeGet(ctx)
	var se *storeError
	switch {
	case errors.As(err, &se):
		return Token{}, false, err
	case err == nil && m.usable(t, m.now()) && fresh(t):
		return t, true, nil
	}
	return Token{}, false, nil
}

// refreshLocal refreshes without the store: the process's own token when it is fresh, else
// a fetch, kept marked unsynced so that it is written to the store once it answers.
func (m *Manager) refreshLocal(ctx context.Context, fresh func(Token) bool) (RefreshReport, error) {
	if e := m.cur.Load(); e != nil && fresh(e.tok) {
		return m.report(e.tok, false), nil
	}
	t, err := m.fetchChecked(ctx)
	if err != nil {
		return RefreshReport{Source: m.source}, err
	}
	m.adopt(t, true)
	return m.report(t, true), nil
}

// report is the RefreshReport for token t; refreshed says whether this call fetched it.
func (m *Manager) report(t Token, refreshed bool) RefreshReport {
	return RefreshReport{Refreshed: refreshed, ExpiresAt: t.ExpiresAt, Source: m.source}
}

// trySync writes a token fetched during a store outage back to the store once the breaker
// lets a probe through, so the other instances can use it. One caller at a time does it.
func (m *Manager) trySync(ctx context.Context, e *entry) {
	if !m.syncing.CompareAndSwap(false, true) {
		return
	}
	defer m.syncing.Store(false)
	if !m.br.Allow() {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.storeTimeout)
	defer cancel()
	t, err := m.storeGet(c)
	if err == nil && m.usable(t, m.now()) {
		// The store has a token of its own (stable_token gives all instances the same one).
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return
	} else if m.storePut(c, e.tok) != nil {
		return
	}
	m.cur.CompareAndSwap(e, &entry{tok: e.tok, refreshAt: e.refreshAt, refreshAfter: e.refreshAfter})
}

// storeError marks a failure of the store itself, as opposed to a miss or a WeChat error.
type storeError struct {
	op  string
	err error
}

func (e *storeError) Error() string { return "token store " + e.op + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// storeOp runs one store operation under the store timeout and feeds the breaker.
func (m *Manager) storeOp(ctx context.Context, op string, f func(context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, m.storeTimeout)
	defer cancel()
	err := f(c)
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		m.br.Success()
		return err
	case ctx.Err() != nil:
		// The caller gave up (a client that hung up, its own deadline): that says nothing
		// about the store, so the breaker neither counts it nor waits for it.
		m.br.Cancel()
	default:
		m.br.Failure(err)
	}
	return &storeError{op: op, err: err}
}

func (m *Manager) storeGet(ctx context.Context) (Token, error) {
	var t Token
	err := m.storeOp(ctx, "get", func(c context.Context) (err error) {
		t, err = m.store.Get(c, m.key)
		return err
	})
	return t, err
}

func (m *Manager) storePut(ctx context.Context, t Token) error {
	return m.storeOp(ctx, "put", func(c context.Context) error { return m.store.Put(c, m.key, t) })
}

func (m *Manager) storeLock(ctx context.Context) (Unlock, bool, error) {
	var (
		u  Unlock
		ok bool
	)
	err := m.storeOp(ctx, "lock", func(c context.Context) (err error) {
		u, ok, err = m.store.TryLock(c, m.key, m.lockTTL)
		return err
	})
	return u, ok, err
}

func (m *Manager) storeUnlock(ctx context.Context, u Unlock) {
	_ = m.storeOp(context.WithoutCancel(ctx), "unlock", func(c context.Context) error { return u(c) })
}
