package imagesrc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// testPNG is a minimal byte string that sniffs as PNG.
var testPNG = append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, bytes.Repeat([]byte{7}, 100)...)

// imageServer serves testPNG at /img, n-step redirect chains at /r/N, an arbitrary
// redirect at /to?u=URL, status codes at /status/N, big bodies at /big/N and a hanging
// response at /hang (released when the test ends).
func imageServer(t *testing.T, tlsServer bool) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/img", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(testPNG)
	})
	mux.HandleFunc("/r/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/img", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	mux.HandleFunc("/status/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		w.WriteHeader(n)
	})
	mux.HandleFunc("/big/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		body := bytes.Repeat([]byte{'x'}, n)
		if r.URL.Query().Has("chunked") {
			// Flushing before the end forces chunked encoding: no Content-Length to trust.
			w.Write(body[:n/2])
			w.(http.Flusher).Flush()
			w.Write(body[n/2:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body)
	})
	mux.HandleFunc("/lying-length", func(w http.ResponseWriter, r *http.Request) {
		// Claims 10 bytes, sends more: the transport must not let us read past the claim
		// into memory beyond the limit.
		hj := w.(http.Hijacker)
		conn, buf, _ := hj.Hijack()
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
		buf.Write(bytes.Repeat([]byte{'y'}, 5000))
		buf.Flush()
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func trustLoopback() Policy { return Policy{TrustedHosts: []string{"127.0.0.1"}} }

func wantCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *apperr.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	return e
}

func TestFetchTrustedLoopback(t *testing.T) {
	srv := imageServer(t, false)
	f := NewFetcher(trustLoopback())
	data, ct, err := f.Fetch(context.Background(), srv.URL+"/img")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, testPNG) || ct != "image/png" {
		t.Fatalf("got %d bytes %q, want testPNG image/png", len(data), ct)
	}
}

func TestFetchLoopbackRefusedUnlessTrusted(t *testing.T) {
	srv := imageServer(t, false)
	f := NewFetcher(Policy{})
	_, _, err := f.Fetch(context.Background(), srv.URL+"/img")
	wantCode(t, err, apperr.ImageURLRejected)
}

// withResolve points every dial at target, as a DNS answer (or rebinding) would.
func withResolve(f *Fetcher, target string) *Fetcher {
	f.dialOverride = func(string) string { return target }
	return f
}

// A public-looking name that resolves to loopback passes CheckURL but is refused at connect
// time: the DNS-rebinding case.
func TestFetchConnectTimeCheck(t *testing.T) {
	srv := imageServer(t, true)
	target := srv.Listener.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tlsConf := &tls.Config{RootCAs: roots}

	f := withResolve(NewFetcher(Policy{}, WithTLSConfig(tlsConf)), target)
	_, _, err := f.Fetch(context.Background(), "https://example.com/img")
	e := wantCode(t, err, apperr.ImageURLRejected)
	var ad *addrError
	if !errors.As(e, &ad) || ad.reason != "loopback" {
		t.Fatalf("err = %v, want a connect-time loopback refusal", err)
	}
	if strings.Contains(e.Message, "127.0.0.1") {
		t.Errorf("message %q reveals the resolved address", e.Message)
	}

	// The same name, trusted: allowed, and TLS is verified against the given roots.
	f = withResolve(NewFetcher(Policy{TrustedHosts: []string{"example.com"}}, WithTLSConfig(tlsConf)), target)
	data, _, err := f.Fetch(context.Background(), "https://example.com/img")
	if err != nil || !bytes.Equal(data, testPNG) {
		t.Fatalf("trusted fetch = %d bytes, %v", len(data), err)
	}

	// Trusted but without the test CA: certificate verification still applies.
	f = withResolve(NewFetcher(Policy{TrustedHosts: []string{"example.com"}}), target)
	_, _, err = f.Fetch(context.Background(), "https://example.com/img")
	wantCode(t, err, apperr.ImageFetchFailed)
}

func TestControlAddr(t *testing.T) {
	tests := []struct {
		network, addr string
		trusted, ok   bool
	}{
		{"tcp4", "127.0.0.1:80", false, false},
		{"tcp4", "127.0.0.1:80", true, true},
		{"tcp6", "[::1]:443", false, false},
		{"tcp6", "[::ffff:169.254.169.254]:80", false, false},
		{"tcp4", "93.184.216.34:443", false, true},
		{"tcp6", "[2606:2800:220:1::1]:443", false, true},
		{"udp4", "93.184.216.34:53", false, false},
		{"tcp4", "nonsense", false, false},
	}
	for _, tc := range tests {
		err := controlAddr(tc.network, tc.addr, tc.trusted)
		if (err == nil) != tc.ok {
			t.Errorf("controlAddr(%s, %s, trusted=%v) = %v, want ok=%v", tc.network, tc.addr, tc.trusted, err, tc.ok)
		}
	}
}

func TestFetchRedirects(t *testing.T) {
	srv := imageServer(t, false)
	f := NewFetcher(trustLoopback())
	ctx := context.Background()

	if data, _, err := f.Fetch(ctx, srv.URL+"/r/2"); err != nil || !bytes.Equal(data, testPNG) {
		t.Fatalf("3 redirects: %d bytes, %v", len(data), err)
	}
	_, _, err := f.Fetch(ctx, srv.URL+"/r/3") // 4 redirects
	e := wantCode(t, err, apperr.ImageFetchFailed)
	if !strings.Contains(e.Message, "more than 3") {
		t.Errorf("message = %q", e.Message)
	}

	one := NewFetcher(Policy{TrustedHosts: []string{"127.0.0.1"}, MaxRedirects: 1})
	if _, _, err := one.Fetch(ctx, srv.URL+"/r/0"); err != nil {
		t.Fatalf("1 redirect with MaxRedirects 1: %v", err)
	}
	wantCode(t, func() error { _, _, err := one.Fetch(ctx, srv.URL+"/r/1"); return err }(), apperr.ImageFetchFailed)
	none := NewFetcher(Policy{TrustedHosts: []string{"127.0.0.1"}, MaxRedirects: -1})
	wantCode(t, func() error { _, _, err := none.Fetch(ctx, srv.URL+"/r/0"); return err }(), apperr.ImageFetchFailed)

	for _, to := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"https://169.254.169.254/latest/meta-data/",
		"https://metadata.tencentyun.com/latest/meta-data/",
		"https://[::ffff:127.0.0.1]/img",
		"https://10.0.0.1/img",
		"http://localhost" + strings.TrimPrefix(srv.URL, "http://127.0.0.1") + "/img",
		"http://127.0.0.2/img",
		"file:///etc/passwd",
	} {
		_, _, err := f.Fetch(ctx, srv.URL+"/to?u="+to)
		e := wantCode(t, err, apperr.ImageURLRejected)
		if !strings.Contains(e.Message, "redirected") {
			t.Errorf("redirect to %s: message %q does not say it was a redirect", to, e.Message)
		}
	}

	// A redirect to a public-looking name that resolves to loopback is refused at connect
	// time: the first hop is trusted, the second is not.
	g := NewFetcher(trustLoopback())
	target := srv.Listener.Addr().String()
	g.dialOverride = func(addr string) string {
		if strings.HasPrefix(addr, "example.com:") {
			return target
		}
		return addr
	}
	_, _, err = g.Fetch(ctx, srv.URL+"/to?u=https://example.com/img")
	e = wantCode(t, err, apperr.ImageURLRejected)
	var ad *addrError
	if !errors.As(e, &ad) {
		t.Fatalf("err = %v, want connect-time refusal", err)
	}
}

