package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// TestParseDecodesBase64Inline: the image text is decoded while it is scanned, into one
// buffer, and the escapes encoders write are understood; other text is left to DecodeBase64.
func TestParseDecodesBase64Inline(t *testing.T) {
	img := bytes.Repeat([]byte("ABC\x00\xff"), 1<<18)
	payload := base64.StdEncoding.EncodeToString(img)
	body := []byte(`{"side":"front","imageBase64":"` + payload + `","userInfo":{"openId":"o1"}}`)
	req, ui, src, err := parseRequestJSON(body, DefaultMaxImageBytes)
	if err != nil || !bytes.Equal(req.Image.Bytes, img) || req.Image.Base64 != "" || ui == nil || ui.OpenID != "o1" || src != "imageBase64" {
		t.Fatalf("wrong decode: %v %q", err, src)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 5 {
		_, _, _, _ = parseRequestJSON(body, DefaultMaxImageBytes)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 5; per > uint64(len(img))+64<<10 {
		t.Errorf("%d bytes allocated per parse of a %d-byte image", per, len(img))
	}
	for _, c := range []struct{ text, want string }{
		{`ab\/c`, "i\xbf\xdc"},
		{`a\u0062\/\u002F`, "i\xbf\xff"},
		{`aGVs\nbG8=`, "hello"},
		{`data:image/png;base64,aGVsbG8`, "hello"},
		{`aGVsbA==`, "hell"},
	} {
		req, _, _, err := parseRequestJSON([]byte(`{"imageBase64":"`+c.text+`"}`), DefaultMaxImageBytes)
		if err != nil || string(req.Image.Bytes) != c.want {
			t.Errorf("%s: %q %q %v", c.text, req.Image.Bytes, req.Image.Base64, err)
		}
	}
	// Text the fast path does not take reaches DecodeBase64 as an equivalent string.
	for _, text := range []string{
		`aGVs bG8=`, `aGVs\tbG8=`, `a-_b`, `aGVsbG8=x`, `\n\u00e9aGVs`, `aGVsbG8\u00e9`, `\n`, `aGVs\r\nbG8\u003d`,
		`data:text/plain;base64,aGVs`, `\ndata:image/png;base64,aGVs`, `QQ=`, `Q`, `QQ==QQ==`, `====`, ``,
	} {
		body := []byte(`{"imageBase64":"` + text + `"}`)
		want := parseOutcome(t, body, 64, true, 0)
		for _, chunk := range []int{0, 1, 3, 7, 4096} {
			if got := parseOutcome(t, body, 64, false, chunk); got != want {
				t.Errorf("%s (chunk %d): got %s, want %s", text, chunk, got, want)
			}
		}
	}
}

// TestParseLongSpaceRuns: space held back at the end of what has been read (it may be
// trailing) is looked at once, so long runs of it, read in small pieces, cost linear time (a
// quadratic scan would make this test run for minutes).
func TestParseLongSpaceRuns(t *testing.T) {
	pad, upad := strings.Repeat(" \r\n\t", 1<<17), strings.Repeat(" \u00a0\t", 1<<17)
	body := []byte(upad + `{"imageBase64":"QUJD"` + pad + `,"side":"front"}` + upad)
	req, _, s, err := parseRequestStream(&chunkReader{body, 3}, int64(len(body)), 64)
	if err != nil || s.rerr != nil || string(req.Image.Bytes) != "ABC" || req.Side != "front" {
		t.Fatalf("%v %v %q", err, s.rerr, req.Image.Bytes)
	}
}

// parseOutcome is what becomes of a request body: the error, or the side, mode and images
// (decoded as the service decodes imageBase64). reference parses it the way it was parsed
// before image text was decoded inline: buffered, the text handed to DecodeBase64.
func parseOutcome(t *testing.T, body []byte, maxImage int64, reference bool, chunk int) string {
	var (
		req ocr.Request
		err error
	)
	switch {
	case reference:
		req, _, _, err = parseRequestJSON(body, 0)
	case chunk > 0:
		// As an HTTP body arriving in pieces of chunk bytes.
		var s *scanner
		req, _, s, err = parseRequestStream(&chunkReader{body, chunk}, int64(len(body)), maxImage)
		if s.rerr != nil {
			t.Fatal(s.rerr)
		}
	default:
		req, _, _, err = parseRequestJSON(body, maxImage)
	}
	if err != nil {
		return errText(err)
	}
	img := func(im *ocr.Image) string {
		if im == nil {
			return "nil"
		}
		if im.Base64 != "" {
			b, err := imagesrc.DecodeBase64(im.Base64, maxImage)
			if err != nil {
				return errText(err)
			}
			return fmt.Sprintf("bytes %x", b)
		}
		if im.Bytes != nil {
			return fmt.Sprintf("bytes %x", im.Bytes)
		}
		return fmt.Sprintf("file %q url %q", im.FileID, im.URL)
	}
	return fmt.Sprintf("side %q mode %q image %s front %s back %s", req.Side, req.Mode, img(&req.Image), img(req.Front), img(req.Back))
}

// chunkReader hands out its text n bytes at a time.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// FuzzParseInline checks decoding image text while scanning against the buffered reference
// (encoding/json's string semantics via the scanner, then DecodeBase64), in memory and as a
// body read in pieces: the same error or the same images, side and mode.
func FuzzParseInline(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	for _, s := range []string{
		`{"imageBase64":"aGVsbG8=","side":"front"}`,
		`{"imageBase64":"aGVs\/bG8\nx\r\nyz\u002Fw==","mode":"scan"}`,
		`{"imageBase64":"data:image/png;base64,` + b64([]byte("an image of sorts, longer than a quantum or two")) + `"}`,
		`{"front":{"imageBase64":"QUJD"},"back":{"imageBase64":"REVG\u0047"}}`,
		`{"imageBase64":"QUJD","imageBase64":"REVG","IMAGEBASE64":null}`,
		`{"imageBase64":"` + b64(bytes.Repeat([]byte{0xfb, 0xff, 0x00}, 40)) + `"}`,
		`{"imageBase64":"QUJD` + "\x01" + `"}`, "{\"imageBase64\":\"QUJD\x01\"}", `{"imageBase64":"QUJD\x"}`,
		`{"imageBase64":"QUJD`, `{"imageBase64":"QUJD" , }`, `{"imageBase64":"Q UJD"}`, `{"imageBase64":"QUJD=="}`,
		`{"imageBase64":"QQ=\n="}`, `{"imageBase64":"-_-_"}`, `{"imageBase64":"\u00e9"}`, `{"imageBase64":""}`,
		`{"imageBase64":5}`, `{"imageBase64":"QUJD"} x`, " \u00a0{\"imageBase64\":\"QUJD\"}\v ", `{"imageBase64":"data:image/png;base64"}`,
		`{"fileId":"a","imageBase64":"QUJD"}`, `{"imageBase64":"` + strings.Repeat("QUJD", 40) + `"}`,
	} {
		f.Add([]byte(s), uint8(5), uint8(64))
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk, max uint8) {
		maxImage := int64(max) + 1
		want := parseOutcome(t, body, maxImage, true, 0)
		for _, c := range []int{0, int(chunk%16) + 1} {
			if got := parseOutcome(t, body, maxImage, false, c); got != want {
				t.Fatalf("chunk %d: got %s\nwant %s", c, got, want)
			}
		}
	})
}

func errText(err error) string {
	ae := apperr.AsError(err)
	return string(ae.Code) + ": " + ae.Message
}

func TestParseRequestJSONErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `"x"`, `{`, `{"fileId":1}`, `{"imageBase64":true}`, `{"front":"x"}`,
		`{"side":"both","fileId":"cloud://a.b/c"}`, `{"fileId":"cloud://a.b/c","imageUrl":"https://x/y"}`,
		`{"front":{},"back":{"fileId":"cloud://a.b/c"}}`, `{"mode":"fax","fileId":"cloud://a.b/c"}`,
	} {
		_, _, _, err := parseRequestJSON([]byte(body), DefaultMaxImageBytes)
		if apperr.AsError(err).Code != apperr.InvalidRequest {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// FuzzDecodeRequestJSON checks the fast request decoder against encoding/json: the same
// inputs are refused and the same values come out of the accepted ones.
func FuzzDecodeRequestJSON(f *testing.F) {
	for _, s := range []string{
		`{"fileId":"cloud://a.b/c","side":"front","mode":"scan"}`,
		`{"imageBase64":"QUJD","userInfo":{"openId":"o","appId":"w"}}`,
		`{"front":{"fileId":"a"},"back":{"imageUrl":"https://x/y"},"extra":[1,2.5e3,true,null,{"k":"v"}]}`,
		`{"FILEID":"x","ſide":"back","imageBase64":"a\/b\u0041"}`,
		`{"front":{"fileId":"a"},"front":{"imageUrl":"b"},"front":null}`,
		`{"fileId":1}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":-}`, `{"a":01}`, "{\"a\":\"\x01\"}",
		`{"a":[1,]}`, `{"a":{"b":1,}}`, `{"imageBase64":null,"side":null}`, `{} x`, ` {"a" : { } } `,
		`{"userInfo":5}`, `{"front":"x"}`, `{"back":[]}`, `{"mode":["x"]}`, "{\"\xff\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		trimmed := bytes.TrimSpace(data)
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return // parseRequestJSON refuses these before decoding
		}
		var want, got requestJSON
		werr := json.Unmarshal(data, &want)
		gerr := decodeRequestJSON(data, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("encoding/json: %v; fast decoder: %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("values differ:\nencoding/json %+v\nfast          %+v", want, got)
		}
	})
}

// TestHasControlEveryPosition puts one control byte at every offset of strings whose lengths
// cross the 32- and 8-byte rounds, next to bytes that SWAR tricks confuse (0x80+, 0x20).
func TestHasControlEveryPosition(t *testing.T) {
	for n := 0; n <= 70; n++ {
		base := make([]byte, n)
		for i := range base {
			base[i] = []byte{'A', 0x20, 0xff, 0x80, '/', '+'}[i%6]
		}
		if hasControl(base) {
			t.Fatalf("len %d: clean bytes reported as control", n)
		}
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0x00, 0x0a, 0x1f} {
				b := append([]byte(nil), base...)
				b[pos] = c
				if !hasControl(b) {
					t.Fatalf("len %d: control byte %#x at %d missed", n, c, pos)
				}
			}
		}
	}
}

