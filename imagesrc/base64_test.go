package imagesrc

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// wrap inserts sep every n characters, as MIME encoders and copy-paste do.
func wrap(s string, n int, sep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		b.WriteString(s[i:min(i+n, len(s))])
		b.WriteString(sep)
	}
	return b.String()
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDecodeBase64Forms(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 100, 3071, 3072, 3073, 10000} {
		data := randBytes(n, uint64(n))
		forms := map[string]string{
			"std":          base64.StdEncoding.EncodeToString(data),
			"raw std":      base64.RawStdEncoding.EncodeToString(data),
			"url":          base64.URLEncoding.EncodeToString(data),
			"raw url":      base64.RawURLEncoding.EncodeToString(data),
			"data url":     "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(data),
			"data url uc":  "DATA:Image/PNG;BASE64," + base64.StdEncoding.EncodeToString(data),
			"data params":  "data:image/png;name=card.png;base64," + base64.StdEncoding.EncodeToString(data),
			"mime wrapped": wrap(base64.StdEncoding.EncodeToString(data), 76, "\r\n"),
			"spaces":       "  \n" + wrap(base64.StdEncoding.EncodeToString(data), 7, " \t") + "\n ",
			"split pad":    wrap(base64.StdEncoding.EncodeToString(data), 1, "\n"),
		}
		for name, s := range forms {
			got, err := DecodeBase64([]byte(s), 1<<20)
			if err != nil {
				t.Fatalf("n=%d %s: %v", n, name, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("n=%d %s: decoded bytes differ", n, name)
			}
			if limit := len(s) * 3 / 4; cap(got) > limit {
				t.Errorf("n=%d %s: cap %d, more than 3/4 of the text (%d)", n, name, cap(got), limit)
			}
			if !strings.ContainsAny(s, " \t\r\n") && cap(got) > n+2 {
				t.Errorf("n=%d %s: cap %d for %d bytes of unbroken base64", n, name, cap(got), n)
			}
		}
	}
}

func TestDecodeBase64Errors(t *testing.T) {
	tests := []struct {
		name, in string
		code     apperr.Code
		inMsg    string
	}{
		{"empty", "", apperr.InvalidRequest, "empty"},
		{"whitespace", " \r\n\t ", apperr.InvalidRequest, "empty"},
		{"empty data url", "data:image/png;base64,", apperr.InvalidRequest, "empty"},
		{"invalid char", "aGVs*G8=", apperr.InvalidRequest, "not valid"},
		{"invalid char late", strings.Repeat("A", 800) + "!AAA", apperr.InvalidRequest, "not valid"},
		{"non-ascii", "aGVsbG8é", apperr.InvalidRequest, "not valid"},
		{"one char", "a", apperr.InvalidRequest, "length"},
		{"five chars", "aGVsb", apperr.InvalidRequest, "length"},
		{"pad in middle", "aG==bG8=", apperr.InvalidRequest, "padding"},
		{"too much pad", "aGVsbG8===", apperr.InvalidRequest, "padding"},
		{"only pad", "==", apperr.InvalidRequest, "length"},
		{"wrong pad count", "aGVsbG8==", apperr.InvalidRequest, "length"},
		{"mixed alphabets", "ab+c-d__", apperr.InvalidRequest, "mixes"},
		{"data url no comma", "data:image/png;base64" + strings.Repeat("A", 300), apperr.InvalidRequest, "','"},
		{"data url text", "data:text/plain;base64,aGVsbG8=", apperr.InvalidRequest, "image/*"},
		{"data url not base64", "data:image/svg+xml,<svg/>", apperr.InvalidRequest, "base64"},
		{"data url percent", "data:image/png;charset=x,aGVsbG8=", apperr.InvalidRequest, "base64"},
		{"too large", base64.StdEncoding.EncodeToString(make([]byte, 1001)), apperr.ImageTooLarge, "1001"},
		{"too large raw", base64.RawURLEncoding.EncodeToString(make([]byte, 1001)), apperr.ImageTooLarge, "1001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeBase64([]byte(tc.in), 1000)
			if err == nil {
				t.Fatalf("decoded %d bytes, want %s", len(b), tc.code)
			}
			e := wantCode(t, err, tc.code)
			if !strings.Contains(e.Message, tc.inMsg) {
				t.Errorf("message %q does not mention %q", e.Message, tc.inMsg)
			}
		})
	}
}

func TestDecodeBase64Limit(t *testing.T) {
	exact := base64.StdEncoding.EncodeToString(make([]byte, 1000))
	if b, err := DecodeBase64([]byte(exact), 1000); err != nil || len(b) != 1000 {
		t.Fatalf("exactly the limit: %d bytes, %v", len(b), err)
	}
	// max <= 0 means the default.
	if _, err := DecodeBase64([]byte(base64.StdEncoding.EncodeToString(make([]byte, DefaultMaxBytes+1))), 0); codeOf(err) != apperr.ImageTooLarge {
		t.Fatalf("default limit: %v", err)
	}
}

// An oversized string is refused before anything of its size is allocated.
func TestDecodeBase64OversizeCostsNothing(t *testing.T) {
	big := []byte(base64.StdEncoding.EncodeToString(make([]byte, 3<<20)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := DecodeBase64(big, 2<<20); codeOf(err) != apperr.ImageTooLarge {
			t.Fatalf("err = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Fatalf("10 rejections allocated %d bytes", d)
	}
}

func TestDecodeBase64AllocatesOnce(t *testing.T) {
	data := randBytes(256<<10, 9)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(data),
		"data:image/jpeg;base64," + wrap(base64.URLEncoding.EncodeToString(data), 76, "\n"),
	} {
		text := []byte(s)
		allocs := testing.AllocsPerRun(5, func() {
			if _, err := DecodeBase64(text, 1<<20); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 1 {
			t.Errorf("allocs = %v, want 1", allocs)
		}
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	data := randBytes(2<<20, 42)
	// Baseline on the same machine and load: the standard library alone.
	b.Run("2MB/stdlib-baseline", func(b *testing.B) {
		s := base64.StdEncoding.EncodeToString(data)
		b.ReportAllocs()
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct{ name, s string }{
		{"2MB/std", base64.StdEncoding.EncodeToString(data)},
		{"2MB/dataurl-wrapped", "data:image/jpeg;base64," + wrap(base64.StdEncoding.EncodeToString(data), 76, "\r\n")},
		{"3MB/oversize", base64.StdEncoding.EncodeToString(randBytes(3<<20, 43))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			text := []byte(bc.s)
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_, err := DecodeBase64(text, 2<<20)
				if err != nil && codeOf(err) != apperr.ImageTooLarge {
					b.Fatal(err)
				}
			}
		})
	}
}
