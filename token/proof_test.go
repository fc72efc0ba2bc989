package token_test

// Proofs of issue 4 §5 against a real redis-server and the WeChat emulator. The multi-process
// proofs re-execute this test binary as worker processes (see TestMain and runWorker).

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

const workerEnv = "TOKEN_PROOF_WORKER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerEnv); mode != "" {
		os.Exit(runWorker(mode))
	}
	os.Exit(m.Run())
}

// workerResult is what a worker process prints as its last stdout line.
type workerResult struct {
	OK      int      `json:"ok"`
	Failed  int      `json:"failed"`
	Fetches int64    `json:"fetches"`
	Forces  int64    `json:"forces"`
	Errors  []string `json:"errors"`
}

// countingFetcher counts fetches and forced fetches; delay makes the fetch slow before it
// reaches WeChat (the lock-holder-killed proof).
type countingFetcher struct {
	f       token.Fetcher
	delay   time.Duration
	fetches atomic.Int64
	forces  atomic.Int64
}

func (c *countingFetcher) Fetch(ctx context.Context, force bool) (token.Token, error) {
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return token.Token{}, ctx.Err()
		}
	}
	c.fetches.Add(1)
	if force {
		c.forces.Add(1)
	}
	return c.f.Fetch(ctx, force)
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// runWorker is one "instance": it builds a Manager on the shared Redis and the emulator, says
// "ready", waits for the go file, runs its load and prints a workerResult.
func runWorker(mode string) int {
	base := os.Getenv("PROOF_WX_BASE")
	cf := &countingFetcher{
		f:     wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(base)),
		delay: envDuration("PROOF_FETCH_DELAY", 0),
	}
	st, err := token.OpenStore(context.Background(), os.Getenv("PROOF_REDIS_URL"), token.WithKeyPrefix(os.Getenv("PROOF_PREFIX")))
	if err != nil {
		fmt.Println(`{"failed":1,"errors":["open store"]}`)
		return 1
	}
	m, err := token.NewManager(emulator.DefaultAppID, cf, token.WithStore(st),
		token.WithWaitBound(envDuration("PROOF_WAIT_BOUND", 20*time.Second)),
		token.WithLockTTL(envDuration("PROOF_LOCK_TTL", 30*time.Second)),
		token.WithFetchTimeout(time.Minute),
		token.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Println(`{"failed":1,"errors":["new manager"]}`)
		return 1
	}
	client, err := wechat.New(m, wechat.WithBaseURL(base))
	if err != nil {
		fmt.Println(`{"failed":1,"errors":["new client"]}`)
		return 1
	}
	fmt.Println("ready")
	goFile := os.Getenv("PROOF_GO_FILE")
	for deadline := time.Now().Add(time.Minute); goFile != ""; {
		if _, err := os.Stat(goFile); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	n, iters := envInt("PROOF_N", 50), envInt("PROOF_ITERS", 1)
	var (
		mu  sync.Mutex
		res workerResult
		wg  sync.WaitGroup
	)
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			res.OK++
			return
		}
		res.Failed++
		if len(res.Errors) < 5 {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				switch mode {
				case "token":
					_, err := m.Token(ctx)
					record(err)
				case "call":
					// A real API call with the token: 40001/42001 make the client invalidate
					// it, fetch again and retry once.
					_, err := client.BatchDownloadFile(ctx, "env1", []string{"cloud://env1.bucket/cards/front.png"}, time.Hour)
					record(err)
					time.Sleep(time.Millisecond)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	res.Fetches, res.Forces = cf.fetches.Load(), cf.forces.Load()
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return 0
}

// proofEnv is one proof's emulator, Redis and key prefix.
type proofEnv struct {
	t      *testing.T
	emu    *emulator.Emulator
	clock  *emuClock
	wxBase string
	redis  *redistest.Server
	rdb    *redis.Client
	prefix string
	// storeURL overrides the Redis URL handed to workers (file store proofs).
	storeURL string
}

type emuClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *emuClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *emuClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newProofEnv(t *testing.T) *proofEnv {
	t.Helper()
	clk := &emuClock{}
	emu := emulator.New(emulator.Options{Files: emulator.SampleFiles(), Now: clk.Now})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	rs := redistest.Start(t)
	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return &proofEnv{t: t, emu: emu, clock: clk, wxBase: srv.URL, redis: rs, rdb: rdb,
		prefix: fmt.Sprintf("proof:%s:%d:", t.Name(), time.Now().UnixNano())}
}

func (p *proofEnv) tokenKey() string { return p.prefix + emulator.DefaultAppID }

// worker is a started worker process.
type worker struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr *strings.Builder
}

