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

	mu  sync.Mutex
	cmd *exec.Cmd
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
		if ping(addr) {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server did not answer on %s within %v", addr, startTimeout)
}

// ping sends a raw RESP PING, so the helper does not depend on a client library.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
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
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	// Wait runs in start's goroutine; poll until the port is free.
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) && ping(s.Addr) {
		time.Sleep(10 * time.Millisecond)
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

// Running reports whether the server answers PING.
func (s *Server) Running() bool { return ping(s.Addr) }
