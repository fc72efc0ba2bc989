package handler

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/wxocr/scf-idcard-ocr/imagesrc"
)

// imageBase64 reads the value of an imageBase64 field. A string is decoded while it is
// scanned, straight from the JSON text into a buffer sized for the image, so that neither a
// separate pass over the 2.8 MB text of a 2 MB image nor (for an HTTP body) a buffer holding
// that text is needed. The fast path takes what encoders send: the standard alphabet, an
// optional data:image/...;base64, header, padding, and the escapes \/, \n, \r and \uXXXX
// for one of those characters. Anything else — a space, the URL-safe alphabet, a text that
// is not valid base64 or decodes to more than maxImage bytes — makes it fall back to the
// string itself, which imagesrc.DecodeBase64 then decodes or refuses exactly as for any
// other request. The fallback string is the text with the decoded part re-encoded: whole
// quanta of the standard alphabet re-encode to the same characters, and the line breaks the
// fast path skipped are skipped by DecodeBase64 wherever they are, so it is equivalent.
func (s *scanner) imageBase64(b *b64Field) error {
	s.ws()
	if s.maxImage <= 0 || !s.more() || s.data[s.pos] != '"' {
		tok, err := s.value()
		if err != nil {
			return err
		}
		return b.UnmarshalJSON(tok)
	}
	start := s.pos
	startOff := start + s.shift // where errors about the string point, as str() does
	i := start + 1
	// The image is at most 3/4 of the text that can follow; a body with several images (or
	// other fields) only makes this generous.
	bound := int64(len(s.data) - i)
	if s.src != nil {
		bound += max(s.srcSize-s.read, 0)
	}
	dst := make([]byte, min(bound/4*3, s.maxImage)+3)
	var (
		w       int     // bytes decoded into dst: whole quanta, 3 each, until the tail
		pend    [4]byte // characters of a quantum split by an escape or a read
		k       int
		header  string // a data URL header, as sent
		escaped bool   // an escape was read
	)
	// need makes n bytes available from data[i], reading more if need be. While reading, the
	// image text already decoded is dropped from data (the scanner keeps its length in
	// shift), so an HTTP body is never held whole.
	need := func(n int) bool {
		for len(s.data)-i < n {
			if s.src == nil || s.eof {
				return false
			}
			if i > start+1 {
				// Held-back bytes (see fill) move along.
				all := s.data[:len(s.data)+s.held]
				copy(all[start+1:], all[i:])
				s.shift += i - (start + 1)
				s.data = s.data[:len(s.data)-(i-start-1)]
				i = start + 1
			}
			if cap(s.data)-len(s.data)-s.held < 32<<10 {
				s.data = append(s.data[:cap(s.data)], make([]byte, 64<<10)...)[:len(s.data)]
			}
			s.fill()
		}
		return true
	}
	// fallback ends the fast path: the rest of the string is unquoted by encoding/json and
	// appended to what has been read so far, as text.
	fallback := func(tail string) error {
		end, restEscaped, msg := s.strEnd(i)
		if msg != "" {
			return &syntaxError{msg, startOff}
		}
		s.pos = end + 1
		// Like b64Field.UnmarshalJSON: a string without escapes is taken byte for byte (no
		// UTF-8 repair); one with escapes is unquoted by encoding/json.
		rest := string(s.data[i:end])
		if escaped || restEscaped {
			if err := json.Unmarshal(append(append([]byte{'"'}, s.data[i:end]...), '"'), &rest); err != nil {
				return s.errorf("invalid escape")
			}
		}
		*b = b64Field{set: true, v: header + base64.StdEncoding.EncodeToString(dst[:w]) + string(pend[:k]) + tail + rest}
		return nil
	}

	// A data URL header is taken as sent when it is plain ASCII and imagesrc accepts it.
	if need(5) && strings.EqualFold(string(s.data[i:i+5]), "data:") {
		comma := -1
		for j := 0; j < imagesrc.MaxDataURLHeader && need(j+1); j++ {
			c := s.data[i+j]
			if c == ',' {
				comma = j
				break
			}
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				break
			}
		}
		if comma < 0 {
			return fallback("")
		}
		h := string(s.data[i : i+comma+1])
		if _, err := imagesrc.SplitDataURL(h); err != nil {
			return fallback("")
		}
		header = h
		i += comma + 1
	}

	// The quanta. DecodeStd stops at anything but a whole quantum of the alphabet that fits
	// in dst; the loop below deals with that one thing and goes back to DecodeStd.
	for {
		if k == 0 {
			ns, nd := imagesrc.DecodeStd(dst[w:len(dst)-3], s.data[i:])
			i += ns
			w += nd
		}
		if !need(1) {
			return &syntaxError{"unterminated string", startOff}
		}
		c := s.data[i]
		switch {
		case imagesrc.IsStdBase64(c):
			i++
		case c == '"' || c == '=':
			return s.base64Tail(b, &i, dst, w, pend[:k], &escaped, startOff, fallback)
		case c == '\\':
			if !need(2) {
				return &syntaxError{"unterminated string", startOff}
			}
			var ok bool
			if c, ok = s.escapedB64(&i, need); !ok {
				return fallback("")
			}
			escaped = true
			if c == 0 {
				continue // an escaped line break
			}
		default:
			return fallback("")
		}
		pend[k] = c
		k++
		if k == 4 {
			if len(dst)-3-w < 3 {
				return fallback("")
			}
			ns, nd := imagesrc.DecodeStd(dst[w:], pend[:])
			if ns != 4 {
				return fallback("")
			}
			w += nd
			k = 0
		}
	}
}

