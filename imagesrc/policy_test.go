package imagesrc

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// codeOf returns the apperr code of err, or "" when err is nil or not an *apperr.Error.
func codeOf(err error) apperr.Code {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestCheckAddr(t *testing.T) {
	forbidden := []string{
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.100.100.200",
		"127.0.0.1", "127.255.0.1", "169.254.169.254", "169.254.0.23", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::127.0.0.1", "::a9fe:a9fe", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"::ffff:10.1.2.3", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.1",
		"64:ff9b:1::1.2.3.4", "2002:7f00:0001::1", "2002:a9fe:a9fe::1", "2001::1", "2001:db8::1",
		"fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "100::1",
	}
	for _, s := range forbidden {
		if r := checkAddr(netip.MustParseAddr(s)); r == "" {
			t.Errorf("checkAddr(%s) allowed, want forbidden", s)
		}
	}
	allowed := []string{
		"1.1.1.1", "8.8.8.8", "101.32.1.1", "100.63.255.255", "100.128.0.1", "172.15.255.255",
		"172.32.0.1", "192.167.1.1", "169.253.1.1", "223.255.255.255",
		"2400:cb00::1", "2606:4700::6810:84e5", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:0808:0808::1",
	}
	for _, s := range allowed {
		if r := checkAddr(netip.MustParseAddr(s)); r != "" {
			t.Errorf("checkAddr(%s) = %q, want allowed", s, r)
		}
	}
	if r := checkAddr(netip.Addr{}); r == "" {
		t.Error("checkAddr(zero Addr) allowed")
	}
}

func TestCheckURL(t *testing.T) {
	open := Policy{}
	allow := Policy{AllowHosts: []string{"img.example.com", "*.cdn.example.net", "files.example.org:8443", "[2606:4700::1]"}}
	trusted := Policy{TrustedHosts: []string{"127.0.0.1", "Sandbox.Local:9000"}}
	both := Policy{AllowHosts: []string{"img.example.com"}, TrustedHosts: []string{"127.0.0.1"}}
	tests := []struct {
		name     string
		p        Policy
		url      string
		ok       bool
		inMsg    string
		wantHost string
	}{
		{"plain https", open, "https://img.example.com/a.jpg?x=1", true, "", "img.example.com"},
		{"explicit 443", open, "https://img.example.com:443/a.jpg", true, "", ""},
		{"upper-case host", open, "HTTPS://IMG.Example.COM/a.jpg", true, "", ""},
		{"trailing dot", open, "https://img.example.com./a.jpg", true, "", ""},
		{"public IPv4", open, "https://8.8.8.8/a.jpg", true, "", ""},
		{"public IPv6", open, "https://[2606:4700::1]/a.jpg", true, "", ""},
		{"empty", open, "  ", false, "empty", ""},
		{"too long", open, "https://a.com/" + strings.Repeat("a", 5000), false, "longer", ""},
		{"not a URL", open, "https://a b.com/", false, "", ""},
		{"relative", open, "/a.jpg", false, "absolute", ""},
		{"opaque", open, "https:img.example.com", false, "absolute", ""},
		{"http", open, "http://img.example.com/a.jpg", false, "https", ""},
		{"ftp", open, "ftp://img.example.com/a.jpg", false, "scheme", ""},
		{"file", open, "file:///etc/passwd", false, "scheme", ""},
		{"gopher", open, "gopher://img.example.com/", false, "scheme", ""},
		{"userinfo", open, "https://user:pw@img.example.com/a.jpg", false, "user name", ""},
		{"user only", open, "https://user@img.example.com/a.jpg", false, "user name", ""},
		{"odd port", open, "https://img.example.com:8443/a.jpg", false, "port 8443", ""},
		{"bad port", open, "https://img.example.com:99999/a.jpg", false, "port", ""},
		{"empty port", open, "https://img.example.com:/a.jpg", false, "empty port", ""},
		{"no host", open, "https:///a.jpg", false, "", ""},
		{"loopback v4", open, "https://127.0.0.1/a.jpg", false, "loopback", ""},
		{"metadata ip", open, "https://169.254.169.254/latest", false, "link-local", ""},
		{"private", open, "https://10.0.0.8/a.jpg", false, "private", ""},
		{"cgnat", open, "https://100.100.100.200/a.jpg", false, "carrier-grade", ""},
		{"zero", open, "https://0.0.0.0/a.jpg", false, "forbidden", ""},
		{"v6 loopback", open, "https://[::1]/a.jpg", false, "forbidden", ""},
		{"v6 mapped", open, "https://[::ffff:127.0.0.1]/a.jpg", false, "loopback", ""},
		{"v6 mapped hex", open, "https://[::ffff:7f00:1]/a.jpg", false, "loopback", ""},
		{"nat64 metadata", open, "https://[64:ff9b::a9fe:a9fe]/a.jpg", false, "NAT64", ""},
		{"ula", open, "https://[fd00::1]/a.jpg", false, "unique local", ""},
		{"link-local zone", open, "https://[fe80::1%25eth0]/a.jpg", false, "link-local", ""},
		{"decimal ip", open, "https://2130706433/a.jpg", false, "non-standard IP", ""},
		{"hex ip", open, "https://0x7f000001/a.jpg", false, "non-standard IP", ""},
		{"short ip", open, "https://127.1/a.jpg", false, "non-standard IP", ""},
		{"octal ip", open, "https://0177.0.0.1/a.jpg", false, "non-standard IP", ""},
		{"localhost", open, "https://localhost/a.jpg", false, "metadata", ""},
		{"sub.localhost", open, "https://a.localhost/a.jpg", false, "metadata", ""},
		{"tencent metadata", open, "https://metadata.tencentyun.com/latest/meta-data/", false, "metadata", ""},
		{"tencent metadata dot", open, "https://METADATA.tencentyun.com./x", false, "metadata", ""},
		{"google metadata", open, "https://metadata.google.internal/computeMetadata/v1/", false, "metadata", ""},
		{"unicode host", open, "https://例え.jp/a.jpg", false, "punycode", ""},
		{"allow exact", allow, "https://img.example.com/a.jpg", true, "", ""},
		{"allow case", allow, "https://IMG.EXAMPLE.COM/a.jpg", true, "", ""},
		{"allow wildcard", allow, "https://a.b.cdn.example.net/a.jpg", true, "", ""},
		{"allow wildcard apex", allow, "https://cdn.example.net/a.jpg", false, "allowed hosts", ""},
		{"allow suffix trick", allow, "https://evilcdn.example.net/a.jpg", false, "allowed hosts", ""},
		{"allow other", allow, "https://evil.com/a.jpg", false, "allowed hosts", ""},
		{"allow port entry", allow, "https://files.example.org:8443/a.jpg", true, "", ""},
		{"allow port entry wrong port", allow, "https://files.example.org:9443/a.jpg", false, "allowed hosts", ""},
		{"allow port entry default port", allow, "https://files.example.org/a.jpg", false, "allowed hosts", ""},
		{"allow host any port", allow, "https://img.example.com:8443/a.jpg", true, "", ""},
		{"allow ipv6", allow, "https://[2606:4700::1]/a.jpg", true, "", ""},
		{"allowed still https", allow, "http://img.example.com/a.jpg", false, "https", ""},
		{"trusted http loopback", trusted, "http://127.0.0.1:8080/a.jpg", true, "", ""},
		{"trusted named", trusted, "http://sandbox.local:9000/a.jpg", true, "", ""},
		{"trusted named wrong port", trusted, "http://sandbox.local:9001/a.jpg", false, "", ""},
		{"trusted other loopback", trusted, "http://127.0.0.2/a.jpg", false, "https", ""},
		{"trusted other loopback https", trusted, "https://127.0.0.2/a.jpg", false, "loopback", ""},
		{"trusted userinfo", trusted, "http://u:p@127.0.0.1/a.jpg", false, "user name", ""},
		{"both trusted bypasses allow", both, "http://127.0.0.1:1234/a.jpg", true, "", ""},
		{"both allow", both, "https://img.example.com/a.jpg", true, "", ""},
		{"both other", both, "https://other.example.com/a.jpg", false, "allowed hosts", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := tc.p.CheckURL(tc.url)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want ok", tc.url, err)
				}
				if tc.wantHost != "" && u.Hostname() != tc.wantHost {
					t.Errorf("host = %q, want %q", u.Hostname(), tc.wantHost)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckURL(%q) accepted, want IMAGE_URL_REJECTED", tc.url)
			}
			if codeOf(err) != apperr.ImageURLRejected {
				t.Fatalf("CheckURL(%q) code = %q (%v), want IMAGE_URL_REJECTED", tc.url, codeOf(err), err)
			}
			if tc.inMsg != "" && !strings.Contains(err.(*apperr.Error).Message, tc.inMsg) {
				t.Errorf("message %q does not mention %q", err.(*apperr.Error).Message, tc.inMsg)
			}
		})
	}
}

