package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wxocr/scf-idcard-ocr/bench/internal/bigcard"
	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// build Go supports (the kernel ABI fixes it; CONFIG_HZ does not change it).
const clockTicks = 100

// cmdVersus measures this function's `serve` against a peer server on the imageUrl path, side
// by side in one run: one in-process emulator (one API listener per server, so each server's
// upstream connections are counted apart) and one image server, both on loopback. Per
// concurrency level it runs rounds in ABBA order so that drift in the machine's load falls on
// both alike. It prints a Markdown table of the two servers' figures and their ratios.
func cmdVersus(args []string) error {
	fl := flag.NewFlagSet("versus", flag.ContinueOnError)
	ours := fl.String("ours", "", "this function's binary (run as `BIN serve --addr ADDR`)")
	peer := fl.String("peer", "", "peer binary (reads ADDR, WX_API_BASE, WX_APPID, WX_APPSECRET)")
	concs := fl.String("conc", "16,64", "concurrency levels")
	n := fl.Int("n", 2000, "requests per server per round")
	rounds := fl.Int("rounds", 4, "rounds per concurrency level (ABBA order)")
	starts := fl.Int("starts", 10, "cold starts per server, timed to the first successful response")
	deadline := fl.Duration("timeout", 10*time.Minute, "give up after this long")
	oursLog := fl.String("ours-log", "", "append this function's stderr (its log) to this file")
	var oursEnv []string
	fl.Func("ours-env", "KEY=VALUE added to this function's environment (repeatable), e.g. LOG_LEVEL=debug", func(v string) error {
		oursEnv = append(oursEnv, v)
		return nil
	})
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *ours == "" || *peer == "" {
		return errors.New("-ours and -peer are required")
	}
	var levels []int
	for _, s := range strings.Split(*concs, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return fmt.Errorf("-conc: bad level %q", s)
		}
		levels = append(levels, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()

	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.close()
	work, err := os.MkdirTemp("", "versus-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	servers := []*server{
		{name: "this function", bin: *ours, api: up.api[0], work: work, ours: true, extraEnv: oursEnv, logPath: *oursLog},
		{name: "peer", bin: *peer, api: up.api[1], work: work},
	}
	body, err := json.Marshal(map[string]string{"imageUrl": up.imageURL})
	if err != nil {
		return err
	}

	// Cold starts, alternating which server goes first.
	for i := 0; i < *starts; i++ {
		for j := range servers {
			s := servers[(i+j)%2]
			d, rss, err := s.coldStart(ctx, body)
			if err != nil {
				return fmt.Errorf("%s: cold start %d: %w", s.name, i, err)
			}
			s.startDurs = append(s.startDurs, d)
			s.idleRSS = append(s.idleRSS, rss)
		}
	}

	// Load: both servers up for the whole phase, warmed by one request (their token fetched).
	for _, s := range servers {
		if err := s.start(ctx); err != nil {
			return err
		}
		defer s.stop()
		if err := s.waitReady(ctx, body); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	for _, c := range levels {
		for r := 0; r < *rounds; r++ {
			order := servers
			if r%2 == 1 {
				order = []*server{servers[1], servers[0]}
			}
			for _, s := range order {
				if err := s.load(ctx, c, *n, body); err != nil {
					return fmt.Errorf("%s at %d connections: %w", s.name, c, err)
				}
			}
		}
	}
	for _, s := range servers {
		s.peakRSS, err = procKB(s.cmd.Process.Pid, "VmHWM")
		if err != nil {
			return err
		}
	}
	printVersus(servers, levels, *n, *rounds, *starts)
	return nil
}

// upstream is the emulator (WeChat) with one counted listener per server, and an image server.
type upstream struct {
	api      [2]*countedListener
	imageURL string
	srvs     []*http.Server
}

// countedListener counts the requests served and the connections accepted on one listener.
type countedListener struct {
	base     string
	requests atomic.Int64
	conns    atomic.Int64
}

func startUpstream() (*upstream, error) {
	files := emulator.SampleFiles()
	front, err := fs.ReadFile(files, "cards/front.png")
	if err != nil {
		return nil, err
	}
	emu := emulator.New(emulator.Options{Files: files})
	up := &upstream{}
	serve := func(h http.Handler, cl *countedListener) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		if cl != nil {
			srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cl.requests.Add(1)
				h.ServeHTTP(w, r)
			})
			srv.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					cl.conns.Add(1)
				}
			}
		}
		up.srvs = append(up.srvs, srv)
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	for i := range up.api {
		up.api[i] = &countedListener{}
		if up.api[i].base, err = serve(emu.Handler(), up.api[i]); err != nil {
			return nil, err
		}
	}
	img := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(front)
	})
	base, err := serve(img, nil)
	if err != nil {
		return nil, err
	}
	up.imageURL = base + "/cards/front.png"
	return up, nil
}

