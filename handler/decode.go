package handler

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
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
	s.ws()
	if err := s.object(func(key string) error { return out.field(s, key) }); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.data) {
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
		// before decoding it: the scanner has delimited it and checked it already.
		tok, err := s.value()
		if err != nil {
			return err
		}
		return im.ImageBase64.UnmarshalJSON(tok)
	}
	_, err := s.value()
	return err
}

// image decodes an image object into *p, reusing an existing one as encoding/json does.
func (s *scanner) image(p **imageJSON) error {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == 'n' {
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
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
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
// left to encoding/json.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// syntaxError is a malformed request body; the message names no input text.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

func (s *scanner) errorf(msg string) error { return &syntaxError{msg, s.pos} }

func (s *scanner) ws() {
	for s.pos < len(s.data) {
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
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return s.errorf("expected an object")
	}
	s.depth++
	if s.depth > maxDepth {
		return s.errorf("exceeded max depth")
	}
	s.pos++
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
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
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.errorf("expected a colon")
		}
		s.pos++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) {
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
	if s.pos >= len(s.data) {
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
		return s.data[start:s.pos], err
	case c == '[':
		s.depth++
		if s.depth > maxDepth {
			return nil, s.errorf("exceeded max depth")
		}
		s.pos++
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			s.depth--
			return s.data[start:s.pos], nil
		}
		for {
			if _, err := s.value(); err != nil {
				return nil, err
			}
			s.ws()
			if s.pos >= len(s.data) {
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
		for s.pos < len(s.data) {
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
	d := s.data
	start := s.pos
	if start >= len(d) || d[start] != '"' {
		return nil, false, s.errorf("expected a string")
	}
	i := start + 1
	for {
		q := bytes.IndexByte(d[i:], '"')
		if q < 0 {
			return nil, false, s.errorf("unterminated string")
		}
		seg := d[i : i+q]
		if bytes.IndexByte(seg, '\\') >= 0 {
			// Walk escapes one by one from the first backslash; rare and short in practice.
			escaped = true
			for i < len(d) {
				c := d[i]
				switch {
				case c == '\\':
					i += 2
					continue
				case c == '"':
					s.pos = i + 1
					return d[start:s.pos], true, nil
				case c < 0x20:
					return nil, false, s.errorf("control character in string")
				}
				i++
			}
			return nil, false, s.errorf("unterminated string")
		}
		if hasControl(seg) {
			return nil, false, s.errorf("control character in string")
		}
		s.pos = i + q + 1
		return d[start:s.pos], escaped, nil
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
