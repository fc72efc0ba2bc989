package imagesrc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/internal/redact"
)

const defaultUserAgent = "scf-idcard-ocr/1 (image fetch)"

// Fetcher downloads images for the URL fallback (WeChat answered 101000 for a URL it could not
// fetch itself) without letting a caller reach internal services: every URL and redirect
// passes Policy.CheckURL, and every connection is checked against the forbidden address
// ranges after DNS resolution, at connect time, so a name that resolves (or re-resolves) to
// an internal address is refused. Proxies from the environment are never used. A Fetcher is
// safe for concurrent use.
type Fetcher struct {
	policy    Policy
	client    *http.Client
	userAgent string
	tlsConfig *tls.Config
	// dialOverride rewrites the address dialled after the trust decision, like curl
	// --resolve; tests use it to point a public-looking name at loopback.
	dialOverride func(addr string) string
}

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithUserAgent sets the User-Agent header sent with each request.
func WithUserAgent(ua string) Option {
	return func(f *Fetcher) { f.userAgent = ua }
}

// WithTLSConfig sets the TLS configuration (for example a private CA's roots); it is cloned,
// and a minimum of TLS 1.2 is kept.
func WithTLSConfig(c *tls.Config) Option {
	return func(f *Fetcher) { f.tlsConfig = c.Clone() }
}

