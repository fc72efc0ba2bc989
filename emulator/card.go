package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// CardKeyword is the PNG tEXt keyword (and JPEG COM prefix) under which a sample card carries
// the JSON object the emulator answers with.
const CardKeyword = "idcard-emulator"

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// maxCarrierText bounds the JSON a card may carry; real WeChat answers are well under 1 KB.
const maxCarrierText = 64 << 10

// EncodeCardPNG returns a real, decodable PNG (a card-sized picture with a few ASCII labels)
// carrying fields as a tEXt chunk with keyword CardKeyword. The text is a JSON object with
// non-ASCII characters written as \u escapes, because tEXt is Latin-1 by specification and the
// escapes keep the chunk valid while json.Unmarshal restores the UTF-8 strings. The output is
// deterministic for equal fields.
func EncodeCardPNG(fields map[string]string) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, cardPicture(fields)); err != nil {
		// png.Encode only fails on writer errors; a bytes.Buffer has none.
		panic(fmt.Sprintf("emulator: encode card png: %v", err))
	}
	return insertPNGText(buf.Bytes(), CardKeyword, asciiJSON(fields))
}

// EncodeCardJPEG is EncodeCardPNG's JPEG counterpart: the JSON goes into a COM segment as
// CardKeyword, a NUL byte, then the JSON text. It panics if the JSON exceeds the 65,517 bytes a
// COM segment can hold; card fields are a few hundred bytes.
func EncodeCardJPEG(fields map[string]string) []byte {
	payload := append([]byte(CardKeyword+"\x00"), asciiJSON(fields)...)
	if len(payload) > 0xFFFF-2 {
		panic("emulator: card fields too large for a JPEG COM segment")
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, cardPicture(fields), &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("emulator: encode card jpeg: %v", err))
	}
	b := buf.Bytes()
	seg := make([]byte, 4, 4+len(payload))
	seg[0], seg[1] = 0xFF, 0xFE
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	// Right after SOI, so that the segment precedes every scan.
	out := make([]byte, 0, len(b)+len(seg))
	out = append(out, b[:2]...)
	out = append(out, seg...)
	return append(out, b[2:]...)
}

// EncodePlainPNG returns a decodable card-sized PNG without any carrier chunk: the emulator
// answers it with 101001.
func EncodePlainPNG() []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, cardPicture(nil)); err != nil {
		panic(fmt.Sprintf("emulator: encode plain png: %v", err))
	}
	return buf.Bytes()
}

