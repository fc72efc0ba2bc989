package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// A Mini Program's wx.uploadFile through API Gateway: a multipart/form-data body with a PNG,
// which API Gateway passes base64-encoded when the endpoint has base64 passing on (as
// serverless.yml configures it). Recognised end to end through Handler.Invoke, the WeChat
// client and the emulator. The same bytes without base64 passing, as a JSON string can carry
// them (invalid UTF-8 replaced), are refused as unreadable: the reason for the setting.
func TestAPIGatewayBase64MultipartUpload(t *testing.T) {
	emu, upURL := startEmulator(t)
	env := map[string]string{
		"WX_APPID":     emulator.DefaultAppID,
		"WX_APPSECRET": emulator.DefaultSecret,
		"WX_API_BASE":  upURL,
		"TOKEN_STORE":  "memory://",
		"API_KEYS":     fleetKey,
	}
	m := newTestMain(t, env)

	png, err := os.ReadFile("../testdata/cards/front.png")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", "tmp_5f1c.png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(png); err != nil {
		t.Fatal(err)
	}
	if err := mw.WriteField("side", "front"); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}

	// The shape of testdata/events/apigw-base64-body.json (an API Gateway event), carrying
	// the multipart upload instead of JSON.
	var ev map[string]any
	raw, err := os.ReadFile("../testdata/events/apigw-base64-body.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	headers := ev["headers"].(map[string]any)
	headers["content-type"] = mw.FormDataContentType()
	headers["authorization"] = "Bearer " + fleetKey

	invoke := func(bodyField string, b64 bool) (int, map[string]any) {
		t.Helper()
		ev["body"] = bodyField
		ev["isBase64Encoded"] = b64
		event, _ := json.Marshal(ev)
		out, err := m.Handler.Invoke(context.Background(), event)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &r); err != nil {
			t.Fatalf("%v: %s", err, resp.Body)
		}
		return resp.StatusCode, r
	}

	status, r := invoke(base64.StdEncoding.EncodeToString(body.Bytes()), true)
	card, _ := r["card"].(map[string]any)
	if status != 200 || r["ok"] != true || card["idNumber"] == nil || r["side"] != "front" {
		t.Fatalf("base64 multipart upload: %d %v", status, r)
	}
	if got := emu.Stats().Calls[emulator.PathOCRIDCard]; got != 1 {
		t.Fatalf("OCR calls %d, want 1", got)
	}

	mangled := strings.ToValidUTF8(body.String(), string(utf8.RuneError))
	status, r = invoke(mangled, false)
	e, _ := r["error"].(map[string]any)
	if status == 200 || e["code"] != "IMAGE_UNREADABLE" {
		t.Fatalf("mangled binary body: %d %v, want IMAGE_UNREADABLE", status, r)
	}
	if got := emu.Stats().Calls[emulator.PathOCRIDCard]; got != 1 {
		t.Fatalf("a mangled image cost an OCR call (%d calls)", got)
	}
}
