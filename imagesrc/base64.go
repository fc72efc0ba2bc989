package imagesrc

import (
	"encoding/base64"
	"errors"
	"strings"
	"unsafe"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// maxDataURLHeader bounds the "data:image/...;base64," prefix we are willing to parse.
const maxDataURLHeader = 256

func invalidBase64(format string, args ...any) *apperr.Error {
	return apperr.Errorf(apperr.InvalidRequest, format, args...)
}

// isSpace is the whitespace DecodeBase64 skips: line breaks from encoders, spaces and tabs
// from copy and paste.
func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t'
}

// DecodeBase64 decodes an image sent as base64 text: an optional "data:image/...;base64,"
// prefix, the standard or URL-safe alphabet, padded or not, with line breaks, spaces and tabs
// anywhere. The decoded size is bounded from the text's length before anything is decoded,
// so an oversized string fails with IMAGE_TOO_LARGE without allocating. A valid one costs
// one allocation: the decoded size (+2 at most) for unbroken base64; for text with whitespace
// it may reach 3/4 of the text's length, never more than limit. limit <= 0 means DefaultMaxBytes.
// Empty or malformed text is INVALID_REQUEST.
func DecodeBase64(s string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	s, err := stripDataURL(s)
	if err != nil {
		return nil, err
	}
	s = strings.TrimRight(s, " \t\r\n")
	if s == "" {
		return nil, invalidBase64("imageBase64 is empty")
	}
	// 3/4 of the length without padding is the decoded size of unbroken base64 and an upper
	// bound for any valid text.
	// Only when it is over the limit do we need the exact size (whitespace and padding may
	// bring it under), which costs a few vectorised scans but no allocation.
	data := len(s)
	for data > 0 && s[data-1] == '=' {
		data--
	}
	size := int64(data) * 3 / 4
	if size > limit {
		exact, perr := inspect(s)
		if perr != nil {
			return nil, perr
		}
		if exact > limit {
			return nil, apperr.Errorf(apperr.ImageTooLarge, "image is %d bytes, larger than the limit of %d bytes", exact, limit)
		}
		size = exact
	}
	dst := make([]byte, size)
	n, err := decodeInto(dst, s)
	if err == nil && n == 0 {
		err = errors.New("no data")
	}
	if err != nil {
		// Failures are rare: spend a second look on saying what is wrong.
		if _, perr := inspect(s); perr != nil {
			return nil, perr
		}
		return nil, invalidBase64("imageBase64 is not valid base64: unexpected character")
	}
	return dst[:n], nil
}

// decodeInto decodes s (trimmed, no data URL header) into dst, which is large enough. The
// common form — standard alphabet, line breaks at most — goes straight through the standard
// decoder, which skips CR and LF itself; s is viewed as bytes without a copy because neither
// decoder keeps nor modifies its source. The URL-safe alphabet and blanks are tried only when that fails.
func decodeInto(dst []byte, s string) (int, error) {
	padded := s[len(s)-1] == '='
	enc := base64.RawStdEncoding
	if padded {
		enc = base64.StdEncoding
	}
	// Whole quanta first with the faster DecodeStd; the rest (a line break onwards, the last
	// quantum, padding) with the standard decoder, which gives the same bytes and errors as
	// it would on the whole text because whole quanta decode independently.
	// Line breaks between whole quanta (MIME-wrapped text) are skipped here as the standard
	// decoder would skip them.
	src := unsafe.Slice(unsafe.StringData(s), len(s))
	ns, nd := 0, 0
	for {
		a, b := DecodeStd(dst[nd:], src[ns:])
		ns, nd = ns+a, nd+b
		k := ns
		for k < len(src) && (src[k] == '\n' || src[k] == '\r') {
			k++
		}
		if k == ns {
			break
		}
		ns = k
	}
	n, err := enc.Decode(dst[nd:], src[ns:])
	n += nd
	if err == nil {
		return n, nil
	}
	urlSafe := hasByte(s, '-', '_')
	if hasByte(s, ' ', '\t') {
		// decodeSkipping drops every '=', so padding must be checked first.
		if _, perr := inspect(s); perr != nil {
			return 0, perr
		}
		return decodeSkipping(dst, s, urlSafe)
	}
	if !urlSafe {
		return n, err
	}
	enc = base64.RawURLEncoding
	if padded {
		enc = base64.URLEncoding
	}
	return enc.Decode(dst, []byte(s))
}

