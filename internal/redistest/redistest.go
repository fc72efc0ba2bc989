// Package redistest starts a real redis-server for tests: on a free loopback port, in a
// temporary directory, without persistence, stoppable and restartable for outage tests.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to accept connections.
const startTimeout = 10 * time.Second

// Server is a running (or stopped) redis-server, or the external one of TEST_REDIS_URL.
type Server struct {
	// URL is redis://127.0.0.1:PORT/0, or TEST_REDIS_URL.
	URL string
	// Addr is host:port.
	Addr string
	// External is true when TEST_REDIS_URL was used: Stop and Restart skip the test.
	External bool

	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// Start returns a Redis for the test: TEST_REDIS_URL if set, else a new redis-server that is
// killed when the test ends. Without redis-server the test fails when CI is set (CI must run
// it) and is skipped otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		addr := strings.TrimPrefix(strings.TrimPrefix(u, "redis://"), "rediss://")
		if i := strings.LastIndex(addr, "@"); i >= 0 {
			addr = addr[i+1:]
		}
		if i := strings.Index(addr, "/"); i >= 0 {
			addr = addr[:i]
		}
		return &Server{URL: u, Addr: addr, External: true, t: t}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found: install it (apt-get install -y redis-server) or set TEST_REDIS_URL"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " — CI must run the Redis tests")
		}
		t.Skip(msg)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start redis-server: %v", lastErr)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.URL = "redis://" + s.Addr + "/0"
	t.Cleanup(s.kill)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd.Dir = s.dir
	// The server must not outlive a test binary that crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(fmt.Sprintf("%s/redis-%d.log", s.dir, s.port))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("redis-server exited: %s", strings.TrimSpace(string(b)))
		default:
		}
		if pid, ok := serverPID(addr); ok {
			if pid != cmd.Process.Pid {
				// Another redis-server holds the port (freePort's port was taken before ours
				// bound it, or it was taken while ours was stopped). Using it would share
				// state with another test and lose it when that test stops its server.
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("port %d is held by another redis-server (pid %d)", s.port, pid)
			}
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server did not answer on %s within %v", addr, startTimeout)
}

// serverPID asks the server on addr for its process id with a raw RESP INFO, so the helper
// does not depend on a client library; ok is false when nothing answers as Redis.
func serverPID(addr string) (pid int, ok bool) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, false
	}
	r := bufio.NewReader(c)
	header, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(header, "$") {
		return 0, false // not a bulk reply (a loading or refusing server answers "-...")
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, false
		}
		if v, found := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); found {
			pid, err := strconv.Atoi(v)
			return pid, err == nil
		}
	}
}

// Stop kills the server (SIGKILL, as an outage would) and waits until it is gone.
func (s *Server) Stop() {
	s.t.Helper()
	if s.External {
		s.t.Skip("TEST_REDIS_URL is set: cannot stop an external Redis")
	}
	s.kill()
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	// Wait runs in start's goroutine. Once the process is gone the kernel has closed its
	// listening socket: new connections are refused at once.
	select {
	case <-exited:
	case <-time.After(startTimeout):
		s.t.Errorf("redis-server (pid %d) still running %v after SIGKILL", cmd.Process.Pid, startTimeout)
	}
}

// Restart starts the server again on the same port, empty (no persistence).
func (s *Server) Restart() {
	s.t.Helper()
	if s.External {
		s.t.Skip("TEST_REDIS_URL is set: cannot restart an external Redis")
	}
	s.kill()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server: %v", err)
	}
}

// Running reports whether this server answers on Addr (not another process on its port).
func (s *Server) Running() bool {
	pid, ok := serverPID(s.Addr)
	if !ok || s.External {
		return ok
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && s.cmd.Process.Pid == pid
}