// asciiJSON marshals fields (keys sorted by encoding/json) with every non-ASCII rune escaped.
func asciiJSON(fields map[string]string) []byte {
	if fields == nil {
		fields = map[string]string{}
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		panic(fmt.Sprintf("emulator: marshal card fields: %v", err))
	}
	var b strings.Builder
	for _, r := range string(raw) {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return []byte(b.String())
}

// insertPNGText inserts a tEXt chunk right after IHDR (the first chunk), where readers that
// stop early still find it.
func insertPNGText(p []byte, keyword string, text []byte) []byte {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, length, type, IHDR data, CRC
	data := append([]byte(keyword+"\x00"), text...)
	chunk := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(chunk[:4], uint32(len(data)))
	copy(chunk[4:8], "tEXt")
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := make([]byte, 0, len(p)+len(chunk))
	out = append(out, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

// cardPicture draws a 428x270 picture (the 85.6 x 54 mm card at 5 px/mm) so that a human who
// opens a sample sees which card it is. Only ASCII can be drawn with the built-in font.
func cardPicture(fields map[string]string) image.Image {
	const w, h = 428, 270
	pal := color.Palette{
		color.RGBA{0xF4, 0xF6, 0xFA, 0xFF}, // background
		color.RGBA{0x2B, 0x5F, 0x9E, 0xFF}, // border and text
		color.RGBA{0xC9, 0xD6, 0xE8, 0xFF}, // photo / emblem block
		color.RGBA{0xB0, 0x2A, 0x2A, 0xFF}, // emulator banner
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	fill := func(r image.Rectangle, c int) { draw.Draw(img, r, &image.Uniform{pal[c]}, image.Point{}, draw.Src) }
	fill(img.Bounds(), 0)
	fill(image.Rect(0, 0, w, 4), 1)
	fill(image.Rect(0, h-4, w, h), 1)
	fill(image.Rect(0, 0, 4, h), 1)
	fill(image.Rect(w-4, 0, w, h), 1)
	fill(image.Rect(4, 4, w-4, 22), 3)

	label := func(x, y int, s string, c int) {
		d := font.Drawer{Dst: img, Src: &image.Uniform{pal[c]}, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	label(10, 17, "IDCARD-EMULATOR SAMPLE - NOT A REAL DOCUMENT", 0)
	switch {
	case fields == nil:
		label(20, 140, "BLANK (no card data)", 1)
	case fields["type"] == "Back" || (fields["type"] == "" && fields["valid_date"] != ""):
		fill(image.Rect(24, 40, 104, 120), 2) // emblem
		label(130, 80, "BACK", 1)
		label(130, 200, "VALID: "+asciiOnly(fields["valid_date"]), 1)
	default:
		fill(image.Rect(300, 50, 400, 180), 2) // photo
		label(20, 80, "FRONT", 1)
		label(20, 230, "ID: "+asciiOnly(fields["id"]), 1)
	}
	return img
}

// asciiOnly drops what the 7x13 font cannot draw (the Chinese "长期" becomes "LONG-TERM").
func asciiOnly(s string) string {
	s = strings.ReplaceAll(s, "长期", "LONG-TERM")
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7F {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// extractCardJSON returns the carrier text of a PNG (tEXt chunk with keyword CardKeyword) or
// JPEG (COM segment, with or without the "CardKeyword\x00" prefix). It walks the container
// structure (PNG chunk lengths and CRCs, JPEG segment lengths) instead of searching bytes, so
// a keyword that merely appears inside compressed pixel data is not mistaken for a carrier.
func extractCardJSON(data []byte) ([]byte, bool) {
	switch {
	case bytes.HasPrefix(data, pngSignature):
		return pngCarrier(data)
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8:
		return jpegCarrier(data)
	}
	return nil, false
}

func pngCarrier(data []byte) ([]byte, bool) {
	p := data[len(pngSignature):]
	for len(p) >= 12 {
		n := binary.BigEndian.Uint32(p[:4])
		if n > 0x7FFFFFFF || uint64(n) > uint64(len(p)-12) {
			return nil, false // truncated or invalid length: nothing after it can be trusted
		}
		typ, body := p[4:8], p[8:8+n]
		crc := binary.BigEndian.Uint32(p[8+n : 12+n])
		if crc32.ChecksumIEEE(p[4:8+n]) != crc {
			return nil, false
		}
		switch string(typ) {
		case "tEXt":
			if kw, text, ok := bytes.Cut(body, []byte{0}); ok && string(kw) == CardKeyword && len(text) <= maxCarrierText {
				return text, true
			}
		case "IEND":
			return nil, false
		}
		p = p[12+n:]
	}
	return nil, false
}

func jpegCarrier(data []byte) ([]byte, bool) {
	p := data[2:]
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		i := 0
		for i < len(p) && p[i] == 0xFF {
			i++
		}
		if i == 0 || i >= len(p) {
			return nil, false
		}
		marker := p[i]
		p = p[i+1:]
		switch {
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // TEM, RSTn: no length
			continue
		case marker == 0xD9 || marker == 0xDA: // EOI, SOS: comments precede the first scan
			return nil, false
		}
		if len(p) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(p[:2]))
		if n < 2 || n > len(p) {
			return nil, false
		}
		if marker == 0xFE {
			if text, ok := comCarrier(p[2:n]); ok {
				return text, true
			}
		}
		p = p[n:]
	}
}

// comCarrier accepts "idcard-emulator\x00{...}" and, for hand-made test files, a bare JSON
// object; other comments (encoder banners) are skipped.
func comCarrier(c []byte) ([]byte, bool) {
	if text, ok := bytes.CutPrefix(c, []byte(CardKeyword+"\x00")); ok {
		return text, true
	}
	if t := bytes.TrimSpace(c); len(t) > 0 && t[0] == '{' {
		return t, true
	}
	return nil, false
}
