package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/wxocr/scf-idcard-ocr/bench/internal/bigcard"
	"github.com/wxocr/scf-idcard-ocr/emulator"
)

func (s *suite) scenarioLoad() {
	t := load(s.fleet, s.pick(300, 60), 8, fileIDBody, okOr(), nil)
	s.add(t.row(fmt.Sprintf("load: fileId over %d instances, 8 at a time", len(s.fleet)), ""))
}

// faultCase is one emulator fault injected while requests run, and the answers it may cause.
type faultCase struct {
	name   string
	fault  emulator.Fault
	accept acceptor
	short  bool // also in -short
	sticky bool // the function remembers it on purpose: restart the fleet afterwards
}

func (s *suite) scenarioFaults() {
	ocr := emulator.PathOCRIDCard
	cases := []faultCase{
		{"WeChat 5xx (502, ×6)", emulator.Fault{Endpoint: ocr, Status: 502, Count: 6}, okOr("UPSTREAM_UNAVAILABLE"), true, false},
		{"WeChat busy -1 (×6)", emulator.Fault{Endpoint: ocr, ErrCode: -1, Count: 6}, okOr("UPSTREAM_UNAVAILABLE"), true, false},
		{"connection resets (×6)", emulator.Fault{Endpoint: ocr, Reset: true, Count: 6}, okOr("UPSTREAM_UNAVAILABLE"), true, false},
		// A spent daily limit or quota is remembered (until midnight, Asia/Shanghai): every
		// later request is answered QUOTA_EXHAUSTED without a call, as intended.
		{"45009 daily limit (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 45009, Count: 6}, okOr("QUOTA_EXHAUSTED"), false, true},
		{"45011 frequency limit (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 45011, Count: 6}, okOr("UPSTREAM_UNAVAILABLE", "RATE_LIMITED", "QUOTA_EXHAUSTED"), false, true},
		{"101000 URL not fetched (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 101000, Count: 6}, okOr("IMAGE_FETCH_FAILED"), false, false},
		{"101001 no card (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 101001, Count: 6}, okOr("NO_CARD_FOUND"), false, false},
		{"101002 undecodable (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 101002, Count: 6}, okOr("IMAGE_UNREADABLE"), true, false},
		{"101003 quota (×6)", emulator.Fault{Endpoint: ocr, ErrCode: 101003, Count: 6}, okOr("QUOTA_EXHAUSTED"), false, true},
		{"WeChat hangs (×6, 1 min each)", emulator.Fault{Endpoint: ocr, Delay: time.Minute, Count: 6}, okOr("TIMEOUT"), true, false},
		{"download URL hangs (×3)", emulator.Fault{Endpoint: emulator.PathBatchDL, Delay: time.Minute, Count: 3}, okOr("TIMEOUT"), false, false},
		{"token endpoint 5xx (×6)", emulator.Fault{Endpoint: emulator.PathStableToken, Status: 503, Count: 6}, okOr(), false, false},
		// Last: a rejected token that a normal fetch hands back again can only be replaced by
		// a forced refresh, at most one per 30 s, so until then every request is answered
		// at once UPSTREAM_UNAVAILABLE, retryable, with Retry-After and WeChat's own code
		// (issue 7 §7); a request waiting for another instance's refresh stops waiting when
		// that refresh gives up, so none runs into the request deadline (TIMEOUT).
		{"40001 storm (×20)", emulator.Fault{Endpoint: ocr, ErrCode: 40001, Count: 20}, retryLater("UPSTREAM_UNAVAILABLE", "40001"), true, false},
		{"42001 storm (×20)", emulator.Fault{Endpoint: ocr, ErrCode: 42001, Count: 20}, retryLater("UPSTREAM_UNAVAILABLE", "42001"), false, false},
	}
	for _, c := range cases {
		if s.short && !c.short {
			continue
		}
		s.settle()
		s.fault(c.fault)
		t := load(s.fleet, s.pick(30, 12), 4, fileIDBody, c.accept, nil)
		s.add(t.row("fault: "+c.name, ""))
		if c.sticky {
			s.resetFleet()
		}
	}
	s.settle()
}

func (s *suite) scenarioRedisRestart() {
	s.settle()
	t := load(s.fleet, s.pick(200, 60), 6, fileIDBody, okOr(), func() {
		time.Sleep(300 * time.Millisecond)
		s.redis.kill()
		time.Sleep(1500 * time.Millisecond)
		if err := s.redis.start(); err != nil {
			s.notes = append(s.notes, "redis restart failed: "+err.Error())
			s.failed = true
		}
	})
	s.add(t.row("Redis killed (SIGKILL) and restarted during load", ""))
}

// scenarioLockHolderKilled: a refresher takes the shared lock, WeChat's token endpoint hangs,
// and the refresher is killed (SIGKILL) holding it. Requests must go on being served, and a
// later refresh must succeed once the dead holder's lock expires.
func (s *suite) scenarioLockHolderKilled() {
	if s.short {
		return
	}
	s.settle()
	before := s.emu.Stats().Calls[emulator.PathStableToken]
	s.fault(emulator.Fault{Endpoint: emulator.PathStableToken, Delay: time.Minute})
	holder := exec.Command(s.bin, "refresh-token", "--lead", "2h")
	holder.Env = fleetEnv(s.emuURL, s.redis.addr())
	if err := holder.Start(); err != nil {
		s.notes = append(s.notes, "refresh-token: "+err.Error())
		s.failed = true
		return
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && s.emu.Stats().Calls[emulator.PathStableToken] == before; {
		time.Sleep(10 * time.Millisecond)
	}
	locks, _ := s.redis.do("KEYS", "*lock*").StringSlice() // one lock key
	_ = holder.Process.Kill()
	_ = holder.Wait()
	s.emu.ClearFaults()
	t := load(s.fleet, 60, 4, fileIDBody, okOr(), nil)
	// A later refresher must get through once the dead holder's lock has expired.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	again := exec.CommandContext(ctx, s.bin, "refresh-token", "--lead", "2h", "--timeout", "40s")
	again.Env = fleetEnv(s.emuURL, s.redis.addr())
	out, err := again.Output()
	o := outcome{latency: time.Since(start), status: 200}
	if err != nil || !strings.Contains(string(out), `"refreshed"`) {
		o.code = fmt.Sprintf("refresh-token: %v", err)
	} else {
		o.ok = true
	}
	t.r.sent++
	t.r.worst = max(t.r.worst, o.latency)
	if o.ok {
		t.r.correct++
	} else {
		t.r.failed++
	}
	s.add(t.row("token lock holder killed mid-refresh", fmt.Sprintf("lock keys held when killed: %d; then 60 requests, and a new refresh-token that got through in %s", len(locks), o.latency.Round(time.Millisecond))))
}

// rawExchange dials in, writes head, optionally more bytes slowly, and reads one response
// (or the connection's end) within wait.
func rawExchange(addr, head string, trickle time.Duration, wait time.Duration) (status int, closed bool, d time.Duration) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, false, time.Since(start)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, head); err != nil {
		return 0, true, time.Since(start)
	}
	if trickle > 0 {
		// One more header byte every trickle until the server gives up on us.
		go func() {
			for i := 0; ; i++ {
				time.Sleep(trickle)
				if _, err := c.Write([]byte{'a' + byte(i%26)}); err != nil {
					return
				}
			}
		}()
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, false, time.Since(start)
		}
		return 0, true, time.Since(start) // closed without an answer
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp.StatusCode, err != nil, time.Since(start)
}

func (s *suite) scenarioSlowClients() {
	n := s.pick(30, 10)
	in := s.fleet[0]
	run := func(name, head string, trickle, wait time.Duration, good func(status int, closed bool, d time.Duration) bool) {
		t := &tally{deadline: wait}
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, closed, d := rawExchange(in.addr, head, trickle, wait)
				o := outcome{status: st, latency: d, lost: st == 0 && !closed}
				t.add(o, func(outcome) bool { return good(st, closed, d) })
			}()
		}
		wg.Wait()
		s.add(t.row(name, ""))
	}
	body := "POST /v1/idcard HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
	run("slow body, authenticated: 504 at the deadline", body+"Authorization: Bearer "+apiKey+"\r\n\r\n{\"fileId\":", 0, clientTimeout,
		func(st int, _ bool, _ time.Duration) bool { return st == 504 })
	run("slow body, no key: 401 and close, body unread", body+"\r\n{\"fileId\":", 0, clientTimeout,
		func(st int, closed bool, d time.Duration) bool { return st == 401 && closed && d < 2*time.Second })
	if !s.short {
		// Each client adds a header byte every second: the server ends it at ReadHeaderTimeout.
		run("slow headers (a byte a second): closed by ReadHeaderTimeout (10 s)", "GET /healthz HTTP/1.1\r\nX-Slow: ", time.Second, 20*time.Second,
			func(st int, closed bool, d time.Duration) bool { return closed && d < 13*time.Second })
	}
}

// badBody is a malformed or oversized request and the answer it must get.
type badBody struct {
	name, ct, body string
	status         int
	code           string
}

func (s *suite) scenarioBadBodies() {
	big := base64.StdEncoding.EncodeToString(make([]byte, 3<<20))
	cases := []badBody{
		{"3 MB base64 image", "application/json", `{"imageBase64":"` + big + `"}`, 413, "IMAGE_TOO_LARGE"},
		{"truncated JSON", "application/json", `{"fileId":"cloud://x`, 400, "INVALID_REQUEST"},
		{"not JSON", "application/json", `<xml/>`, 400, "INVALID_REQUEST"},
		{"two images", "application/json", `{"fileId":"cloud://a.b/c","imageUrl":"https://x.example/a.png"}`, 400, "INVALID_REQUEST"},
		{"bad base64", "application/json", `{"imageBase64":"@@@@"}`, 400, "INVALID_REQUEST"},
		{"PNG signature then junk", "application/json", `{"imageBase64":"` + base64.StdEncoding.EncodeToString(append([]byte("\x89PNG\r\n\x1a\n"), strings.Repeat("junk", 500)...)) + `"}`, 422, "IMAGE_UNREADABLE"},
		{"multipart without boundary", "multipart/form-data", "--x\r\n", 400, "INVALID_REQUEST"},
		{"unknown content type", "text/csv", "a,b", 400, "INVALID_REQUEST"},
		{"empty raw image", "image/png", "", 422, "IMAGE_UNREADABLE"},
	}
	t := &tally{}
	for _, in := range s.fleet {
		for _, c := range cases {
			c := c
			o := send(context.Background(), in, func() (string, string) { return c.body, c.ct })
			t.add(o, func(o outcome) bool { return o.status == c.status && o.code == c.code })
		}
	}
	s.add(t.row(fmt.Sprintf("oversized and malformed bodies (%d kinds)", len(cases)), ""))
}

// ssrfCorpus are imageUrl values that must be refused before any fetch.
var ssrfCorpus = []string{
	"http://images.example.com/a.png", "https://127.0.0.1/a.png", "https://localhost/a.png",
	"https://[::1]/a.png", "https://10.0.0.1/a.png", "https://172.16.0.1/a.png", "https://192.168.1.1/a.png",
	"https://169.254.169.254/latest/meta-data/", "https://100.64.0.1/a.png", "https://0.0.0.0/a.png",
	"https://2130706433/a.png", "https://0x7f000001/a.png", "https://127.1/a.png", "https://[::ffff:127.0.0.1]/a.png",
	"https://[fd00::1]/a.png", "https://[fe80::1]/a.png", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
	"ftp://example.com/a.png", "https://user:pass@127.0.0.1/a.png", "https://example.com:6379/a.png",
	"//example.com/a.png", "https://metadata.tencentyun.com/latest/meta-data/",
}

func (s *suite) scenarioSSRF() {
	t := &tally{}
	for i, u := range ssrfCorpus {
		u := u
		o := send(context.Background(), s.fleet[i%len(s.fleet)], func() (string, string) {
			return `{"imageUrl":"` + u + `"}`, "application/json"
		})
		t.add(o, only("IMAGE_URL_REJECTED"))
	}
	s.add(t.row(fmt.Sprintf("SSRF corpus (%d imageUrl forms)", len(ssrfCorpus)), ""))
}

// scenarioStalled opens many connections that stall (half a request line, or an
// unauthenticated request whose body never comes) against a fresh instance, and reports what
// the instance holds meanwhile; the fleet's other instances keep serving.
func (s *suite) scenarioStalled() {
	n := s.pick(1000, 200)
	in, err := startInstance(s.bin, "stalled", fleetEnv(s.emuURL, s.redis.addr(), "GOTRACEBACK=all"))
	if err != nil {
		s.notes = append(s.notes, "stalled: "+err.Error())
		s.failed = true
		return
	}
	defer in.stop()
	pid := in.cmd.Process.Pid
	base := fmt.Sprintf("fds %d, RSS %.1f MB", openFDs(pid), float64(procStatus(pid, "VmRSS"))/1024)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", in.addr, 2*time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
		if i%2 == 0 {
			_, _ = io.WriteString(c, "GET /heal")
		} else {
			_, _ = io.WriteString(c, "POST /v1/idcard HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
		}
	}
	time.Sleep(2 * time.Second)
	// Meanwhile the other instances serve.
	t := load(s.fleet[1:], s.pick(60, 20), 4, fileIDBody, okOr(), nil)
	held := fmt.Sprintf("fds %d, RSS %.1f MB, peak RSS %.1f MB", openFDs(pid), float64(procStatus(pid, "VmRSS"))/1024,
		float64(procStatus(pid, "VmHWM"))/1024)
	g := goroutines(in)
	s.add(t.row(fmt.Sprintf("%d stalled connections on one instance; load on the others", len(conns)),
		fmt.Sprintf("stalled instance: before %s; with them %s, %d goroutines", base, held, g)))
	s.stalledFigures = fmt.Sprintf("%d stalled connections: before %s; with them %s, %d goroutines", len(conns), base, held, g)
}

// scenarioMemory sends N concurrent 2 MB uploads (JSON imageBase64) to a fresh instance each
// time and compares its peak RSS with the 64 MB instance it must fit in.
func (s *suite) scenarioMemory() {
	img := bigcard.PNG()
	body := `{"imageBase64":"` + base64.StdEncoding.EncodeToString(img) + `"}`
	mk := func() (string, string) { return body, "application/json" }
	for _, n := range []int{1, 8, 32} {
		if s.short && n != 8 {
			continue
		}
		in, err := startInstance(s.bin, fmt.Sprintf("memory-%d", n), fleetEnv(s.emuURL, s.redis.addr()))
		if err != nil {
			s.notes = append(s.notes, "memory: "+err.Error())
			s.failed = true
			return
		}
		t := load([]*instance{in}, n, n, mk, okOr("OVERLOADED"), nil)
		peak := procStatus(in.cmd.Process.Pid, "VmHWM") * 1024
		in.stop()
		r := t.row(fmt.Sprintf("memory: %d concurrent 2 MB uploads", n),
			fmt.Sprintf("peak RSS %.1f MB of %d MB", float64(peak)/1e6, memoryLimit>>20))
		if peak > memoryLimit {
			r.note += " — OVER THE LIMIT"
			s.failed = true
		}
		s.add(r)
		s.memFigures = append(s.memFigures, fmt.Sprintf("%d: %.1f MB", n, float64(peak)/1e6))
	}
}
