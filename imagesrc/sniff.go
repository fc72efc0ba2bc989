package imagesrc

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// Format is an image format recognised by its magic bytes.
type Format int

// The formats WeChat's ID-card OCR decodes. Unknown is the zero value.
const (
	Unknown Format = iota
	JPEG
	PNG
	BMP
	WebP
)

var formatInfo = [...]struct{ name, contentType, ext string }{
	Unknown: {"unknown", "application/octet-stream", ""},
	JPEG:    {"jpeg", "image/jpeg", ".jpg"},
	PNG:     {"png", "image/png", ".png"},
	BMP:     {"bmp", "image/bmp", ".bmp"},
	WebP:    {"webp", "image/webp", ".webp"},
}

func (f Format) info() struct{ name, contentType, ext string } {
	if f < 0 || int(f) >= len(formatInfo) {
		return formatInfo[Unknown]
	}
	return formatInfo[f]
}

// String is the lower-case format name, e.g. "jpeg".
func (f Format) String() string { return f.info().name }

// ContentType is the MIME type to declare when uploading, e.g. "image/jpeg".
func (f Format) ContentType() string { return f.info().contentType }

// Ext is the file name extension to use in a multipart upload, e.g. ".jpg".
func (f Format) Ext() string { return f.info().ext }

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
)

// Sniff recognises JPEG, PNG, BMP and WebP by their leading bytes. It looks a little further
// than the bare signature where that is short ("BM", "RIFF"), so that text starting with
// those letters is not taken for an image.
func Sniff(b []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(b, magicJPEG):
		return JPEG, true
	case bytes.HasPrefix(b, magicPNG):
		return PNG, true
	case isBMP(b):
		return BMP, true
	case isWebP(b):
		return WebP, true
	}
	return Unknown, false
}

// isBMP checks "BM" and a known DIB header size (BITMAPCOREHEADER .. BITMAPV5HEADER).
func isBMP(b []byte) bool {
	if len(b) < 18 || b[0] != 'B' || b[1] != 'M' {
		return false
	}
	switch binary.LittleEndian.Uint32(b[14:18]) {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// isWebP checks the RIFF container, the WEBP form type and a VP8/VP8L/VP8X first chunk.
func isWebP(b []byte) bool {
	if len(b) < 16 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return false
	}
	switch string(b[12:16]) {
	case "VP8 ", "VP8L", "VP8X":
		return true
	}
	return false
}

// MinSide and MaxSide bound each side of an accepted image, in pixels. They are Tencent Cloud
// OCR's documented range ("支持的图片像素：需介于20-10000px之间", the IDCardOCR family's
// ImageBase64 parameter in tencentcloud-sdk-ocr); WeChat documents none, and an ID card
// cannot be read from fewer pixels nor needs more.
const (
	MinSide = 20
	MaxSide = 10000
)

// Check is the local gate before any upstream call (a rejected image costs no quota), using
// only the header and the end of the stream, never decoding pixels: IMAGE_UNREADABLE for
// empty or unrecognised bytes, a header that does not decode, a side outside MinSide..MaxSide
// or a truncated stream (a JPEG without its end-of-image marker after the first scan, a PNG
// without IEND, a BMP or WebP shorter than its header says); IMAGE_TOO_LARGE past limit (0
// means DefaultMaxBytes).
func Check(b []byte, limit int64) (Format, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(b) == 0 {
		return Unknown, apperr.Errorf(apperr.ImageUnreadable, "empty image")
	}
	if int64(len(b)) > limit {
		return Unknown, apperr.Errorf(apperr.ImageTooLarge, "image is %d bytes, larger than the limit of %d bytes", len(b), limit)
	}
	f, ok := Sniff(b)
	if !ok {
		return Unknown, apperr.Errorf(apperr.ImageUnreadable, "image is not a JPEG, PNG, BMP or WebP file")
	}
	var (
		cfg image.Config
		err error
	)
	r := bytes.NewReader(b)
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case PNG:
		cfg, err = png.DecodeConfig(r)
	case BMP:
		cfg, err = bmp.DecodeConfig(r)
	case WebP:
		cfg, err = webp.DecodeConfig(r)
	}
	if err != nil {
		return Unknown, apperr.Wrap(apperr.ImageUnreadable, err, "the %s header is damaged", f)
	}
	if cfg.Width < MinSide || cfg.Height < MinSide || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return Unknown, apperr.Errorf(apperr.ImageUnreadable, "the image is %d×%d pixels; each side must be %d to %d", cfg.Width, cfg.Height, MinSide, MaxSide)
	}
	if !complete(f, b) {
		return Unknown, apperr.Errorf(apperr.ImageUnreadable, "the %s file is truncated", f)
	}
	return f, nil
}

// complete reports whether the stream reaches its format's end, looking only at markers and
// sizes. A cut-off upload fails here; trailing bytes after the end (phones append metadata
// after a JPEG's EOI) are allowed.
func complete(f Format, b []byte) bool {
	switch f {
	case JPEG:
		// Entropy-coded data stuffs every 0xFF (FF 00, or an RSTn marker), so FF D9 after
		// the first start-of-scan is the end-of-image marker. An EXIF thumbnail's EOI
		// comes before the first scan and does not count.
		sos := jpegFirstScan(b)
		return sos > 0 && bytes.Contains(b[sos:], []byte{0xFF, 0xD9})
	case PNG:
		// IEND: zero length, type, and its fixed CRC.
		return bytes.Contains(b[len(magicPNG):], []byte("\x00\x00\x00\x00IEND\xaeB`\x82"))
	case BMP:
		if size := binary.LittleEndian.Uint32(b[2:6]); size != 0 && uint64(len(b)) < uint64(size) {
			return false
		}
		return len(b) >= 30 && bmpPixelsPresent(b)
	case WebP:
		return uint64(len(b)) >= uint64(binary.LittleEndian.Uint32(b[4:8]))+8
	}
	return false
}

// jpegFirstScan walks the marker segments from SOI and returns the offset of the first SOS
// segment's data, or -1.
func jpegFirstScan(b []byte) int {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return -1
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xD0 && m <= 0xD8: // markers without a length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if n < 2 {
			return -1
		}
		if m == 0xDA {
			if i+2+n > len(b) {
				return -1
			}
			return i + 2 + n
		}
		i += 2 + n
	}
	return -1
}

// bmpPixelsPresent checks, for uncompressed bitmaps, that the pixel array the header
// promises fits in the file.
func bmpPixelsPresent(b []byte) bool {
	if len(b) < 34 {
		return false
	}
	off := uint64(binary.LittleEndian.Uint32(b[10:14]))
	hdr := binary.LittleEndian.Uint32(b[14:18])
	if hdr < 40 {
		return off <= uint64(len(b)) // BITMAPCOREHEADER: the decoder checks the rest
	}
	w := uint64(absInt32(int32(binary.LittleEndian.Uint32(b[18:22]))))
	h := uint64(absInt32(int32(binary.LittleEndian.Uint32(b[22:26]))))
	bpp := uint64(binary.LittleEndian.Uint16(b[28:30]))
	if binary.LittleEndian.Uint32(b[30:34]) != 0 { // compressed: its size is not fixed
		return off <= uint64(len(b))
	}
	stride := (w*bpp + 31) / 32 * 4
	return off+stride*h <= uint64(len(b))
}

func absInt32(v int32) int64 {
	if v < 0 {
		return -int64(v)
	}
	return int64(v)
}
