package imagesrc

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{
		"", "aGVsbG8=", "aGVsbG8", "aGVs\nbG8=", "data:image/png;base64,aGVsbG8=", "a-_b", "ab+/",
		"====", "a===", "data:image/;base64,", "data:,", " \t", "\xff\xfe", "YQ==\n", "Y Q = =",
		base64.StdEncoding.EncodeToString(webpHeader),
	} {
		f.Add(s, int64(64))
	}
	f.Fuzz(func(t *testing.T, s string, limit int64) {
		limit = limit % 4096
		b, err := DecodeBase64([]byte(s), limit)
		if err != nil {
			if codeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if limit <= 0 {
			limit = DefaultMaxBytes
		}
		if len(b) == 0 || int64(cap(b)) > limit || cap(b) > len(s)*3/4 {
			t.Fatalf("decoded %d bytes (cap %d), limit %d", len(b), cap(b), limit)
		}
		// Whatever we accept must agree with the standard library on the same characters.
		data := s
		if i := strings.IndexByte(s, ','); i >= 0 && strings.HasPrefix(strings.ToLower(strings.TrimLeft(s, " \t\r\n\f\v")), "data:") {
			data = s[i+1:]
		}
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\f' || r == '\v' || r == '=' {
				return -1
			}
			return r
		}, data)
		enc := base64.RawStdEncoding
		if strings.ContainsAny(clean, "-_") {
			enc = base64.RawURLEncoding
		}
		want, err := enc.DecodeString(clean)
		if err != nil || !bytes.Equal(want, b) {
			t.Fatalf("stdlib decodes %q to %x (%v), we gave %x", clean, want, err, b)
		}
		// Round trip: our output encoded any way decodes back to itself.
		again, err := DecodeBase64([]byte(wrap(base64.URLEncoding.EncodeToString(b), 5, "\n")), limit)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://img.example.com/a.jpg", "http://127.0.0.1:8080/a", "https://[::ffff:127.0.0.1]/",
		"https://2130706433/", "https://u:p@a.com/", "https://a.com:8443/", "https://metadata.tencentyun.com/",
		"https://[fe80::1%25eth0]/", "https://a.cdn.example.net/x?y#z", "//a.com/", "https://%31%32%37.0.0.1/",
		"https://127.0.0.1.nip.io/", "https://[64:ff9b::7f00:1]/", "HTTPS://A.COM./",
	} {
		f.Add(s)
	}
	p := Policy{AllowHosts: []string{"*.example.net", "a.com:8443", "img.example.com"}, TrustedHosts: []string{"127.0.0.1:8080"}}
	open := Policy{}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, pol := range []Policy{p, open} {
			u, err := pol.CheckURL(raw)
			if err != nil {
				if codeOf(err) == "" {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if u.User != nil {
				t.Fatalf("accepted userinfo in %q", raw)
			}
			host, port, err := splitHost(u)
			if err != nil {
				t.Fatalf("accepted %q but splitHost fails: %v", raw, err)
			}
			trusted := matchAny(pol.TrustedHosts, host, port)
			if !trusted {
				if u.Scheme != "https" {
					t.Fatalf("accepted scheme %q for untrusted %q", u.Scheme, raw)
				}
				if a, err := netip.ParseAddr(host); err == nil && checkAddr(a) != "" {
					t.Fatalf("accepted forbidden address %q", raw)
				}
				if checkName(host) != "" {
					t.Fatalf("accepted forbidden name %q", raw)
				}
				if port != 443 && !matchAny(pol.AllowHosts, host, port) {
					t.Fatalf("accepted port %d for %q", port, raw)
				}
			}
			if len(pol.AllowHosts) > 0 && !trusted && !matchAny(pol.AllowHosts, host, port) {
				t.Fatalf("accepted %q outside the allow-list", raw)
			}
			// What we accept and re-serialise is accepted again (the fetcher re-parses it).
			if _, err := pol.CheckURL(u.String()); err != nil {
				t.Fatalf("accepted %q but not its re-serialisation %q: %v", raw, u.String(), err)
			}
		}
	})
}

func FuzzSniff(f *testing.F) {
	for _, b := range [][]byte{nil, magicJPEG, magicPNG, webpHeader, []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00"), []byte("RIFF....WAVE"), []byte("GIF89a")} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		format, ok := Sniff(b)
		if ok != (format != Unknown) {
			t.Fatalf("Sniff = %v, %v", format, ok)
		}
		got, err := Check(b, int64(len(b))+1)
		if ok {
			// Check also reads the header, the sides and the end: it may refuse what Sniff
			// recognised, but only as unreadable, and what it accepts Sniff agrees on.
			if err != nil && codeOf(err) != apperr.ImageUnreadable || err == nil && got != format {
				t.Fatalf("Check = %v, %v; Sniff said %v", got, err, format)
			}
			if !strings.HasPrefix(format.ContentType(), "image/") || format.Ext() == "" {
				t.Fatalf("format %v has content type %q ext %q", format, format.ContentType(), format.Ext())
			}
		} else if err == nil || codeOf(err) == "" {
			t.Fatalf("Check accepted unsniffable bytes: %v", err)
		}
	})
}