func TestFetchSizeLimit(t *testing.T) {
	srv := imageServer(t, false)
	ctx := context.Background()
	f := NewFetcher(Policy{TrustedHosts: []string{"127.0.0.1"}, MaxBytes: 1000})
	for _, path := range []string{"/big/1000", "/big/1000?chunked"} {
		if data, _, err := f.Fetch(ctx, srv.URL+path); err != nil || len(data) != 1000 {
			t.Fatalf("%s: %d bytes, %v; want exactly the limit", path, len(data), err)
		}
	}
	for _, path := range []string{"/big/1001", "/big/1001?chunked", "/big/100000?chunked", "/big/5000000"} {
		_, _, err := f.Fetch(ctx, srv.URL+path)
		wantCode(t, err, apperr.ImageTooLarge)
	}
	// A server sending more than its Content-Length: we get at most what it declared.
	data, _, err := f.Fetch(ctx, srv.URL+"/lying-length")
	if err != nil || len(data) != 10 {
		t.Fatalf("lying length: %d bytes, %v", len(data), err)
	}
}

func TestFetchStatus(t *testing.T) {
	srv := imageServer(t, false)
	f := NewFetcher(trustLoopback())
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{404, false}, {403, false}, {500, true}, {503, true}, {429, true}, {204, false}} {
		_, _, err := f.Fetch(context.Background(), fmt.Sprintf("%s/status/%d", srv.URL, tc.status))
		if tc.status == 204 {
			// 2xx with no body is fetched; Check then reports the empty image.
			if err != nil {
				t.Errorf("204: %v", err)
			}
			continue
		}
		e := wantCode(t, err, apperr.ImageFetchFailed)
		if e.Retryable != tc.retryable || !strings.Contains(e.Message, strconv.Itoa(tc.status)) {
			t.Errorf("%d: retryable=%v message=%q", tc.status, e.Retryable, e.Message)
		}
	}
}

func TestFetchConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, err = NewFetcher(trustLoopback()).Fetch(context.Background(), "http://"+addr+"/img")
	wantCode(t, err, apperr.ImageFetchFailed)
}

func TestFetchTimeouts(t *testing.T) {
	srv := imageServer(t, false)

	// The policy's own timeout: IMAGE_FETCH_FAILED, retryable.
	f := NewFetcher(Policy{TrustedHosts: []string{"127.0.0.1"}, Timeout: 50 * time.Millisecond})
	_, _, err := f.Fetch(context.Background(), srv.URL+"/hang")
	e := wantCode(t, err, apperr.ImageFetchFailed)
	if !e.Retryable || !strings.Contains(e.Message, "did not finish") {
		t.Errorf("policy timeout: %+v", e)
	}

	// The caller's deadline comes first: TIMEOUT.
	g := NewFetcher(trustLoopback())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = g.Fetch(ctx, srv.URL+"/hang")
	wantCode(t, err, apperr.Timeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: errors.Is(DeadlineExceeded) = false for %v", err)
	}

	// The caller cancels: the cancellation stays visible.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, _, err = g.Fetch(ctx, srv.URL+"/hang")
	if !errors.Is(err, context.Canceled) || codeOf(err) == "" {
		t.Errorf("cancelled: %v", err)
	}
}

// The transport never consults HTTP(S)_PROXY: a proxy would make the connect-time address
// check meaningless.
func TestFetchIgnoresProxyEnvironment(t *testing.T) {
	f := NewFetcher(Policy{})
	if tr := f.client.Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("transport has a Proxy function")
	}
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	srv := imageServer(t, false)
	g := withResolve(NewFetcher(Policy{TrustedHosts: []string{"images.example.com"}}), srv.Listener.Addr().String())
	if _, _, err := g.Fetch(context.Background(), "http://images.example.com/img"); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 0 {
		t.Fatal("request went through the proxy")
	}
}

func TestFetchRejectsBeforeConnecting(t *testing.T) {
	var dialed atomic.Int32
	f := NewFetcher(Policy{})
	f.dialOverride = func(addr string) string { dialed.Add(1); return addr }
	for _, u := range []string{"http://example.com/", "https://127.0.0.1/", "https://u:p@example.com/", "https://metadata.google.internal/"} {
		_, _, err := f.Fetch(context.Background(), u)
		wantCode(t, err, apperr.ImageURLRejected)
	}
	if dialed.Load() != 0 {
		t.Fatalf("%d dials for rejected URLs", dialed.Load())
	}
}

func TestUserAgent(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.UserAgent())
		w.Write(testPNG)
	}))
	defer srv.Close()
	if _, _, err := NewFetcher(trustLoopback(), WithUserAgent("ua-test/1")).Fetch(context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "ua-test/1" {
		t.Fatalf("User-Agent = %v", got.Load())
	}
}