// inspect computes the exact decoded size of s (trimmed, no data URL header) and explains
// what makes it invalid, if anything can be said before decoding.
func inspect(s string) (int64, *apperr.Error) {
	ws := strings.Count(s, " ") + strings.Count(s, "\t") + strings.Count(s, "\n") + strings.Count(s, "\r")
	pads, firstPad := 0, len(s)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '=' {
			pads++
			firstPad = i
		} else if !isSpace(s[i]) {
			break
		}
	}
	n := len(s) - ws - pads
	switch {
	case n == 0 && pads == 0:
		return 0, invalidBase64("imageBase64 is empty")
	case pads > 2 || strings.IndexByte(s[:firstPad], '=') >= 0:
		return 0, invalidBase64("imageBase64 is not valid base64: misplaced '=' padding")
	case hasByte(s, '+', '/') && hasByte(s, '-', '_'):
		return 0, invalidBase64("imageBase64 is not valid base64: it mixes the standard and URL-safe alphabets")
	case n%4 == 1, pads > 0 && (n+pads)%4 != 0:
		return 0, invalidBase64("imageBase64 is not valid base64: truncated or wrong length")
	}
	return int64(n) * 3 / 4, nil
}

// hasByte reports whether s contains a or b; IndexByte is vectorised, ContainsAny is not.
func hasByte(s string, a, b byte) bool {
	return strings.IndexByte(s, a) >= 0 || strings.IndexByte(s, b) >= 0
}

// decodeSkipping decodes s into dst, skipping whitespace and the (already validated) trailing
// padding, through a stack buffer whose length is a multiple of 4 so every full chunk decodes
// to whole bytes.
func decodeSkipping(dst []byte, s string, urlSafe bool) (int, error) {
	enc := base64.RawStdEncoding
	if urlSafe {
		enc = base64.RawURLEncoding
	}
	var chunk [4096]byte
	var c, w int
	for i := 0; i < len(s); i++ {
		b := s[i]
		if isSpace(b) || b == '=' {
			continue
		}
		chunk[c] = b
		c++
		if c == len(chunk) {
			k, err := enc.Decode(dst[w:], chunk[:])
			w += k
			if err != nil {
				return w, err
			}
			c = 0
		}
	}
	k, err := enc.Decode(dst[w:], chunk[:c])
	return w + k, err
}

// stripDataURL removes leading whitespace and an optional data URL header, which must
// declare an image media type and base64 encoding.
func stripDataURL(s string) (string, error) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	s = s[i:]
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return s, nil
	}
	comma := strings.IndexByte(s[:min(len(s), maxDataURLHeader)], ',')
	if comma < 0 {
		return "", invalidBase64("imageBase64 data URL has no ',' after its header")
	}
	// Parsed without allocating: the header is "<media type>[;param...];base64".
	header := s[5:comma]
	if len(header) < 6 || !strings.EqualFold(header[:6], "image/") {
		return "", invalidBase64("imageBase64 data URL must have an image/* media type")
	}
	semi := strings.LastIndexByte(header, ';')
	if semi < 0 || !strings.EqualFold(strings.TrimSpace(header[semi+1:]), "base64") {
		return "", invalidBase64("imageBase64 data URL must be base64-encoded (\";base64,\")")
	}
	return s[comma+1:], nil
}

// MaxDataURLHeader bounds the "data:image/...;base64," prefix DecodeBase64 looks for: its
// comma must be within this many bytes of the start (after leading whitespace).
const MaxDataURLHeader = maxDataURLHeader

// SplitDataURL removes leading whitespace and an optional "data:image/...;base64," header
// from s as DecodeBase64 does, so that a caller decoding base64 text in pieces can handle the
// header the same way: given the text up to and including the header's comma, it returns the
// empty rest, or the error DecodeBase64 would report for any text starting so.
func SplitDataURL(s string) (string, error) { return stripDataURL(s) }
