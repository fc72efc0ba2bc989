// Package imagesrc turns the image references callers send (a URL, base64 text, a multipart
// part) into checked image bytes or a checked URL: the URL policy, an SSRF-safe fetcher, a
// bounded base64 decoder and a magic-byte sniffer. Every error is an *apperr.Error.
package imagesrc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/internal/redact"
)

// Defaults applied by Policy for zero fields.
const (
	DefaultMaxBytes     = 2 << 20 // WeChat's cv/ocr/idcard limit
	DefaultTimeout      = 5 * time.Second
	DefaultMaxRedirects = 3
	maxURLLength        = 4096
)

// Policy says which image URLs are acceptable. The zero value accepts public https URLs on
// the standard port, with the defaults above.
type Policy struct {
	// MaxBytes bounds a fetched image; 0 means DefaultMaxBytes.
	MaxBytes int64
	// AllowHosts, when non-empty, is the only hosts accepted. Entries are "host" (any port),
	// "host:port" (that port only) or "*.example.com" (any subdomain, not the apex); matching
	// is case-insensitive.
	AllowHosts []string
	// TrustedHosts are hosts the operator vouches for, in the same syntax: plain http and
	// private or loopback addresses are allowed for them (the sandbox emulator, tests, an
	// internal file server). They are also accepted when AllowHosts is set.
	TrustedHosts []string
	// Timeout bounds one whole fetch, redirects included; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRedirects is how many redirects a fetch follows; 0 means DefaultMaxRedirects and a
	// negative value means none.
	MaxRedirects int
}

func (p Policy) maxBytes() int64 {
	if p.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return p.MaxBytes
}

func (p Policy) timeout() time.Duration {
	if p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout
}

func (p Policy) maxRedirects() int {
	switch {
	case p.MaxRedirects < 0:
		return 0
	case p.MaxRedirects == 0:
		return DefaultMaxRedirects
	}
	return p.MaxRedirects
}

func rejectf(format string, args ...any) *apperr.Error {
	return apperr.Errorf(apperr.ImageURLRejected, format, args...)
}

// CheckURL parses raw and applies the policy: https only (http for trusted hosts), no user
// info, the standard port unless the host is listed, the allow-list when set, and no literal
// or name-form address that the fetcher would refuse anyway. It returns IMAGE_URL_REJECTED
// with a message that says what to change.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, rejectf("image URL is empty")
	}
	if len(raw) > maxURLLength {
		return nil, rejectf("image URL is longer than %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole text, signature included.
		return nil, apperr.Wrap(apperr.ImageURLRejected, redact.Error(err), "image URL is not a valid URL")
	}
	if !u.IsAbs() || u.Opaque != "" {
		return nil, rejectf("image URL must be absolute, like https://example.com/card.jpg")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, rejectf("image URL scheme %q is not allowed: use https", u.Scheme)
	}
	if u.User != nil {
		return nil, rejectf("image URL must not contain a user name or password")
	}
	host, port, err := splitHost(u)
	if err != nil {
		return nil, err
	}
	trusted := matchAny(p.TrustedHosts, host, port)
	allowed := trusted || matchAny(p.AllowHosts, host, port)
	if len(p.AllowHosts) > 0 && !allowed {
		return nil, rejectf("image URL host %q is not in the allowed hosts", host)
	}
	if u.Scheme == "http" && !trusted {
		return nil, rejectf("image URL must use https (plain http only for trusted hosts)")
	}
	if port != defaultPort(u.Scheme) && !allowed {
		return nil, rejectf("image URL port %d is not allowed: use the standard port %d", port, defaultPort(u.Scheme))
	}
	if trusted {
		return u, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if reason := checkAddr(a); reason != "" {
			return nil, rejectf("image URL points at a forbidden address (%s)", reason)
		}
		return u, nil
	}
	if looksNumeric(host) {
		// "2130706433", "0x7f.1", "127.1": resolvers disagree on what these mean.
		return nil, rejectf("image URL host %q is a non-standard IP address form", host)
	}
	if reason := checkName(host); reason != "" {
		return nil, rejectf("image URL host %q is %s", host, reason)
	}
	return u, nil
}

