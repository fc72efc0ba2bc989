package imagesrc

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/image/bmp"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24)) // MinSide is 20
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	return img
}

func encoded(t testing.TB, enc func(io.Writer, image.Image) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// webpHeader is a lossless WebP file's header declaring 32×24 (RIFF, size, WEBP, VP8L chunk,
// signature, 14-bit width-1 and height-1): all that Sniff and Check read of it.
var webpHeader = []byte("RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f\x1f\xc0\x05\x00\x00")

func TestSniffRealImages(t *testing.T) {
	tests := []struct {
		data []byte
		want Format
		ct   string
		ext  string
	}{
		{encoded(t, func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) }), JPEG, "image/jpeg", ".jpg"},
		{encoded(t, png.Encode), PNG, "image/png", ".png"},
		{encoded(t, bmp.Encode), BMP, "image/bmp", ".bmp"},
		{webpHeader, WebP, "image/webp", ".webp"},
	}
	for _, tc := range tests {
		f, ok := Sniff(tc.data)
		if !ok || f != tc.want {
			t.Errorf("Sniff(%s) = %v, %v", tc.want, f, ok)
		}
		if f.ContentType() != tc.ct || f.Ext() != tc.ext || f.String() != strings.TrimPrefix(tc.ext, ".") && f != JPEG {
			t.Errorf("%v: ContentType %q Ext %q String %q", f, f.ContentType(), f.Ext(), f.String())
		}
		got, err := Check(tc.data, 1<<20)
		if err != nil || got != tc.want {
			t.Errorf("Check(%s) = %v, %v", tc.want, got, err)
		}
	}
	if JPEG.String() != "jpeg" || Unknown.String() != "unknown" || Format(99).ContentType() != "application/octet-stream" || Unknown.Ext() != "" {
		t.Error("format names")
	}
}

func TestSniffRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":              nil,
		"jpeg 2 bytes":       {0xFF, 0xD8},
		"png short":          []byte("\x89PNG\r\n"),
		"BM text":            []byte("BM is a short text that begins like a bitmap"),
		"BM short":           []byte("BM"),
		"wav":                []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"),
		"riff webp no chunk": []byte("RIFF\x24\x00\x00\x00WEBPXXXX"),
		"gif":                []byte("GIF89a\x01\x00\x01\x00"),
		"pdf":                []byte("%PDF-1.7\n"),
		"html":               []byte("<!doctype html><html>"),
		"svg":                []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"),
		"heic":               []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"),
	} {
		if f, ok := Sniff(b); ok {
			t.Errorf("Sniff(%s) = %v, want unknown", name, f)
		}
	}
}

func TestCheck(t *testing.T) {
	pngBytes := encoded(t, png.Encode)
	tests := []struct {
		name  string
		data  []byte
		max   int64
		code  apperr.Code
		inMsg string
	}{
		{"empty", nil, 100, apperr.ImageUnreadable, "empty image"},
		{"empty slice", []byte{}, 100, apperr.ImageUnreadable, "empty image"},
		{"too large", pngBytes, int64(len(pngBytes) - 1), apperr.ImageTooLarge, "limit"},
		{"unknown", []byte("hello, world"), 100, apperr.ImageUnreadable, "JPEG, PNG, BMP or WebP"},
		{"default max", make([]byte, DefaultMaxBytes+1), 0, apperr.ImageTooLarge, "2097152"},
	}
	for _, tc := range tests {
		_, err := Check(tc.data, tc.max)
		e := wantCode(t, err, tc.code)
		if !strings.Contains(e.Message, tc.inMsg) {
			t.Errorf("%s: message %q does not mention %q", tc.name, e.Message, tc.inMsg)
		}
	}
	if f, err := Check(pngBytes, int64(len(pngBytes))); err != nil || f != PNG {
		t.Errorf("exactly max: %v %v", f, err)
	}
}

func TestReadLimited(t *testing.T) {
	data := randBytes(100000, 3)
	got, err := ReadLimited(bytes.NewReader(data), 100000)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("exact: %d bytes, %v", len(got), err)
	}
	got, err = ReadLimited(iotest.OneByteReader(bytes.NewReader(data[:5000])), 100000)
	if err != nil || !bytes.Equal(got, data[:5000]) {
		t.Fatalf("one byte at a time: %d bytes, %v", len(got), err)
	}
	if got, err := ReadLimited(strings.NewReader(""), 10); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	_, err = ReadLimited(bytes.NewReader(data), 99999)
	wantCode(t, err, apperr.ImageTooLarge)
	_, err = ReadLimited(bytes.NewReader(make([]byte, DefaultMaxBytes+1)), 0)
	wantCode(t, err, apperr.ImageTooLarge)

	broken := errors.New("connection reset")
	_, err = ReadLimited(io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(broken)), 1000)
	wantCode(t, err, apperr.InvalidRequest)
	if !errors.Is(err, broken) {
		t.Errorf("cause lost: %v", err)
	}

	// Behind http.MaxBytesReader (a handler's whole-body limit) the overflow is still
	// IMAGE_TOO_LARGE, not a read failure.
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(data)), 50)
	_, err = ReadLimited(r, 1000)
	wantCode(t, err, apperr.ImageTooLarge)
}