// errReader fails after its text, as a client that goes away mid-upload.
type errReader struct{ r io.Reader }

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestReadJSONBodyOrder: reading the body as it is parsed keeps the order of the faults the
// buffered read gave: a read error, then a body over the limit (even with a malformed text
// or no Content-Length), then what is wrong with the text.
func TestReadJSONBodyOrder(t *testing.T) {
	h := &Handler{maxImage: 1024}
	limit := 2*(h.maxImage*4/3+4) + jsonSlack
	big := `{"x":1,` + strings.Repeat(" ", int(limit)) + `}`
	for _, c := range []struct {
		name, body string
		length     int64
		broken     bool
		want       string
	}{
		{"oversize, declared", big, int64(len(big)), false, "IMAGE_TOO_LARGE"},
		{"oversize, chunked", big, -1, false, "IMAGE_TOO_LARGE"},
		{"oversize and malformed, chunked", `{"x":` + big, -1, false, "IMAGE_TOO_LARGE"},
		{"read error before a syntax error", `{"x":tru`, -1, true, "INVALID_REQUEST: could not read the request body"},
		{"read error after the object", `{"imageBase64":"QUJD"}`, -1, true, "INVALID_REQUEST: could not read the request body"},
		{"syntax error", `{"x":tru}`, -1, false, "INVALID_REQUEST: the request body is not valid JSON"},
		{"Unicode space around", "\u00a0 {\"imageBase64\":\"QUJD\"}\u2003\v", -1, false, "ok"},
		{"empty", "\u00a0 \n", -1, false, "INVALID_REQUEST: the request body is empty"},
		{"not an object", `["x"]`, -1, false, "INVALID_REQUEST: the request body must be a JSON object"},
	} {
		var body io.Reader = strings.NewReader(c.body)
		if c.broken {
			body = &errReader{body}
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/idcard", body)
		r.ContentLength = c.length
		req, _, err := h.readJSONBody(r)
		got := "ok"
		if err != nil {
			got = errText(err)
		} else if string(req.Image.Bytes) != "ABC" {
			t.Errorf("%s: image %q", c.name, req.Image.Bytes)
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
