package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

const serveTestKey = "serve-test-key-0123456789"

// waitingService answers only when the request's context ends, like a hanging WeChat.
type waitingService struct{}

func (waitingService) Recognize(ctx context.Context, _ ocr.Request) (*ocr.Result, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// startServeHTTP runs serve's HTTP server (newServer, the connection limit) on loopback.
func startServeHTTP(t *testing.T, requestTimeout time.Duration, maxConns int) string {
	t.Helper()
	h, err := handler.New(handler.Options{Service: waitingService{}, APIKeys: []string{serveTestKey}, RequestTimeout: requestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(h, requestTimeout)
	go srv.Serve(newLimitListener(ln, maxConns))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawConn dials addr and writes head; every read has a 10 s deadline, so that a server that
// never answers fails the test instead of hanging it.
func rawConn(t *testing.T, addr, head string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// An unauthenticated request is refused without reading its body: the 401 goes out while the
// body has not even been sent, and the connection is closed instead of net/http reading up
// to 256 KB of a body nobody wants, at the sender's pace.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	// A request deadline far beyond the client's 10 s patience: only not reading the body
	// lets the answer and the close arrive in time.
	addr := startServeHTTP(t, time.Minute, 8)
	_, br := rawConn(t, addr, "POST /v1/idcard HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer while the body is outstanding: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !resp.Close {
		t.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("connection left open after refusing the body: %v", err)
	}
}

// A body that stops arriving is bounded by the request deadline: TIMEOUT, not a connection
// held for as long as the sender likes.
func TestSlowBodyIsTimedOut(t *testing.T) {
	addr := startServeHTTP(t, 300*time.Millisecond, 8)
	_, br := rawConn(t, addr, "POST /v1/idcard HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+serveTestKey+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"fileId\":")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 504 || !strings.Contains(string(b), `"TIMEOUT"`) {
		t.Errorf("status %d body %s", resp.StatusCode, b)
	}
}

// At most MAX_CONNECTIONS connections are held; the next client waits in the accept queue
// until one closes, then is served.
func TestConnectionLimit(t *testing.T) {
	addr := startServeHTTP(t, 5*time.Second, 2)
	// Two stalled clients (half a request line) take both slots.
	a, _ := rawConn(t, addr, "GET /hea")
	rawConn(t, addr, "GET /hea")
	answered := make(chan error, 1)
	go func() {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			answered <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("a third connection was served past the limit of 2 (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	a.Close() // frees a slot
	if err := <-answered; err != nil {
		t.Errorf("the waiting client was not served once a slot freed: %v", err)
	}
}

// A client that stops reading cannot hold the connection and the handler's goroutine: the
// answer's write fails at the write deadline.
func TestSlowReaderIsCutOff(t *testing.T) {
	wrote := make(chan error, 1)
	big := strings.Repeat("x", 64<<20) // far more than the socket buffers hold
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, err := io.WriteString(w, big)
		wrote <- err
	}), 100*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, _ := rawConn(t, ln.Addr().String(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c // never read
	select {
	case err := <-wrote:
		if err == nil {
			t.Error("64 MB written to a client that reads nothing")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write to a client that reads nothing did not time out")
	}
}