func TestValidateHostPattern(t *testing.T) {
	good := []string{"example.com", "Example.COM", "example.com:8443", "*.example.com", "*.example.com:443",
		"127.0.0.1", "127.0.0.1:9000", "[::1]", "[::1]:9000", "::1", "my_host.internal", "example.com."}
	for _, p := range good {
		if err := ValidateHostPattern(p); err != nil {
			t.Errorf("ValidateHostPattern(%q) = %v, want nil", p, err)
		}
	}
	bad := []string{"", " ", "*", "*.", "a*.example.com", "ex ample.com", "example.com:0", "example.com:x",
		"example.com:70000", "https://example.com", "example.com/path", "[::1", "[::1]x", "[example.com]",
		"a..b", "example.com:", "例え.jp"}
	for _, p := range bad {
		if err := ValidateHostPattern(p); err == nil {
			t.Errorf("ValidateHostPattern(%q) = nil, want error", p)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	var p Policy
	if p.maxBytes() != DefaultMaxBytes || p.timeout() != DefaultTimeout || p.maxRedirects() != DefaultMaxRedirects {
		t.Errorf("zero Policy defaults = %d, %s, %d", p.maxBytes(), p.timeout(), p.maxRedirects())
	}
	p.MaxRedirects = -1
	if p.maxRedirects() != 0 {
		t.Errorf("MaxRedirects -1 gives %d redirects, want 0", p.maxRedirects())
	}
}
