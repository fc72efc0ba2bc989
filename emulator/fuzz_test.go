package emulator

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"
	"unicode/utf8"
)

// FuzzExtractCardJSON feeds arbitrary bytes (seeded with every sample card and damaged
// variants) to the carrier extraction and to the whole recognition path: neither may panic,
// a carrier found must be bytes of the input, and recognition answers only its three outcomes.
func FuzzExtractCardJSON(f *testing.F) {
	files := SampleFiles()
	names, _ := fs.Glob(files, "cards/*")
	for _, n := range names {
		b, _ := fs.ReadFile(files, n)
		f.Add(b)
		f.Add(b[:len(b)/2])
		if len(b) > 60 {
			d := bytes.Clone(b)
			d[40] ^= 0x55
			f.Add(d)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x02, 0xFF, 0xD9})
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x05, '{', '}', ' ', 0xFF, 0xDA})
	f.Fuzz(func(t *testing.T, data []byte) {
		text, ok := extractCardJSON(data)
		if ok && !bytes.Contains(data, text) {
			t.Fatalf("carrier %q is not part of the input", text)
		}
		if len(text) > maxCarrierText && bytes.HasPrefix(data, pngSignature) {
			t.Fatalf("PNG carrier of %d bytes exceeds the bound", len(text))
		}
		resp, code := recognise(data)
		switch code {
		case 0:
			if !ok || resp == nil || resp.Type == "" {
				t.Fatalf("recognised without a carrier: %+v", resp)
			}
		case CodeCertificateMissing, CodeImageDecodeFailed:
		default:
			t.Fatalf("recognise answered %d", code)
		}
	})
}

// FuzzCardRoundTrip checks that any UTF-8 field values survive EncodeCardPNG and recognition.
func FuzzCardRoundTrip(f *testing.F) {
	f.Add("张三", "440305199505132561", "20080618-长期")
	f.Add("", "", "")
	f.Add("O'Brien <&>", "\x00\u2028", "😀")
	f.Fuzz(func(t *testing.T, name, id, vd string) {
		if !utf8.ValidString(name) || !utf8.ValidString(id) || !utf8.ValidString(vd) {
			t.Skip("JSON carries UTF-8 only")
		}
		fields := map[string]string{"type": "Front", "name": name, "id": id, "valid_date": vd}
		for _, img := range [][]byte{EncodeCardPNG(fields), EncodeCardJPEG(fields)} {
			resp, code := recognise(img)
			if code != 0 {
				t.Fatalf("errcode %d", code)
			}
			if resp.Name != name || resp.ID != id || resp.ValidDate != vd {
				b, _ := json.Marshal(resp)
				t.Fatalf("round trip lost data: %s", b)
			}
		}
	})
}