func (u *upstream) close() {
	for _, s := range u.srvs {
		_ = s.Close()
	}
}

// server is one server under test and what was measured of it.
type server struct {
	name string
	bin  string
	api  *countedListener
	work string
	ours bool

	extraEnv []string
	logPath  string

	cmd    *exec.Cmd
	url    string
	client *http.Client

	startDurs []time.Duration
	idleRSS   []int64
	peakRSS   int64
	levels    map[int]*levelStats
}

type levelStats struct {
	ok, failed   int
	wall         time.Duration
	cpuTicks     int64
	lat          []time.Duration
	upReq, upNew int64
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start launches the server on a free loopback port. Ours runs as deployed as a web function
// (`serve`) with an in-memory token store (as the peer's cache), API keys, no rate limits
// (every request comes from one caller) and no result cache (every request sends the same
// URL; the peer has none, and the work is what is measured); the image server is trusted.
func (s *server) start(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.url = "http://" + addr + "/v1/idcard"
	env := append(os.Environ(), "WX_APPID="+emulator.DefaultAppID, "WX_APPSECRET="+emulator.DefaultSecret, "WX_API_BASE="+s.api.base)
	if s.ours {
		s.cmd = exec.CommandContext(ctx, s.bin, "serve", "--addr", addr)
		env = append(env, "TOKEN_SOURCE=stable", "TOKEN_STORE=memory://", "API_KEYS="+versusKey,
			"RATE_LIMIT_PER_MINUTE=0", "RATE_LIMIT_PER_DAY=0", "RESULT_CACHE_TTL=0", "LOG_LEVEL=info", "IMAGE_URL_TRUSTED_HOSTS=127.0.0.1",
			"WX_CLOUD_ENV=", "IMAGE_URL_ALLOW_HOSTS=")
	} else {
		s.cmd = exec.CommandContext(ctx, s.bin)
		env = append(env, "ADDR="+addr)
	}
	s.cmd.Env = append(env, s.extraEnv...)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	if s.logPath != "" {
		f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close() // the child has its own descriptor once started
		s.cmd.Stderr = f
	}
	s.client = &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 256, DisableCompression: true, IdleConnTimeout: time.Minute,
	}, Timeout: 30 * time.Second}
	return s.cmd.Start()
}

const versusKey = "bench-versus-key-0123456789"

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.client.CloseIdleConnections()
	s.cmd = nil
}

// post sends one recognition and checks that the answer names the sample card.
func (s *server) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+versusKey)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(bigcard.IDNumber)) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, describe(out))
	}
	return nil
}

// waitReady polls until the first successful recognition (connection refused while the process
// starts: retried every 200 µs) and returns the time since the process was started.
func (s *server) waitReady(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := s.post(ctx, body)
		if err == nil {
			return nil
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// coldStart starts the server, times it to its first successful response (which includes its
// token fetch, as on a new instance), reads its RSS after a second at rest, and stops it.
func (s *server) coldStart(ctx context.Context, body []byte) (time.Duration, int64, error) {
	t0 := time.Now()
	if err := s.start(ctx); err != nil {
		return 0, 0, err
	}
	defer s.stop()
	if err := s.waitReady(ctx, body); err != nil {
		return 0, 0, err
	}
	d := time.Since(t0)
	time.Sleep(time.Second)
	rss, err := procKB(s.cmd.Process.Pid, "VmRSS")
	return d, rss, err
}

// load sends n requests from c concurrent clients (each its own keep-alive connection) and adds
// the server's CPU time, the latencies and the upstream counters to the level's figures.
func (s *server) load(ctx context.Context, c, n int, body []byte) error {
	if s.levels == nil {
		s.levels = map[int]*levelStats{}
	}
	st := s.levels[c]
	if st == nil {
		st = &levelStats{}
		s.levels[c] = st
	}
	pid := s.cmd.Process.Pid
	cpu0, err := procCPUTicks(pid)
	if err != nil {
		return err
	}
	req0, new0 := s.api.requests.Load(), s.api.conns.Load()
	var next atomic.Int64
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				errs[i] = s.post(ctx, body)
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := procCPUTicks(pid)
	if err != nil {
		return err
	}
	st.wall += wall
	st.cpuTicks += cpu1 - cpu0
	st.upReq += s.api.requests.Load() - req0
	st.upNew += s.api.conns.Load() - new0
	var firstErr error
	for i, e := range errs {
		if e != nil {
			st.failed++
			if firstErr == nil {
				firstErr = e
			}
			continue
		}
		st.ok++
		st.lat = append(st.lat, lat[i])
	}
	if st.failed > n/100 {
		return fmt.Errorf("%d of %d requests failed, first: %w", st.failed, n, firstErr)
	}
	return nil
}

// procCPUTicks is utime+stime of the whole process (every thread, live or exited).
func procCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return statTicks(b)
}

// statTicks reads utime+stime from the text of /proc/PID/stat (proc(5)): fields 14 and 15,
// counted after the command name, which is in parentheses and may hold spaces and ')'.
func statTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+2:])) // from field 3, the state
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("stat: utime or stime is not a number")
	}
	return ut + st, nil
}

