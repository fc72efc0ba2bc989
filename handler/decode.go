package handler

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeRequestJSON decodes a request object as json.Unmarshal(data, out) would (the same
// fields, case-insensitive keys, last duplicate wins, the same values accepted and refused),
// but without encoding/json's byte-at-a-time scanner over the image: strings are delimited
// with bytes.IndexByte and checked for control characters eight bytes at a time. On a 2 MB
// base64 upload that is most of the edge's CPU time. Small values are still decoded by
// encoding/json, so their semantics (escapes, UTF-8, types) are exactly its own;
// FuzzDecodeRequestJSON checks the two agree.
func decodeRequestJSON(data []byte, out *requestJSON) error {
	s := &scanner{data: data}
	return s.request(out)
}

// request decodes the request object at the scanner's position into out and checks that
// only space follows it.
func (s *scanner) request(out *requestJSON) error {
	s.ws()
	if err := s.object(func(key string) error { return out.field(s, key) }); err != nil {
		return err
	}
	s.ws()
	if s.more() {
		return s.errorf("invalid character after the top-level value")
	}
	return nil
}

// field decodes the value of key at the scanner's position into r.
func (r *requestJSON) field(s *scanner, key string) error {
	switch {
	case strings.EqualFold(key, "side"):
		return s.into(&r.Side)
	case strings.EqualFold(key, "mode"):
		return s.into(&r.Mode)
	case strings.EqualFold(key, "front"):
		return s.image(&r.Front)
	case strings.EqualFold(key, "back"):
		return s.image(&r.Back)
	case strings.EqualFold(key, "userInfo"):
		return s.into(&r.UserInfo)
	}
	return r.imageJSON.field(s, key)
}

func (im *imageJSON) field(s *scanner, key string) error {
	switch {
	case strings.EqualFold(key, "fileId"):
		return s.into(&im.FileID)
	case strings.EqualFold(key, "imageUrl"):
		return s.into(&im.ImageURL)
	case strings.EqualFold(key, "imageBase64"):
		// Not through json.Unmarshal, which would validate the whole image text once more
		// before decoding it: the scanner decodes it as it goes.
		return s.imageBase64(&im.ImageBase64)
	}
	_, err := s.value()
	return err
}

// image decodes an image object into *p, reusing an existing one as encoding/json does.
func (s *scanner) image(p **imageJSON) error {
	s.ws()
	if s.more() && s.data[s.pos] == 'n' {
		tok, err := s.value()
		if err != nil {
			return err
		}
		if string(tok) != "null" {
			return s.errorf("invalid literal")
		}
		*p = nil
		return nil
	}
	if !s.more() || s.data[s.pos] != '{' {
		// Let encoding/json report the type error for whatever value this is.
		tok, err := s.value()
		if err != nil {
			return err
		}
		var im imageJSON
		return json.Unmarshal(tok, &im)
	}
	if *p == nil {
		*p = &imageJSON{}
	}
	im := *p
	return s.object(func(key string) error { return im.field(s, key) })
}

// into decodes the next value with encoding/json (a b64Field keeps its no-copy view).
func (s *scanner) into(v any) error {
	tok, err := s.value()
	if err != nil {
		return err
	}
	return json.Unmarshal(tok, v)
}

// scanner walks JSON text. Only delimiting is done here; validation of small tokens is
// left to encoding/json. With src set it reads the text as it goes (an HTTP body), keeping
// in data only what it has not yet passed and everything but image text (see imageBase64).
type scanner struct {
	data  []byte
	pos   int
	depth int

	src     io.Reader // nil: data is the whole text
	held    int       // bytes read after len(data), held back (see fill)
	partial int       // of which an incomplete character at the end
	eof     bool
	rerr    error // a read error other than io.EOF
	read    int64 // bytes read from src
	srcSize int64 // bytes src holds at most (Content-Length or the body limit); with src only
	// shift is what to add to a position in data to get the offset in the text as the
	// caller sees it: image text dropped from data, leading space the caller trims.
	shift int

	// maxImage > 0 decodes imageBase64 string values while scanning (see imageBase64).
	maxImage int64
	// source names the request's images for the log line once a request is parsed.
	source string
}

// fill reads more of src into data; it reports whether data grew. Trailing Unicode space
// (what bytes.TrimSpace would remove at the end of a buffered body) is held back after
// len(data) until something else follows it, and dropped at the end, so the scanner sees
// the text exactly as parseRequestJSON sees a trimmed buffer, offsets in errors included.
func (s *scanner) fill() bool {
	if s.src == nil || s.eof {
		return false
	}
	for {
		all := s.data[:len(s.data)+s.held]
		if len(all) == cap(all) {
			all = append(all[:cap(all)], make([]byte, max(4096, cap(all)))...)[:len(all)]
		}
		n, err := s.src.Read(all[len(all):cap(all)])
		all = all[:len(all)+n]
		s.read += int64(n)
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
		}
		// Only the new bytes (and an incomplete character held before them) are looked at,
		// so that a long run of space costs linear time.
		from := len(s.data) + s.held - s.partial
		t := all[from:]
		s.partial = 0
		if !s.eof {
			// An incomplete last character may yet turn out to be a space.
			for k := len(t) - 1; k >= 0 && k >= len(t)-utf8.UTFMax; k-- {
				if utf8.RuneStart(t[k]) {
					if !utf8.FullRune(t[k:]) {
						s.partial = len(t) - k
						t = t[:k]
					}
					break
				}
			}
		}
		vis := len(s.data)
		if tt := bytes.TrimRightFunc(t, unicode.IsSpace); len(tt) > 0 {
			vis = from + len(tt)
		}
		grew := vis > len(s.data)
		s.data, s.held = all[:vis], len(all)-vis
		if grew || s.eof {
			return grew
		}
	}
}

