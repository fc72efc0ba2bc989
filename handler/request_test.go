package handler

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// TestParseDoesNotCopyBase64 proves the large field is a view of the body, not a copy:
// that keeps a 2 MB base64 upload within its allocation budget.
func TestParseDoesNotCopyBase64(t *testing.T) {
	payload := strings.Repeat("QUJD", 1<<18) // 1 MiB of base64
	body := []byte(`{"side":"front","imageBase64":"` + payload + `","userInfo":{"openId":"o1"}}`)
	req, ui, err := parseRequestJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if req.Image.Base64 != payload || ui == nil || ui.OpenID != "o1" {
		t.Fatal("wrong decode")
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(req.Image.Base64)))
	start := uintptr(unsafe.Pointer(&body[0]))
	if p < start || p >= start+uintptr(len(body)) {
		t.Fatal("imageBase64 was copied out of the body")
	}
	// Escaped text is unquoted into its own string, correctly.
	req, _, err = parseRequestJSON([]byte(`{"imageBase64":"ab\/cd"}`))
	if err != nil || req.Image.Base64 != "ab/cd" {
		t.Fatalf("escaped: %q %v", req.Image.Base64, err)
	}
}

func TestParseRequestJSONErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `"x"`, `{`, `{"fileId":1}`, `{"imageBase64":true}`, `{"front":"x"}`,
		`{"side":"both","fileId":"cloud://a.b/c"}`, `{"fileId":"cloud://a.b/c","imageUrl":"https://x/y"}`,
		`{"front":{},"back":{"fileId":"cloud://a.b/c"}}`, `{"mode":"fax","fileId":"cloud://a.b/c"}`,
	} {
		_, _, err := parseRequestJSON([]byte(body))
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
