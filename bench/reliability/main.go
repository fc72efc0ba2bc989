// Command reliability runs the function as it runs in production, several `serve` instances
// sharing one real Redis, against the WeChat emulator, and breaks it on purpose: every fault
// the emulator can inject, Redis killed and restarted, the token lock holder killed
// mid-refresh, slow and stalled clients, malformed bodies, the SSRF corpus, and concurrent
// 2 MB uploads against the memory limit. It prints one table: per scenario, requests sent,
// answered correctly, failed (a wrong answer, or one later than the request deadline allows),
// lost (no answer), and the worst latency.
//
//	go run ./bench/reliability            # a few minutes
//	go run ./bench/reliability -short     # under a minute (.ci/run)
//	go run ./bench/reliability -bin OLD   # the same against another build (before/after)
//
// It asserts nothing about speed. It exits 1 when a request is lost, answered wrongly, answered
// past its deadline, or an instance's memory passes its limit. All traffic stays on loopback;
// every scenario is bounded in requests and time.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// requestTimeout is every instance's REQUEST_TIMEOUT. An answer later than it plus
// lateSlack is a request hung past its deadline; none later than clientTimeout is lost.
const (
	requestTimeout = 3 * time.Second
	lateSlack      = 2 * time.Second
	clientTimeout  = requestTimeout + 10*time.Second
)

// memoryLimit is the instance size the memory scenario holds the function to: the smallest
// SCF instance, with GOMEMLIMIT=48MiB as serverless.yml sets it.
const memoryLimit = 64 << 20

type suite struct {
	short  bool
	bin    string
	emu    *emulator.Emulator
	emuURL string
	redis  *redisServer
	fleet  []*instance
	rows   []row
	notes  []string
	failed bool

	stalledFigures string
	memFigures     []string
}

func main() {
	// Interrupted, the suite still stops what it started (they run in their own process
	// groups, so a terminal's ^C does not reach them).
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		killChildren()
		os.Exit(2)
	}()
	short := flag.Bool("short", false, "fewer requests and scenarios (CI)")
	bin := flag.String("bin", "", "the function binary to test (default: build this checkout)")
	instances := flag.Int("instances", 3, "serve instances sharing the Redis")
	only := flag.String("only", "", "comma-separated scenarios to run (load, faults, redis, lock, slow, bodies, ssrf, stalled, memory); default all")
	flag.Parse()
	if err := run(*short, *bin, *instances, *only); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(2)
	}
}