// more reports whether a byte is available at s.pos, reading if need be.
func (s *scanner) more() bool { return s.pos < len(s.data) || s.fill() }

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// syntaxError is a malformed request body; the message names no input text.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

func (s *scanner) errorf(msg string) error { return &syntaxError{msg, s.pos + s.shift} }

func (s *scanner) ws() {
	for s.more() {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object walks an object, calling field with each key; field must consume the value.
func (s *scanner) object(field func(key string) error) error {
	s.ws()
	if !s.more() || s.data[s.pos] != '{' {
		return s.errorf("expected an object")
	}
	s.depth++
	if s.depth > maxDepth {
		return s.errorf("exceeded max depth")
	}
	s.pos++
	s.ws()
	if s.more() && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.ws()
		tok, escaped, err := s.str()
		if err != nil {
			return err
		}
		var key string
		if escaped {
			if err := json.Unmarshal(tok, &key); err != nil {
				return err
			}
		} else {
			key = string(tok[1 : len(tok)-1])
		}
		s.ws()
		if !s.more() || s.data[s.pos] != ':' {
			return s.errorf("expected a colon")
		}
		s.pos++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		if !s.more() {
			return s.errorf("unexpected end")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.errorf("expected a comma or a closing brace")
		}
	}
}

// value returns the next value's text, checked to be valid JSON.
func (s *scanner) value() ([]byte, error) {
	s.ws()
	if !s.more() {
		return nil, s.errorf("unexpected end")
	}
	start := s.pos
	switch c := s.data[s.pos]; {
	case c == '"':
		tok, escaped, err := s.str()
		if err != nil {
			return nil, err
		}
		if escaped && !json.Valid(tok) {
			return nil, s.errorf("invalid escape")
		}
		return tok, nil
	case c == '{':
		err := s.object(func(string) error {
			_, err := s.value()
			return err
		})
		if err != nil {
			return nil, err
		}
		return s.data[start:s.pos], nil
	case c == '[':
		s.depth++
		if s.depth > maxDepth {
			return nil, s.errorf("exceeded max depth")
		}
		s.pos++
		s.ws()
		if s.more() && s.data[s.pos] == ']' {
			s.pos++
			s.depth--
			return s.data[start:s.pos], nil
		}
		for {
			if _, err := s.value(); err != nil {
				return nil, err
			}
			s.ws()
			if !s.more() {
				return nil, s.errorf("unexpected end")
			}
			switch s.data[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				s.depth--
				return s.data[start:s.pos], nil
			default:
				return nil, s.errorf("expected a comma or a closing bracket")
			}
		}
	default:
		// A number or a literal: up to the next delimiter, checked by encoding/json.
		for s.more() {
			c := s.data[s.pos]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == '"' || c == '{' || c == '[' {
				break
			}
			s.pos++
		}
		tok := s.data[start:s.pos]
		if len(tok) == 0 || !json.Valid(tok) {
			return nil, s.errorf("invalid value")
		}
		return tok, nil
	}
}

// str delimits the string at s.pos and reports whether it holds escapes (which the caller
// must have checked by encoding/json). Raw control characters are refused, as JSON demands.
func (s *scanner) str() (tok []byte, escaped bool, err error) {
	start := s.pos
	if !s.more() || s.data[start] != '"' {
		return nil, false, s.errorf("expected a string")
	}
	end, escaped, msg := s.strEnd(start + 1)
	if msg != "" {
		return nil, false, s.errorf(msg)
	}
	s.pos = end + 1
	return s.data[start:s.pos], escaped, nil
}

// strEnd finds the closing quote of the string whose text continues at data[i] (not inside
// an escape), reading more as needed; msg says what is wrong instead.
func (s *scanner) strEnd(i int) (end int, escaped bool, msg string) {
	for {
		d := s.data
		seg := d[i:]
		q := bytes.IndexByte(seg, '"')
		if q >= 0 {
			seg = seg[:q]
		}
		if b := bytes.IndexByte(seg, '\\'); b >= 0 {
			// Walk escapes one by one from the first backslash; rare and short in practice.
			if hasControl(seg[:b]) {
				return 0, false, "control character in string"
			}
			i += b
			for {
				for i >= len(s.data) {
					if !s.fill() {
						return 0, false, "unterminated string"
					}
				}
				switch c := s.data[i]; {
				case c == '\\':
					i += 2
					continue
				case c == '"':
					return i, true, ""
				case c < 0x20:
					return 0, false, "control character in string"
				}
				i++
			}
		}
		if hasControl(seg) {
			return 0, false, "control character in string"
		}
		if q >= 0 {
			return i + q, escaped, ""
		}
		i = len(d)
		if !s.fill() {
			return 0, false, "unterminated string"
		}
	}
}

// hasControl reports whether b holds a byte below 0x20. It tests 32 bytes a round (four
// 8-byte SWAR checks folded into one branch): on a 2.8 MB base64 string this pass was the
// largest cost of decoding a request after base64 itself.
func hasControl(b []byte) bool {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	for len(b) >= 32 {
		x0 := binary.LittleEndian.Uint64(b)
		x1 := binary.LittleEndian.Uint64(b[8:])
		x2 := binary.LittleEndian.Uint64(b[16:])
		x3 := binary.LittleEndian.Uint64(b[24:])
		if ((x0-lo)&^x0|(x1-lo)&^x1|(x2-lo)&^x2|(x3-lo)&^x3)&hi != 0 {
			return true
		}
		b = b[32:]
	}
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-lo)&^x&hi != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
