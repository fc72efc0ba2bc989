package imagesrc

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestDecodeStdStopsAtEveryPosition puts one non-alphabet byte at every offset of texts whose
// lengths cross the 16- and 4-character rounds, and checks that decodeStd stops at the quantum
// holding it, with the standard decoder's bytes for everything before.
func TestDecodeStdStopsAtEveryPosition(t *testing.T) {
	for n := 0; n <= 80; n++ {
		raw := randBytes(n, uint64(n))
		text := []byte(base64.RawStdEncoding.EncodeToString(raw))
		check := func(src []byte, wantSrc int) {
			t.Helper()
			dst := make([]byte, len(src))
			ns, nd := decodeStd(dst, src)
			if ns != wantSrc || nd != ns/4*3 {
				t.Fatalf("%q: consumed %d wrote %d, want %d", src, ns, nd, wantSrc)
			}
			want, err := base64.RawStdEncoding.DecodeString(string(src[:ns]))
			if err != nil || !bytes.Equal(dst[:nd], want) {
				t.Fatalf("%q: got %x want %x (%v)", src, dst[:nd], want, err)
			}
		}
		check(text, len(text)/4*4)
		for pos := range text {
			for _, c := range []byte{'=', '"', '\\', '\n', '-', '_', 0x00, 0x80, 0xff, ' '} {
				b := append([]byte(nil), text...)
				b[pos] = c
				check(b, pos/4*4)
			}
		}
	}
}

// TestDecodeStdRoom: decodeStd never writes past dst and stops when a quantum does not fit.
func TestDecodeStdRoom(t *testing.T) {
	raw := randBytes(300, 7)
	text := []byte(base64.StdEncoding.EncodeToString(raw))
	for room := 0; room <= len(raw); room++ {
		buf := make([]byte, room+8)
		for i := range buf {
			buf[i] = 0xAA
		}
		ns, nd := decodeStd(buf[:room], text)
		if nd > room || nd != room/3*3 || ns != nd/3*4 || !bytes.Equal(buf[:nd], raw[:nd]) {
			t.Fatalf("room %d: consumed %d wrote %d", room, ns, nd)
		}
		for _, c := range buf[room:] {
			if c != 0xAA {
				t.Fatalf("room %d: wrote past dst", room)
			}
		}
	}
}

// BenchmarkDecodeStd compares decodeStd with the standard library's decoder on the same
// 2 MB image's text, run side by side.
func BenchmarkDecodeStd(b *testing.B) {
	data := randBytes(2<<20, 42)
	s := []byte(base64.StdEncoding.EncodeToString(data))
	dst := make([]byte, len(data)+16)
	b.Run("stdlib-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			if _, err := base64.StdEncoding.Decode(dst, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeStd", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			if _, n := decodeStd(dst, s); n < len(data)-3 {
				b.Fatal(n)
			}
		}
	})
}
