package wechat

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is WeChat's public API host. WeChat Cloud Hosting's open interface service
// uses http://api.weixin.qq.com instead (see WithBaseURL).
const DefaultBaseURL = "https://api.weixin.qq.com"

// Defaults for the options below.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 2
	defaultBackoff    = 200 * time.Millisecond
	defaultMaxBackoff = 2 * time.Second
	maxRetriesLimit   = 10
)

// Option configures a Client or a token fetcher. Options are checked: an invalid value makes
// New (or every Fetch of a fetcher) return an error.
type Option func(*settings) error

// settings is what the options build; transport is made from it.
type settings struct {
	baseURL    *url.URL
	httpClient *http.Client
	timeout    time.Duration
	maxRetries int
	logger     *slog.Logger
	backoff    time.Duration
	maxBackoff time.Duration
	now        func() time.Time
	jitter     func() float64
}

func defaultSettings() *settings {
	u, _ := url.Parse(DefaultBaseURL)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	return &settings{
		baseURL: u,
		httpClient: &http.Client{
			Transport: sharedTransport(),
			// The token or appsecret rides in the query; following a redirect could carry it to
			// another host. WeChat's API does not redirect, so a 3xx is reported as an error.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:    DefaultTimeout,
		maxRetries: DefaultMaxRetries,
		logger:     slog.Default(),
		backoff:    defaultBackoff,
		maxBackoff: defaultMaxBackoff,
		now:        time.Now,
		jitter: func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return rng.Float64()
		},
	}
}

// maxIdleConnsPerHost is how many idle connections to WeChat the shared pool keeps: as many
// as requests an instance runs at once (64 in the load tests), with room to spare.
const maxIdleConnsPerHost = 128

// sharedTransport is the connection pool of every client and token fetcher made without
// WithHTTPClient. They all talk to one host, so one pool serves them all, and it keeps an idle
// connection for each request in flight. Go's default transport keeps 2 per host: under 16
// concurrent recognitions 62-69% of WeChat calls opened a new connection (against the real
// WeChat, a new TLS handshake too), and dialling was about 16% of the CPU (issue 10 §4).
// Everything else is http.DefaultTransport's: proxy from the environment, HTTP/2 when TLS
// offers it, 90 s idle timeout, dial and TLS-handshake timeouts.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdleConnsPerHost
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
})

func buildSettings(opts []Option) (*settings, error) {
	s := defaultSettings()
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("wechat: nil option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// WithBaseURL sets the API base, an absolute http or https URL without query or fragment,
// e.g. an emulator's address or http://api.weixin.qq.com for Cloud Hosting.
func WithBaseURL(raw string) Option {
	return func(s *settings) error {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("wechat: base URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("wechat: base URL %q: scheme must be http or https", raw)
		}
		if u.Host == "" {
			return fmt.Errorf("wechat: base URL %q: no host", raw)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("wechat: base URL %q: must not carry user info, query or fragment", raw)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		s.baseURL = u
		return nil
	}
}

// WithHTTPClient sets the HTTP client. Its own Timeout, if any, applies on top of the
// per-attempt timeout; its CheckRedirect should refuse redirects, as the default client does.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) error {
		if c == nil {
			return errors.New("wechat: nil HTTP client")
		}
		s.httpClient = c
		return nil
	}
}

// WithTimeout bounds each attempt (not the whole call with its retries; the caller's context
// bounds that). Default 10 s.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("wechat: timeout %v must be positive", d)
		}
		s.timeout = d
		return nil
	}
}

// WithMaxRetries sets how many times a transient failure (errcode -1, HTTP 5xx, connection
// error, attempt timeout) is retried; 0 disables retries. Default 2, at most 10.
func WithMaxRetries(n int) Option {
	return func(s *settings) error {
		if n < 0 || n > maxRetriesLimit {
			return fmt.Errorf("wechat: max retries %d out of range 0..%d", n, maxRetriesLimit)
		}
		s.maxRetries = n
		return nil
	}
}

// WithLogger sets the logger for retries and token rejections. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return errors.New("wechat: nil logger")
		}
		s.logger = l
		return nil
	}
}

// WithBackoff sets the first retry delay and its cap. Each retry doubles the delay, and a
// random jitter takes it anywhere between half and all of it. Default 200 ms, capped at 2 s.
func WithBackoff(initial, ceiling time.Duration) Option {
	return func(s *settings) error {
		if initial <= 0 || ceiling < initial {
			return fmt.Errorf("wechat: backoff %v..%v: need 0 < initial <= max", initial, ceiling)
		}
		s.backoff, s.maxBackoff = initial, ceiling
		return nil
	}
}

// WithClock replaces time.Now for the FetchedAt and ExpiresAt of fetched tokens, so that
// token caches can be tested at exact boundaries. Retry timing always uses the real clock,
// because context deadlines do.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return errors.New("wechat: nil clock")
		}
		s.now = now
		return nil
	}
}
