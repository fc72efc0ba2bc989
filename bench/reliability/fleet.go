package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
)

// apiKey is the key every instance accepts; loopback only, never a real one.
const apiKey = "reliability-key-0123456789abcdef"

// redisServer is a redis-server child on a loopback port, killable and restartable on the
// same port.
type redisServer struct {
	port int
	cmd  *exec.Cmd
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startRedis() (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not installed (apt-get install redis-server)")
	}
	p, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{port: p}
	return r, r.start()
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() error {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	track(r.cmd)
	return waitDial(r.addr(), 5*time.Second)
}

// kill stops redis-server abruptly (SIGKILL), as a crash would.
func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// do runs one Redis command, within 2 s, on a client of its own (go-redis, which the function
// already uses), and returns its reply.
func (r *redisServer) do(args ...any) *redis.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	return c.Do(ctx, args...)
}

func waitDial(addr string, within time.Duration) error {
	end := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s did not accept connections within %s", addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// children are the processes the suite started, killed if it is interrupted.
var children struct {
	sync.Mutex
	cmds []*exec.Cmd
}

func track(c *exec.Cmd) {
	children.Lock()
	defer children.Unlock()
	children.cmds = append(children.cmds, c)
}

func killChildren() {
	children.Lock()
	defer children.Unlock()
	for _, c := range children.cmds {
		if c.Process != nil && c.ProcessState == nil {
			_ = c.Process.Kill()
		}
	}
}

// instance is one `serve` process.
type instance struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer // the child's stderr copier writes while we read
}

func (in *instance) url() string { return "http://" + in.addr }

func (in *instance) log() string { return in.stderr.String() }

// startInstance runs `bin serve` with env on a free loopback port and waits for /healthz.
func startInstance(bin, name string, env []string) (*instance, error) {
	p, err := freePort()
	if err != nil {
		return nil, err
	}
	in := &instance{name: name, addr: "127.0.0.1:" + strconv.Itoa(p), stderr: &syncbuf.Buffer{}}
	in.cmd = exec.Command(bin, "serve", "--addr", in.addr)
	in.cmd.Env = env
	in.cmd.Stderr = in.stderr
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := in.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	track(in.cmd)
	end := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(in.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in, nil
			}
		}
		if time.Now().After(end) {
			in.stop()
			return nil, fmt.Errorf("%s did not become healthy: %w\n%s", name, err, in.log())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (in *instance) stop() {
	if in.cmd.Process != nil {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = in.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(6 * time.Second):
			_ = in.cmd.Process.Kill()
			<-done
		}
	}
}

// procStatus reads fields of /proc/<pid>/status in kB (VmRSS, VmHWM, Threads).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

// openFDs counts /proc/<pid>/fd.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// goroutines asks the process for a goroutine dump (SIGQUIT with GOTRACEBACK=all, which also
// ends it) and counts the goroutines in it.
func goroutines(in *instance) int {
	_ = in.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = in.cmd.Process.Kill()
		<-done
	}
	n := 0
	for _, line := range strings.Split(in.log(), "\n") {
		if strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, ":") {
			n++
		}
	}
	return n
}

// fleetEnv is the environment of every instance: the emulator as WeChat, one Redis, the key.
func fleetEnv(emuURL, redisAddr string, extra ...string) []string {
	host := strings.TrimPrefix(emuURL, "http://")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"WX_APPID=" + emulator.DefaultAppID, "WX_APPSECRET=" + emulator.DefaultSecret,
		"WX_API_BASE=" + emuURL, "TOKEN_STORE=redis://" + redisAddr + "/0",
		// Limits per caller and the result cache off: the load is one caller sending the same
		// card again and again, and every request must reach the (faulty) upstream.
		"API_KEYS=" + apiKey, "RATE_LIMIT_PER_MINUTE=0", "RATE_LIMIT_PER_DAY=0", "RESULT_CACHE_TTL=0", "LOG_LEVEL=warn",
		"IMAGE_URL_TRUSTED_HOSTS=" + host, "UPSTREAM_TIMEOUT=1s", "REQUEST_TIMEOUT=" + requestTimeout.String(),
		"GOMEMLIMIT=48MiB",
	}
	return append(env, extra...)
}

// ctxSleep sleeps for d or until ctx ends.
func ctxSleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