// escapedB64 reads the escape at data[*i] (two bytes are there) when it stands for a base64
// character or a line break (returned as 0), advancing *i past it; otherwise it reports false
// and leaves *i alone.
func (s *scanner) escapedB64(i *int, need func(int) bool) (byte, bool) {
	switch s.data[*i+1] {
	case '/':
		*i += 2
		return '/', true
	case 'n', 'r':
		*i += 2
		return 0, true
	case 'u':
		if !need(6) {
			return 0, false
		}
		var r rune
		for _, h := range s.data[*i+2 : *i+6] {
			switch {
			case '0' <= h && h <= '9':
				r = r<<4 | rune(h-'0')
			case 'a' <= h && h <= 'f':
				r = r<<4 | rune(h-'a'+10)
			case 'A' <= h && h <= 'F':
				r = r<<4 | rune(h-'A'+10)
			default:
				return 0, false
			}
		}
		switch {
		case r == '\n' || r == '\r':
			*i += 6
			return 0, true
		case r < 0x80 && imagesrc.IsStdBase64(byte(r)):
			*i += 6
			return byte(r), true
		}
	}
	return 0, false
}

// base64Tail finishes the fast path at the closing quote or the first '=': the last partial
// quantum and padding (and line breaks) up to the quote are decoded as DecodeBase64 would
// decode them after the whole quanta before, which is the same as decoding the whole text.
// Anything unusual goes to fallback.
func (s *scanner) base64Tail(b *b64Field, ip *int, dst []byte, w int, pend []byte, escaped *bool, startOff int, fallback func(string) error) error {
	var tail [8]byte
	n := copy(tail[:], pend)
	np := n // fallback adds pend itself
	i := *ip
	for {
		// The tail is short: read on without dropping anything from data.
		for i+1 >= len(s.data) && s.fill() {
		}
		if i >= len(s.data) {
			return &syntaxError{"unterminated string", startOff}
		}
		c := s.data[i]
		if c == '"' {
			break
		}
		if n == len(tail) {
			*ip = i
			return fallback(string(tail[np:n]))
		}
		switch {
		case c == '=' || imagesrc.IsStdBase64(c):
			i++
		case c == '\\' && i+1 < len(s.data) && (s.data[i+1] == 'n' || s.data[i+1] == 'r'):
			i += 2
			*escaped = true
			continue
		case c == '\\' && i+1 < len(s.data) && s.data[i+1] == '/':
			i += 2
			*escaped = true
			c = '/'
		default:
			*ip = i
			return fallback(string(tail[np:n]))
		}
		tail[n] = c
		n++
	}
	enc := base64.RawStdEncoding
	if n > 0 && tail[n-1] == '=' {
		enc = base64.StdEncoding
	}
	m, err := enc.Decode(dst[w:], tail[:n])
	if err != nil || w+m == 0 || int64(w+m) > s.maxImage {
		*ip = i
		return fallback(string(tail[np:n]))
	}
	s.pos = i + 1
	*b = b64Field{set: true, decoded: dst[:w+m]}
	return nil
}