func (p *proofEnv) startWorker(mode string, env ...string) *worker {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+mode,
		"PROOF_WX_BASE="+p.wxBase, "PROOF_REDIS_URL="+cmp.Or(p.storeURL, p.redis.URL), "PROOF_PREFIX="+p.prefix)
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	w := &worker{cmd: cmd, out: bufio.NewReader(stdout), stderr: &stderr}
	p.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := w.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		p.t.Fatalf("worker did not start: %q %v", line, err)
	}
	return w
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// result waits (bounded) for the worker's result line.
func (w *worker) result(t *testing.T) workerResult {
	t.Helper()
	type lineErr struct {
		line string
		err  error
	}
	ch := make(chan lineErr, 1)
	go func() {
		line, err := w.out.ReadString('\n')
		ch <- lineErr{line, err}
	}()
	select {
	case le := <-ch:
		var r workerResult
		if le.err != nil || json.Unmarshal([]byte(le.line), &r) != nil {
			t.Fatalf("worker result %q %v", le.line, le.err)
		}
		w.cmd.Wait()
		return r
	case <-time.After(3 * time.Minute):
		t.Fatal("worker gave no result within 3 minutes")
		return workerResult{}
	}
}

func goFile(t *testing.T) (path string, release func()) {
	path = filepath.Join(t.TempDir(), "go")
	return path, func() {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func sum(rs []workerResult) (r workerResult) {
	for _, x := range rs {
		r.OK += x.OK
		r.Failed += x.Failed
		r.Fetches += x.Fetches
		r.Forces += x.Forces
		r.Errors = append(r.Errors, x.Errors...)
	}
	return r
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process proof: skipped in -short mode")
	}
}

// tokenBurst starts procs worker processes that each make n concurrent Token calls, released
// together, and returns their summed results.
func (p *proofEnv) tokenBurst(t *testing.T, procs, n int) workerResult {
	t.Helper()
	gf, release := goFile(t)
	var ws []*worker
	for i := 0; i < procs; i++ {
		ws = append(ws, p.startWorker("token", "PROOF_N="+strconv.Itoa(n), "PROOF_GO_FILE="+gf))
	}
	release()
	var rs []workerResult
	for _, w := range ws {
		rs = append(rs, w.result(t))
	}
	return sum(rs)
}

// 8 processes x 50 concurrent Token calls on an empty store: exactly one stable_token fetch.
func TestProofEightProcessesOneFetch(t *testing.T) {
	skipShort(t)
	p := newProofEnv(t)
	total := p.tokenBurst(t, 8, 50)
	if total.OK != 400 || total.Failed != 0 {
		t.Fatalf("calls ok=%d failed=%d, want 400 and 0: %v", total.OK, total.Failed, total.Errors)
	}
	if total.Fetches != 1 {
		t.Fatalf("fetches across 8 processes = %d, want 1", total.Fetches)
	}
	if n := p.emu.Stats().Calls[emulator.PathStableToken]; n != 1 {
		t.Fatalf("emulator saw %d stable_token calls, want 1", n)
	}
	if p.rdb.Exists(context.Background(), p.tokenKey()).Val() != 1 {
		t.Fatal("the token is not in Redis")
	}
	t.Logf("8 processes x 50 calls: %d ok, %d stable_token fetch", total.OK, total.Fetches)
}

// The file store serialises the refresh across processes with flock: 8 processes x 50
// concurrent Token calls, one fetch.
func TestProofFileStoreEightProcessesOneFetch(t *testing.T) {
	skipShort(t)
	p := newProofEnv(t)
	dir := filepath.Join(t.TempDir(), "state")
	p.storeURL = "file://" + dir + "/token.json"
	total := p.tokenBurst(t, 8, 50)
	if total.OK != 400 || total.Failed != 0 || total.Fetches != 1 {
		t.Fatalf("ok=%d failed=%d fetches=%d, want 400, 0, 1: %v", total.OK, total.Failed, total.Fetches, total.Errors)
	}
	if n := p.emu.Stats().Calls[emulator.PathStableToken]; n != 1 {
		t.Fatalf("emulator saw %d stable_token calls, want 1", n)
	}
	fi, err := os.Stat(filepath.Join(dir, "token.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
}

// Under load from 8 processes the token is revoked, then expires: every call succeeds, with
// at most one fetch per rotation and at most one force_refresh.
func TestProofRotationUnderLoad(t *testing.T) {
	skipShort(t)
	p := newProofEnv(t)
	gf, release := goFile(t)
	const procs, n, iters = 8, 5, 60
	var ws []*worker
	for i := 0; i < procs; i++ {
		ws = append(ws, p.startWorker("call", "PROOF_N="+strconv.Itoa(n), "PROOF_ITERS="+strconv.Itoa(iters), "PROOF_GO_FILE="+gf))
	}
	release()
	total := procs * n * iters
	waitCalls := func(atLeast int) {
		for deadline := time.Now().Add(2 * time.Minute); p.emu.Stats().Calls[emulator.PathBatchDL] < atLeast; {
			if time.Now().After(deadline) {
				t.Fatalf("load stalled below %d calls", atLeast)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitCalls(total / 4)
	p.emu.Revoke() // rotation 1: every issued token answers 40001
	waitCalls(total / 2)
	p.clock.Advance(2*time.Hour + time.Minute) // rotation 2: the token expires (42001)
	var rs []workerResult
	for _, w := range ws {
		rs = append(rs, w.result(t))
	}
	sumr := sum(rs)
	st := p.emu.Stats()
	t.Logf("calls ok=%d failed=%d; fetches=%d forces=%d; emulator stable_token=%d tokensIssued=%d",
		sumr.OK, sumr.Failed, sumr.Fetches, sumr.Forces, st.Calls[emulator.PathStableToken], st.TokensIssued)
	if sumr.Failed != 0 || sumr.OK != total {
		t.Fatalf("ok=%d failed=%d, want all %d ok: %v", sumr.OK, sumr.Failed, total, sumr.Errors)
	}
	// Initial fetch + one per rotation.
	if sumr.Fetches > 3 || st.Calls[emulator.PathStableToken] > 3 {
		t.Fatalf("fetches = %d (emulator %d), want at most 3 (1 + 1 per rotation)", sumr.Fetches, st.Calls[emulator.PathStableToken])
	}
	if st.TokensIssued != 3 {
		t.Fatalf("tokens issued = %d, want 3 (the load saw both rotations)", st.TokensIssued)
	}
	if sumr.Forces > 1 {
		t.Fatalf("force_refresh used %d times, want at most 1", sumr.Forces)
	}
}

// The lock holder is SIGKILLed mid-refresh; another process refreshes before the dead
// holder's lock expires.
func TestProofLockHolderKilled(t *testing.T) {
	skipShort(t)
	p := newProofEnv(t)
	ctx := context.Background()
	lockKey := p.tokenKey() + ":lock"
	holder := p.startWorker("token", "PROOF_N=1", "PROOF_FETCH_DELAY=10m", "PROOF_LOCK_TTL=60s")
	for deadline := time.Now().Add(time.Minute); p.rdb.Exists(ctx, lockKey).Val() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the holder never took the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := holder.cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	holder.cmd.Wait()
	other := p.startWorker("token", "PROOF_N=10", "PROOF_WAIT_BOUND=300ms")
	r := other.result(t)
	if r.OK != 10 || r.Failed != 0 || r.Fetches != 1 {
		t.Fatalf("other instance: %+v, want 10 ok with 1 fetch", r)
	}
	ttl := p.rdb.PTTL(ctx, lockKey).Val()
	if ttl <= 0 {
		t.Fatalf("the dead holder's lock is gone (PTTL %v): the refresh did not happen within its TTL", ttl)
	}
	if n := p.emu.Stats().Calls[emulator.PathStableToken]; n != 1 {
		t.Fatalf("stable_token calls = %d, want 1 (the killed holder never reached WeChat)", n)
	}
	if p.rdb.Exists(ctx, p.tokenKey()).Val() != 1 {
		t.Fatal("the other instance did not store the token")
	}
	t.Logf("refreshed by another process with the dead holder's lock still held for %v", ttl)
}

// Redis is stopped mid-load and the token is revoked while it is down: no call fails, one log
// line says so; Redis restarted: the shared store holds the token again.
func TestProofRedisOutageMidLoad(t *testing.T) {
	p := newProofEnv(t)
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st, err := token.OpenStore(context.Background(), p.redis.URL, token.WithKeyPrefix(p.prefix))
	if err != nil {
		t.Fatal(err)
	}
	cf := &countingFetcher{f: wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(p.wxBase))}
	m, err := token.NewManager(emulator.DefaultAppID, cf, token.WithStore(st), token.WithLogger(log),
		token.WithBreaker(1, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	client, err := wechat.New(m, wechat.WithBaseURL(p.wxBase))
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop   atomic.Bool
		ok     atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errs   []string
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000 && !stop.Load(); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := client.BatchDownloadFile(ctx, "env1", []string{"cloud://env1.bucket/cards/front.png"}, time.Hour)
				cancel()
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
				} else {
					ok.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	waitOK := func(n int64) {
		for deadline := time.Now().Add(time.Minute); ok.Load() < n; {
			if time.Now().After(deadline) || failed.Load() > 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitOK(50)
	p.redis.Stop()
	p.emu.Revoke() // the token must be replaced while the store is down
	before := ok.Load()
	waitOK(before + 100)
	p.redis.Restart() // empty: no persistence
	// Once the breaker lets a probe through, the token fetched directly is written back.
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); p.rdb.Exists(ctx, p.tokenKey()).Val() == 0; {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitOK(ok.Load() + 50)
	stop.Store(true)
	wg.Wait()
	t.Logf("calls ok=%d failed=%d fetches=%d", ok.Load(), failed.Load(), cf.fetches.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed: %v", failed.Load(), errs[:min(len(errs), 5)])
	}
	served, err := m.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Get(ctx, emulator.DefaultAppID)
	if err != nil || stored.Value != served.Value {
		t.Fatalf("after restart Redis holds a different token or none (%v): the store is not used again", err)
	}
	out := logs.String()
	if n := strings.Count(out, "token store is unavailable"); n != 1 {
		t.Fatalf("down log lines = %d, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "token store is available again"); n != 1 {
		t.Fatalf("back log lines = %d, want 1:\n%s", n, out)
	}
	if cf.fetches.Load() != 2 {
		t.Fatalf("fetches = %d, want 2 (initial + after the revocation)", cf.fetches.Load())
	}
}

// TOKEN_SOURCE=store on an empty store: ErrNoToken and not one WeChat call.
func TestProofStoreSourceEmptyStore(t *testing.T) {
	p := newProofEnv(t)
	ctx := context.Background()
	svc, err := token.New(ctx, token.Config{
		Source: token.SourceStore, AppID: emulator.DefaultAppID, StoreURL: p.redis.URL, KeyPrefix: p.prefix,
		Fetcher: wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(p.wxBase)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	client, err := wechat.New(svc, wechat.WithBaseURL(p.wxBase))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Token(ctx); !errors.Is(err, token.ErrNoToken) {
		t.Fatalf("Token: %v, want ErrNoToken", err)
	}
	_, err = client.BatchDownloadFile(ctx, "env1", []string{"cloud://env1.bucket/cards/front.png"}, time.Hour)
	if !errors.Is(err, token.ErrNoToken) {
		t.Fatalf("API call: %v, want an error wrapping ErrNoToken", err)
	}
	if _, err := svc.Refresh(ctx, 30*time.Minute); !errors.Is(err, token.ErrNoToken) {
		t.Fatalf("Refresh: %v, want ErrNoToken", err)
	}
	st := p.emu.Stats()
	calls := 0
	for _, n := range st.Calls {
		calls += n
	}
	if calls != 0 {
		t.Fatalf("emulator got %d calls, want 0: %v", calls, st.Calls)
	}
}

// WeChat rejects a token that its normal mode still hands out (the emulator's token is
// still current): 8 instances report it at once, and exactly one force_refresh replaces it.
func TestProofRejectedButStillCurrentForcesOnce(t *testing.T) {
	p := newProofEnv(t)
	ctx := context.Background()
	cf := &countingFetcher{f: wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(p.wxBase))}
	var ms []*token.Manager
	for i := 0; i < 8; i++ {
		st, err := token.OpenStore(ctx, p.redis.URL, token.WithKeyPrefix(p.prefix))
		if err != nil {
			t.Fatal(err)
		}
		m, err := token.NewManager(emulator.DefaultAppID, cf, token.WithStore(st),
			token.WithWaitBound(20*time.Second), token.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ms = append(ms, m)
	}
	first, err := ms[0].Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, m := range ms {
		for g := 0; g < 10; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = m.Invalidate(ctx, first.Value)
				tok, err := m.Token(ctx)
				if err != nil || tok.Value == first.Value {
					failed.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed or got the rejected token", failed.Load())
	}
	if f := cf.forces.Load(); f != 1 {
		t.Fatalf("force_refresh used %d times, want 1", f)
	}
	if n := p.emu.Stats().TokensIssued; n != 2 {
		t.Fatalf("tokens issued = %d, want 2", n)
	}
	t.Logf("80 calls after the rejection: %d fetches, %d forced", cf.fetches.Load(), cf.forces.Load())
}
