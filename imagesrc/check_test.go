package imagesrc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

func vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Files written by other encoders (testdata/images/README.md) pass, whole.
func TestCheckAcceptsOutsideVectors(t *testing.T) {
	for name, want := range map[string]Format{
		"video-001.jpeg":             JPEG,
		"video-001.progressive.jpeg": JPEG,
		"video-001.restart2.jpeg":    JPEG,
		"video-005.gray.jpeg":        JPEG,
		"video-001.png":              PNG,
		"video-001.bmp":              BMP,
		"bmp_8bpp.bmp":               BMP,
		"video-001.lossy.webp":       WebP,
		"tux.lossless.webp":          WebP,
	} {
		if f, err := Check(vector(t, name), 0); err != nil || f != want {
			t.Errorf("%s: %v %v", name, f, err)
		}
	}
	// Phones append metadata after a JPEG's end marker; that is not truncation.
	trailer := append(vector(t, "video-001.jpeg"), []byte("SEFH\x00\x00\x00\x00trailer")...)
	if _, err := Check(trailer, 0); err != nil {
		t.Errorf("JPEG with a trailer: %v", err)
	}
}

// pngHeader is a PNG signature and an IHDR chunk declaring w×h, CRC correct: a header any
// decoder accepts, with nothing after it.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	b := append([]byte{}, magicPNG...)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// What only looks like an image is refused before it costs a paid call: each of these was
// sent to the OCR API before (issue 11).
func TestCheckRefusesLookalikes(t *testing.T) {
	junk := bytes.Repeat([]byte("junk"), 1000)
	jpg := vector(t, "video-001.jpeg")
	pngFile := vector(t, "video-001.png")
	bmpFile := vector(t, "video-001.bmp")
	webpFile := vector(t, "video-001.lossy.webp")
	// A whole image of the declared size but 100000×100000: complete, and still refused.
	huge := append(pngHeader(100000, 100000), pngFile[len(pngFile)-12:]...)
	for name, tc := range map[string]struct {
		data  []byte
		inMsg string
	}{
		"PNG signature then junk":    {append(append([]byte{}, magicPNG...), junk...), "header"},
		"JPEG magic then junk":       {append([]byte{0xFF, 0xD8, 0xFF}, junk...), "header"},
		"PNG of 100000×100000":       {huge, "100000×100000"},
		"PNG of 8×8":                 {append(pngHeader(8, 8), pngFile[len(pngFile)-12:]...), "8×8"},
		"PNG header only":            {pngHeader(640, 400), "truncated"},
		"JPEG cut in half":           {jpg[:len(jpg)/2], "truncated"},
		"JPEG without its last byte": {jpg[:len(jpg)-1], "truncated"},
		"progressive JPEG cut short": {vector(t, "video-001.progressive.jpeg")[:15000], "truncated"},
		"PNG without IEND":           {pngFile[:len(pngFile)-12], "truncated"},
		"BMP cut short":              {bmpFile[:len(bmpFile)-100], "truncated"},
		"WebP cut short":             {webpFile[:len(webpFile)-10], "truncated"},
	} {
		_, err := Check(tc.data, 0)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		e := wantCode(t, err, apperr.ImageUnreadable)
		if e != nil && !strings.Contains(e.Message, tc.inMsg) {
			t.Errorf("%s: message %q does not say %q", name, e.Message, tc.inMsg)
		}
	}
}

// A JPEG whose EXIF thumbnail carries an end marker is still truncated when the main image
// stops short: only an end marker after the first scan counts.
func TestCheckJPEGThumbnailEOIDoesNotCount(t *testing.T) {
	jpg := vector(t, "video-001.jpeg")
	thumb := []byte{0xFF, 0xD8, 0xFF, 0xD9} // a (degenerate) embedded JPEG
	app1 := []byte{0xFF, 0xE1, 0, byte(2 + 6 + len(thumb))}
	app1 = append(append(app1, "Exif\x00\x00"...), thumb...)
	withThumb := append(append(append([]byte{}, jpg[:2]...), app1...), jpg[2:]...)
	if _, err := Check(withThumb, 0); err != nil {
		t.Fatalf("whole JPEG with a thumbnail: %v", err)
	}
	_, err := Check(withThumb[:len(withThumb)/2], 0)
	wantCode(t, err, apperr.ImageUnreadable)
}