// splitHost returns the normalised host (lower case, no trailing dot, no IPv6 brackets) and
// the effective port of u.
func splitHost(u *url.URL) (string, int, error) {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", 0, rejectf("image URL has no host")
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostName(host) {
		return "", 0, rejectf("image URL host %q is not a valid host name (use punycode for international names)", host)
	}
	port := defaultPort(u.Scheme)
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, rejectf("image URL port %q is not valid", ps)
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return "", 0, rejectf("image URL has an empty port")
	}
	return host, port, nil
}

func defaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}

// validHostName accepts DNS names in ASCII: letters, digits, '-', '_' and dots between
// non-empty labels.
func validHostName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// looksNumeric follows the WHATWG URL rule: a host whose last label is a number (decimal or
// 0x-hex) is an IPv4 address in some form, never a DNS name.
func looksNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// matchAny reports whether host:port matches one of the patterns.
func matchAny(patterns []string, host string, port int) bool {
	for _, pat := range patterns {
		if matchHost(pat, host, port) {
			return true
		}
	}
	return false
}

// matchHost matches one pattern: "host", "host:port", "*.suffix", "*.suffix:port",
// "[v6]" or "[v6]:port".
func matchHost(pattern, host string, port int) bool {
	ph, pp, err := parsePattern(pattern)
	if err != nil {
		return false
	}
	if pp != 0 && pp != port {
		return false
	}
	if rest, ok := strings.CutPrefix(ph, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	if a, err := netip.ParseAddr(ph); err == nil {
		b, err := netip.ParseAddr(host)
		return err == nil && a.WithZone("") == b.WithZone("")
	}
	return ph == host
}

// parsePattern splits a host pattern into its normalised host and port (0 = any).
func parsePattern(pattern string) (string, int, error) {
	s := strings.ToLower(strings.TrimSpace(pattern))
	if s == "" {
		return "", 0, errors.New("empty host pattern")
	}
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("host pattern %q: missing ']'", pattern)
		}
		host, portStr = s[1:end], s[end+1:]
		if portStr != "" {
			p, ok := strings.CutPrefix(portStr, ":")
			if !ok {
				return "", 0, fmt.Errorf("host pattern %q: unexpected text after ']'", pattern)
			}
			portStr = p
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return "", 0, fmt.Errorf("host pattern %q: not an IPv6 address", pattern)
		}
	} else if strings.Count(s, ":") == 1 {
		host, portStr, _ = strings.Cut(s, ":")
	} else if strings.Contains(s, ":") {
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, fmt.Errorf("host pattern %q: write IPv6 addresses in brackets", pattern)
		}
	}
	host = strings.TrimSuffix(host, ".")
	port := 0
	if portStr != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("host pattern %q: invalid port", pattern)
		}
		port = n
	}
	name := strings.TrimPrefix(host, "*.")
	if _, err := netip.ParseAddr(host); err == nil {
		return host, port, nil
	}
	if !validHostName(name) || strings.Contains(name, "*") {
		return "", 0, fmt.Errorf("host pattern %q: not a host name, host:port or *.domain", pattern)
	}
	return host, port, nil
}

// ValidateHostPattern reports whether pattern is a valid AllowHosts/TrustedHosts entry, so
// that configuration can refuse a typo at start instead of silently matching nothing.
func ValidateHostPattern(pattern string) error {
	_, _, err := parsePattern(pattern)
	return err
}

// hostTrusted reports whether a dial address "host:port" (as the transport passes it, before
// resolution) belongs to a trusted host.
func (p Policy) hostTrusted(addr string) bool {
	h, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return false
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return matchAny(p.TrustedHosts, h, port)
}
