package handler

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
)

func errText(err error) string {
	ae := apperr.AsError(err)
	return string(ae.Code) + ": " + ae.Message
}

// parse runs a JSON body through the HTTP path's parser.
func parse(t testing.TB, body []byte, maxImage int64) (string, error) {
	h := &Handler{maxImage: maxImage, jsonOpts: jsonOptions(maxImage)}
	r := httptest.NewRequest(http.MethodPost, "/v1/idcard", bytes.NewReader(body))
	req, src, err := h.parseJSON(r)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("src %s side %q mode %q image %+v front %+v back %+v", src, req.Side, req.Mode, req.Image, req.Front, req.Back), nil
}

// TestImageBase64Decoded: the image text is decoded as the body is decoded, escapes included,
// and a 1.25 MB image costs the body and the image, nothing else of their size.
func TestImageBase64Decoded(t *testing.T) {
	img := bytes.Repeat([]byte("ABC\x00\xff"), 1<<18)
	body := []byte(`{"side":"front","imageBase64":"` + base64.StdEncoding.EncodeToString(img) + `","userInfo":{"openId":"o1"}}`)
	h := &Handler{maxImage: DefaultMaxImageBytes, jsonOpts: jsonOptions(DefaultMaxImageBytes)}
	var data requestJSON
	if err := jsonv2.Unmarshal(body, &data, h.jsonOpts); err != nil || !bytes.Equal(data.ImageBase64.data, img) || data.UserInfo.OpenID != "o1" || data.source() != "imageBase64" {
		t.Fatalf("wrong decode: %v %q", err, data.source())
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 5 {
		var d requestJSON
		_ = jsonv2.Unmarshal(body, &d, h.jsonOpts)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 5; per > uint64(len(img))+64<<10 {
		t.Errorf("%d bytes allocated per decode of a %d-byte image", per, len(img))
	}
	for _, c := range []struct{ text, want string }{
		{`ab\/c`, "i\xbf\xdc"},
		{`a\u0062\/\u002F`, "i\xbf\xff"},
		{`aGVs\nbG8=`, "hello"},
		{`data:image/png;base64,aGVsbG8`, "hello"},
		{`aGVsbA==`, "hell"},
	} {
		var d requestJSON
		err := jsonv2.Unmarshal([]byte(`{"imageBase64":"`+c.text+`"}`), &d, h.jsonOpts)
		if err != nil || string(d.ImageBase64.data) != c.want {
			t.Errorf("%s: %q %v", c.text, d.ImageBase64.data, err)
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	for body, want := range map[string]string{
		``:                            "INVALID_REQUEST: the request body is empty",
		` `:                           "INVALID_REQUEST: the request body is empty",
		`[]`:                          "INVALID_REQUEST: the request body must be a JSON object",
		`"x"`:                         "INVALID_REQUEST: the request body must be a JSON object",
		`{`:                           "INVALID_REQUEST: the request body is not valid JSON: unexpected end of input",
		`{"fileId":"a"} x`:            "INVALID_REQUEST: the request body is not valid JSON: syntax error at offset 15",
		`{"fileId":1}`:                "INVALID_REQUEST: the request body is not valid JSON: /fileId has the wrong type",
		`{"imageBase64":true}`:        "INVALID_REQUEST: the request body is not valid JSON: /imageBase64 has the wrong type",
		`{"front":"x"}`:               "INVALID_REQUEST: the request body is not valid JSON: /front has the wrong type",
		`{"fileId":"a","fileId":"b"}`: "INVALID_REQUEST: the request body is not valid JSON: syntax error at offset 14",
		`{"imageBase64":"%%%"}`:       "INVALID_REQUEST: imageBase64 is not valid base64",
		`{"imageBase64":""}`:          "INVALID_REQUEST: imageBase64 is empty",
		`{"imageBase64":"` + strings.Repeat("QUJD", 40) + `"}`: "IMAGE_TOO_LARGE: image is 120 bytes",
	} {
		_, err := parse(t, []byte(body), 64)
		if err == nil || !strings.HasPrefix(errText(err), want) {
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
}

// FuzzParseJSON: a body is refused with INVALID_REQUEST or IMAGE_TOO_LARGE, never anything
// else and never a panic; an accepted imageBase64 is the image that imagesrc.DecodeBase64
// makes of the string as a plain decode into a map reads it (no zero-copy or escape shortcut
// changes what is decoded).
func FuzzParseJSON(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	for _, s := range []string{
		`{"imageBase64":"aGVsbG8=","side":"front"}`,
		`{"imageBase64":"aGVs\/bG8\nx\r\nyz\u002Fw==","mode":"scan"}`,
		`{"imageBase64":"data:image/png;base64,` + b64([]byte("an image of sorts, longer than a quantum or two")) + `"}`,
		`{"front":{"imageBase64":"QUJD"},"back":{"imageBase64":"REVG\u0047"}}`,
		`{"imageBase64":"QUJD","imageBase64":"REVG"}`, `{"imageBase64":null}`,
		"{\"imageBase64\":\"QUJD\x01\"}", `{"imageBase64":"QUJD\x"}`, `{"imageBase64":"QUJD`,
		`{"imageBase64":"Q UJD"}`, `{"imageBase64":"QQ=\n="}`, `{"imageBase64":"-_-_"}`, `{"imageBase64":"\u00e9"}`,
		`{"imageBase64":5}`, `{"imageBase64":"QUJD"} x`, `{"fileId":"a","imageBase64":"QUJD"}`,
		`{"fileId":"cloud://a.b/c","side":"front","mode":"scan","userInfo":{"openId":"o"}}`,
		`{"front":{"fileId":"a"},"back":{"imageUrl":"https://x/y"},"extra":[1,2.5e3,true,null,{"k":"v"}]}`,
	} {
		f.Add([]byte(s), uint8(64))
	}
	f.Fuzz(func(t *testing.T, body []byte, limit uint8) {
		maxImage := int64(limit) + 1
		h := &Handler{maxImage: maxImage, jsonOpts: jsonOptions(maxImage)}
		r := httptest.NewRequest(http.MethodPost, "/v1/idcard", bytes.NewReader(body))
		req, _, err := h.parseJSON(r)
		if err != nil {
			if c := apperr.AsError(err).Code; c != apperr.InvalidRequest && c != apperr.ImageTooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		var plain map[string]any
		if err := jsonv2.Unmarshal(bytes.TrimSpace(body), &plain); err != nil {
			t.Fatalf("accepted a body a plain decode refuses: %v", err)
		}
		text, ok := plain["imageBase64"].(string)
		if !ok {
			if req.Image.Bytes != nil {
				t.Fatal("an image from nowhere")
			}
			return
		}
		want, err := imagesrc.DecodeBase64([]byte(text), maxImage)
		if err != nil || !bytes.Equal(want, req.Image.Bytes) {
			t.Fatalf("decoded %x, the plain path gives %x (%v)", req.Image.Bytes, want, err)
		}
	})
}