func run(short bool, bin string, n int, only string) error {
	s := &suite{short: short, bin: bin}
	if s.bin == "" {
		dir, err := os.MkdirTemp("", "idcard-reliability-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.bin = filepath.Join(dir, "main")
		build := exec.Command("go", "build", "-o", s.bin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	s.emu = emulator.New(emulator.Options{Files: emulator.SampleFiles()})
	emuSrv := httptest.NewServer(s.emu.Handler())
	defer emuSrv.Close()
	s.emuURL = emuSrv.URL
	var err error
	if s.redis, err = startRedis(); err != nil {
		return err
	}
	defer s.redis.kill()
	defer func() {
		for _, in := range s.fleet {
			in.stop()
		}
	}()
	for i := range n {
		in, err := startInstance(s.bin, fmt.Sprintf("serve-%d", i+1), fleetEnv(s.emuURL, s.redis.addr()))
		if err != nil {
			return err
		}
		s.fleet = append(s.fleet, in)
	}
	start := time.Now()
	fmt.Printf("reliability: %d serve instances, one redis-server, the emulator; REQUEST_TIMEOUT=%s; %s, %d CPUs\n",
		n, requestTimeout, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU())

	for _, sc := range []struct {
		name string
		run  func()
	}{
		{"load", s.scenarioLoad}, {"faults", s.scenarioFaults}, {"redis", s.scenarioRedisRestart},
		{"lock", s.scenarioLockHolderKilled}, {"slow", s.scenarioSlowClients}, {"bodies", s.scenarioBadBodies},
		{"ssrf", s.scenarioSSRF}, {"stalled", s.scenarioStalled}, {"memory", s.scenarioMemory},
	} {
		if only == "" || slices.Contains(strings.Split(only, ","), sc.name) {
			sc.run()
		}
	}

	s.print()
	fmt.Printf("\ntotal %s\n", time.Since(start).Round(time.Second))
	if s.failed {
		fmt.Println("FAIL: see the rows above with failed, lost or over-limit figures")
		os.Exit(1)
	}
	fmt.Println("PASS")
	return nil
}

// row is one line of the table.
type row struct {
	name                        string
	sent, correct, failed, lost int
	worst                       time.Duration
	note                        string
}

func (s *suite) add(r row) {
	if r.failed > 0 || r.lost > 0 || r.correct != r.sent {
		s.failed = true
	}
	s.rows = append(s.rows, r)
	fmt.Fprintf(os.Stderr, "  %-44s sent %4d correct %4d failed %3d lost %3d worst %s %s\n",
		r.name, r.sent, r.correct, r.failed, r.lost, r.worst.Round(time.Millisecond), r.note)
}

func (s *suite) print() {
	fmt.Println()
	fmt.Println("| scenario | sent | answered correctly | failed | lost | worst latency | notes |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---|")
	for _, r := range s.rows {
		fmt.Printf("| %s | %d | %d | %d | %d | %s | %s |\n", r.name, r.sent, r.correct, r.failed, r.lost,
			r.worst.Round(time.Millisecond), r.note)
	}
	if s.stalledFigures != "" {
		s.notes = append(s.notes, "Stalled connections: "+s.stalledFigures+".")
	}
	if len(s.memFigures) > 0 {
		s.notes = append(s.notes, "Peak RSS with N concurrent 2 MB uploads: "+strings.Join(s.memFigures, ", ")+" (limit 64 MB).")
	}
	for _, n := range s.notes {
		fmt.Println()
		fmt.Println(n)
	}
}

// pick scales a count down in short mode.
func (s *suite) pick(full, short int) int {
	if s.short {
		return short
	}
	return full
}

func (s *suite) fault(f emulator.Fault) {
	if err := s.emu.AddFault(f); err != nil {
		panic(err)
	}
}

func fileIDBody() (string, string) {
	return `{"fileId":"cloud://sandbox.7361-sandbox-1250000000/cards/front.png"}`, "application/json"
}

// resetFleet empties Redis and restarts every instance: after a fault whose effect the
// function remembers on purpose (a spent daily quota is remembered until midnight), so that
// the next scenario starts clean.
func (s *suite) resetFleet() {
	s.emu.ClearFaults()
	if err := s.redis.do("FLUSHALL").Err(); err != nil {
		s.notes = append(s.notes, "FLUSHALL: "+err.Error())
		s.failed = true
	}
	for i, in := range s.fleet {
		in.stop()
		fresh, err := startInstance(s.bin, in.name, fleetEnv(s.emuURL, s.redis.addr()))
		if err != nil {
			s.notes = append(s.notes, "restart: "+err.Error())
			s.failed = true
			return
		}
		s.fleet[i] = fresh
	}
}

// settle clears the faults and waits until every instance answers a recognition again, so
// that one scenario's leftovers do not count in the next. A token storm's leftovers last
// until a forced refresh is allowed again (30 s), hence the bound.
func (s *suite) settle() {
	s.emu.ClearFaults()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for _, in := range s.fleet {
		for {
			if o := send(ctx, in, fileIDBody); o.ok {
				break
			}
			if ctx.Err() != nil {
				s.notes = append(s.notes, in.name+" did not recover within 45 s after a fault")
				s.failed = true
				return
			}
			ctxSleep(ctx, 200*time.Millisecond)
		}
	}
}

var httpClient = &http.Client{Timeout: clientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