// procKB reads a "Vm…:  N kB" line of /proc/PID/status.
func procKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func percentile(s []time.Duration, p float64) time.Duration {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// printVersus prints the Markdown table: each figure for both servers and this/peer.
func printVersus(sv []*server, levels []int, n, rounds, starts int) {
	a, b := sv[0], sv[1]
	row := func(fig, va, vb string, ratio float64, goal string, met bool) {
		m := "no"
		switch {
		case goal == "—":
			m = "—" // no goal: shown for comparison
		case met:
			m = "yes"
		}
		fmt.Printf("| %s | %s | %s | %.2fx | %s | %s |\n", fig, va, vb, ratio, goal, m)
	}
	fmt.Printf("| Figure | this function | peer | this / peer | Goal | Met |\n|---|---|---|---|---|---|\n")
	for _, c := range levels {
		la, lb := a.levels[c], b.levels[c]
		cpuA := float64(la.cpuTicks) * 1e3 / clockTicks / float64(la.ok) // ms per request
		cpuB := float64(lb.cpuTicks) * 1e3 / clockTicks / float64(lb.ok)
		row(fmt.Sprintf("server CPU per request, %d connections", c), fmt.Sprintf("%.3f ms", cpuA), fmt.Sprintf("%.3f ms", cpuB), cpuA/cpuB, "≤ 0.8x", cpuA/cpuB <= 0.8)
		tA := float64(la.ok) / la.wall.Seconds()
		tB := float64(lb.ok) / lb.wall.Seconds()
		row(fmt.Sprintf("throughput, %d connections", c), fmt.Sprintf("%.0f req/s", tA), fmt.Sprintf("%.0f req/s", tB), tA/tB, "≥ 1.2x", tA/tB >= 1.2)
		pA, pB := percentile(la.lat, 0.99), percentile(lb.lat, 0.99)
		row(fmt.Sprintf("p99 latency, %d connections", c), fmt.Sprintf("%.2f ms", msf(pA)), fmt.Sprintf("%.2f ms", msf(pB)), msf(pA)/msf(pB), "—", pA <= pB)
		nA := 100 * float64(la.upNew) / float64(max(la.upReq, 1))
		nB := 100 * float64(lb.upNew) / float64(max(lb.upReq, 1))
		goal := "—" // the goal is set for 64 concurrent requests
		if c >= 64 {
			goal = "< 1%"
		}
		row(fmt.Sprintf("upstream calls on a new connection, %d connections", c), fmt.Sprintf("%.2f%% (%d of %d)", nA, la.upNew, la.upReq), fmt.Sprintf("%.2f%% (%d of %d)", nB, lb.upNew, lb.upReq), nA/max(nB, 0.01), goal, nA < 1)
	}
	sa, sb := medianDur(a.startDurs), medianDur(b.startDurs)
	row(fmt.Sprintf("process start to first successful response (median of %d)", starts), fmt.Sprintf("%.1f ms", msf(sa)), fmt.Sprintf("%.1f ms", msf(sb)), msf(sa)/msf(sb), "≤ 1x", sa <= sb)
	ia, ib := medianInt(a.idleRSS), medianInt(b.idleRSS)
	row("idle RSS (1 s after the first response, median)", mbKB(ia), mbKB(ib), float64(ia)/float64(ib), "≤ 1.2x", float64(ia) <= 1.2*float64(ib))
	row("peak RSS after the load (VmHWM)", mbKB(a.peakRSS), mbKB(b.peakRSS), float64(a.peakRSS)/float64(b.peakRSS), "—", a.peakRSS <= b.peakRSS)
	if fa, err := os.Stat(a.bin); err == nil {
		if fb, err := os.Stat(b.bin); err == nil {
			za, zb := fa.Size(), fb.Size()
			row("binary as run (stripped: -trimpath -ldflags=\"-s -w\")", fmt.Sprintf("%.1f MB", float64(za)/1e6), fmt.Sprintf("%.1f MB", float64(zb)/1e6), float64(za)/float64(zb), "≤ 12 MB", za <= 12e6)
		}
	}
	fmt.Printf("\n%d requests per server per round, %d rounds per level in ABBA order; failed requests: ", n, rounds)
	for i, s := range sv {
		if i > 0 {
			fmt.Print(", ")
		}
		failed := 0
		for _, l := range s.levels {
			failed += l.failed
		}
		fmt.Printf("%s %d", s.name, failed)
	}
	fmt.Println(".")
}

func medianDur(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func msf(d time.Duration) float64 { return float64(d) / 1e6 }

func mbKB(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)*1024/1e6) }
