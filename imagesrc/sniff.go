package imagesrc

import (
	"bytes"
	"encoding/binary"

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

// Check is the local gate before any upstream call (a rejected image costs no quota):
// IMAGE_UNREADABLE for empty or unrecognised bytes, IMAGE_TOO_LARGE past limit (0 means
// DefaultMaxBytes).
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
	return f, nil
}