// NewFetcher returns a Fetcher that applies p.
func NewFetcher(p Policy, opts ...Option) *Fetcher {
	f := &Fetcher{policy: p, userAgent: defaultUserAgent}
	for _, o := range opts {
		o(f)
	}
	tlsConfig := f.tlsConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.MinVersion < tls.VersionTLS12 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	// No transport-level timeouts: the per-fetch context bounds the whole exchange, so
	// every timeout is reported the same way.
	tr := &http.Transport{
		Proxy:                  nil, // HTTP(S)_PROXY would route around the address checks
		DialContext:            f.dial,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        tlsConfig,
		MaxIdleConns:           8,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{Transport: tr, CheckRedirect: f.checkRedirect}
	return f
}

// addrError is a connection refused by the address check.
type addrError struct {
	addr   string
	reason string
}

func (e *addrError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address", e.addr, e.reason)
}

// dial connects to addr ("host:port" from the URL, unresolved). The trust decision is made on
// that host name; the address check runs in Control on each resolved address actually
// connected to.
func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	trusted := f.policy.hostTrusted(addr)
	if !trusted {
		if h, _, err := net.SplitHostPort(addr); err == nil {
			if reason := checkName(strings.TrimSuffix(strings.ToLower(h), ".")); reason != "" {
				return nil, &addrError{addr: h, reason: reason}
			}
		}
	}
	if f.dialOverride != nil {
		addr = f.dialOverride(addr)
	}
	d := net.Dialer{
		Timeout:   f.policy.timeout(),
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return controlAddr(network, address, trusted)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// controlAddr is the connect-time check: only TCP, and only public unicast addresses unless
// the host is trusted.
func controlAddr(network, address string, trusted bool) error {
	if network != "tcp4" && network != "tcp6" {
		return &addrError{addr: address, reason: "non-TCP (" + network + ")"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &addrError{addr: address, reason: "unparseable"}
	}
	if trusted {
		return nil
	}
	if reason := checkAddr(ap.Addr()); reason != "" {
		return &addrError{addr: address, reason: reason}
	}
	return nil
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.policy.maxRedirects() {
		return apperr.Errorf(apperr.ImageFetchFailed, "image URL redirected more than %d times", f.policy.maxRedirects())
	}
	if _, err := f.policy.CheckURL(req.URL.String()); err != nil {
		var e *apperr.Error
		if errors.As(err, &e) {
			return apperr.Wrap(e.Code, e, "image URL redirected to a rejected URL: %s", e.Message)
		}
		return err
	}
	return nil
}

var errFetchTimeout = errors.New("image fetch timeout")

// Fetch downloads the image at rawURL and returns its bytes and the Content-Type the server
// sent (check the bytes with Check: servers mislabel images). The fetch ends after the
// policy's timeout or when ctx ends, whichever is first. Errors: IMAGE_URL_REJECTED for a URL
// or address the policy refuses, IMAGE_TOO_LARGE past MaxBytes, IMAGE_FETCH_FAILED for
// non-2xx answers, network failures and the policy timeout, TIMEOUT when ctx's deadline
// passed.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (data []byte, contentType string, err error) {
	u, err := f.policy.CheckURL(rawURL)
	if err != nil {
		return nil, "", err
	}
	fctx, cancel := context.WithTimeoutCause(ctx, f.policy.timeout(), errFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", apperr.Wrap(apperr.ImageURLRejected, redact.Error(err), "image URL is not a valid URL")
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", f.classify(ctx, fctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := apperr.Errorf(apperr.ImageFetchFailed, "image download answered HTTP %d", resp.StatusCode)
		e.Retryable = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
		return nil, "", e
	}
	limit := f.policy.maxBytes()
	if resp.ContentLength > limit {
		return nil, "", tooLarge(limit)
	}
	data, err = readLimited(resp.Body, limit, resp.ContentLength)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, "", tooLarge(limit)
		}
		return nil, "", f.classify(ctx, fctx, err)
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// classify turns a transport error into the application error a caller acts on. The error
// kept inside is redacted: net/http's *url.Error quotes the URL, signed query and all, and
// the error ends up in the request's log line.
func (f *Fetcher) classify(parent, fctx context.Context, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	err = redact.Error(err)
	var ad *addrError
	if errors.As(err, &ad) {
		return apperr.Wrap(apperr.ImageURLRejected, err, "image URL leads to a forbidden address (%s)", ad.reason)
	}
	if perr := parent.Err(); perr != nil {
		if errors.Is(perr, context.DeadlineExceeded) {
			return apperr.Wrap(apperr.Timeout, err, "the request ran out of time while downloading the image")
		}
		return apperr.Wrap(apperr.ClientClosed, err, "the client closed the request during the image download")
	}
	var ne net.Error
	if errors.Is(context.Cause(fctx), errFetchTimeout) || errors.As(err, &ne) && ne.Timeout() {
		return apperr.Wrap(apperr.ImageFetchFailed, err, "image download did not finish within %s", f.policy.timeout())
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return apperr.Wrap(apperr.ImageFetchFailed, err, "image host could not be resolved")
	}
	return apperr.Wrap(apperr.ImageFetchFailed, err, "image download failed")
}

var errTooLarge = errors.New("image too large")

func tooLarge(limit int64) *apperr.Error {
	return apperr.Errorf(apperr.ImageTooLarge, "image is larger than the limit of %d bytes", limit)
}

// readLimited reads r to EOF into one buffer, failing with errTooLarge once more than limit
// bytes arrive. sizeHint (a Content-Length, or -1) sizes the buffer so that a response of
// known length is read with a single allocation.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	var size int64 = 32 << 10
	if sizeHint >= 0 && sizeHint <= limit {
		size = sizeHint + 1 // +1: room for the read that reports EOF
	}
	size = min(size, limit+1)
	buf := make([]byte, 0, size)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append pick the growth
			if int64(cap(buf)) > limit+1 {
				buf = buf[: len(buf) : limit+1]
			}
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadLimited reads a multipart part or other upload into memory, at most limit bytes (0 means
// DefaultMaxBytes): IMAGE_TOO_LARGE past it (also when r is an http.MaxBytesReader that hit
// its own limit), INVALID_REQUEST when the upload cannot be read.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	b, err := readLimited(r, limit, -1)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, apperr.Wrap(apperr.Timeout, err, "the request ran out of time while reading the image")
		}
		return nil, apperr.Wrap(apperr.InvalidRequest, err, "could not read the uploaded image")
	}
	return b, nil
}
