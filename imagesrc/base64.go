package imagesrc

import (
	"bytes"
	"encoding/base64"
	"errors"

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
// anywhere. It is the module's one decoder of image text; it takes bytes so that the handler
// can hand it a JSON string's text where it lies in the request, without a copy, and it only
// reads text, never keeps it. The decoded size is bounded from the text's length before anything is decoded,
// so an oversized string fails with IMAGE_TOO_LARGE without allocating. A valid one costs
// one allocation: the decoded size (+2 at most) for unbroken base64; for text with whitespace
// it may reach 3/4 of the text's length, never more than limit. limit <= 0 means DefaultMaxBytes.
// Empty or malformed text is INVALID_REQUEST.
func DecodeBase64(text []byte, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	s, err := stripDataURL(text)
	if err != nil {
		return nil, err
	}
	s = bytes.TrimRight(s, " \t\r\n")
	if len(s) == 0 {
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
// common form — standard alphabet, line breaks at most — goes straight through the pair-table
// decoder and the standard one, which skips CR and LF itself. The URL-safe alphabet and blanks
// are tried only when that fails.
func decodeInto(dst, src []byte) (int, error) {
	padded := src[len(src)-1] == '='
	enc := base64.RawStdEncoding
	if padded {
		enc = base64.StdEncoding
	}
	// Whole quanta first with the faster decodeStd; the rest (a line break onwards, the last
	// quantum, padding) with the standard decoder, which gives the same bytes and errors as
	// it would on the whole text because whole quanta decode independently.
	// Line breaks between whole quanta (MIME-wrapped text) are skipped here as the standard
	// decoder would skip them.
	ns, nd := 0, 0
	for {
		a, b := decodeStd(dst[nd:], src[ns:])
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
	urlSafe := hasByte(src, '-', '_')
	if hasByte(src, ' ', '\t') {
		// decodeSkipping drops every '=', so padding must be checked first.
		if _, perr := inspect(src); perr != nil {
			return 0, perr
		}
		return decodeSkipping(dst, src, urlSafe)
	}
	if !urlSafe {
		return n, err
	}
	enc = base64.RawURLEncoding
	if padded {
		enc = base64.URLEncoding
	}
	return enc.Decode(dst, src)
}

// inspect computes the exact decoded size of s (trimmed, no data URL header) and explains
// what makes it invalid, if anything can be said before decoding.
func inspect(s []byte) (int64, *apperr.Error) {
	ws := 0
	for _, c := range [...]byte{' ', '\t', '\n', '\r'} {
		ws += bytes.Count(s, []byte{c})
	}
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
	case pads > 2 || bytes.IndexByte(s[:firstPad], '=') >= 0:
		return 0, invalidBase64("imageBase64 is not valid base64: misplaced '=' padding")
	case hasByte(s, '+', '/') && hasByte(s, '-', '_'):
		return 0, invalidBase64("imageBase64 is not valid base64: it mixes the standard and URL-safe alphabets")
	case n%4 == 1, pads > 0 && (n+pads)%4 != 0:
		return 0, invalidBase64("imageBase64 is not valid base64: truncated or wrong length")
	}
	return int64(n) * 3 / 4, nil
}

// hasByte reports whether s contains a or b; IndexByte is vectorised, ContainsAny is not.
func hasByte(s []byte, a, b byte) bool {
	return bytes.IndexByte(s, a) >= 0 || bytes.IndexByte(s, b) >= 0
}

// decodeSkipping decodes s into dst, skipping whitespace and the (already validated) trailing
// padding, through a stack buffer whose length is a multiple of 4 so every full chunk decodes
// to whole bytes.
func decodeSkipping(dst, s []byte, urlSafe bool) (int, error) {
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
func stripDataURL(s []byte) ([]byte, error) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	s = s[i:]
	if len(s) < 5 || !bytes.EqualFold(s[:5], []byte("data:")) {
		return s, nil
	}
	comma := bytes.IndexByte(s[:min(len(s), maxDataURLHeader)], ',')
	if comma < 0 {
		return nil, invalidBase64("imageBase64 data URL has no ',' after its header")
	}
	// Parsed without allocating: the header is "<media type>[;param...];base64".
	header := s[5:comma]
	if len(header) < 6 || !bytes.EqualFold(header[:6], []byte("image/")) {
		return nil, invalidBase64("imageBase64 data URL must have an image/* media type")
	}
	semi := bytes.LastIndexByte(header, ';')
	if semi < 0 || !bytes.EqualFold(bytes.TrimSpace(header[semi+1:]), []byte("base64")) {
		return nil, invalidBase64("imageBase64 data URL must be base64-encoded (\";base64,\")")
	}
	return s[comma+1:], nil
}
