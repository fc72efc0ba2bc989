package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

func TestTokenRevokedRecovers40001(t *testing.T) {
	e := newEnv(t)
	body := jsonBody(map[string]string{"fileId": fileFront})
	if _, r := e.postJSON(t, body); !r.OK {
		t.Fatalf("first call: %+v", r.Error)
	}
	issued := e.emu.Stats().TokensIssued
	e.emu.Revoke() // the cached token now answers 40001
	if _, r := e.postJSON(t, body); !r.OK {
		t.Fatalf("after Revoke: %+v", r.Error)
	}
	if got := e.emu.Stats().TokensIssued; got != issued+1 {
		t.Errorf("tokens issued %d -> %d, want one new token", issued, got)
	}
}

func TestMultipartUpload(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t, map[string][]byte{"image": sample(t, "front.png")}, map[string]string{"side": "front", "mode": "scan", "note": "ignored"})
	resp, r := e.do(t, http.MethodPost, "/v1/idcard", ct, apiKey, body)
	if resp.StatusCode != 200 || !r.OK || r.Side != "front" || *r.Card.IDNumber != frontID {
		t.Fatalf("status %d: %+v", resp.StatusCode, r.Error)
	}
	// Both sides as two file fields; the JPEG sample exercises the other format.
	body, ct = multipartBody(t, map[string][]byte{"front": sample(t, "front.jpg"), "back": sample(t, "back.png")}, nil)
	_, r = e.do(t, http.MethodPost, "/v1/idcard", ct, apiKey, body)
	if !r.OK || r.Side != "both" || r.Card.ValidTo == nil || *r.Card.ValidTo != "2029-03-08" {
		t.Fatalf("both sides: %+v %+v", r.Error, r.Card)
	}
	// A raw image body, side in the query.
	resp, r = e.do(t, http.MethodPost, "/v1/idcard?side=back", "image/png", apiKey, bytes.NewReader(sample(t, "back-longterm.png")))
	if !r.OK || r.Side != "back" || r.Card.LongTerm == nil || !*r.Card.LongTerm {
		t.Fatalf("raw body: status %d %+v %+v", resp.StatusCode, r.Error, r.Card)
	}
}

func TestURLFallbackAfter101000(t *testing.T) {
	e := newEnv(t)
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 101000})
	before := e.ocrCalls()
	_, r := e.postJSON(t, jsonBody(map[string]string{"imageUrl": e.imgSrv.URL + "/cards/front.png"}))
	if !r.OK || *r.Card.IDNumber != frontID {
		t.Fatalf("fallback failed: %+v", r.Error)
	}
	if n := e.ocrCalls() - before; n != 2 {
		t.Errorf("OCR calls = %d, want 2 (by URL, then upload)", n)
	}
	if n := e.imgHits.get(); n != 1 {
		t.Errorf("image server hits = %d, want 1 (our fetch)", n)
	}
	// A fileId's download URL falls back the same way.
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 101000})
	if _, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront})); !r.OK {
		t.Fatalf("fileId fallback failed: %+v", r.Error)
	}
}

func TestURLFallbackRefusesUntrustedHost(t *testing.T) {
	e := newEnv(t)
	// WeChat is told to fetch the emulator's file URL... but a caller-supplied loopback
	// address outside the trusted hosts is refused before any call.
	_, r := e.postJSON(t, jsonBody(map[string]string{"imageUrl": "https://localhost:1/a.png"}))
	if r.code() != "IMAGE_URL_REJECTED" {
		t.Fatalf("code = %s", r.code())
	}
	if e.ocrCalls() != 0 {
		t.Error("a rejected URL reached WeChat")
	}
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	big := make([]byte, 3<<20)
	copy(big, sample(t, "front.png"))
	tests := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"bad JSON", "application/json", `{"fileId":`, 400, "INVALID_REQUEST"},
		{"not an object", "application/json", `["a"]`, 400, "INVALID_REQUEST"},
		{"empty body", "application/json", ``, 400, "INVALID_REQUEST"},
		{"null", "application/json", `null`, 400, "INVALID_REQUEST"},
		{"two image fields", "application/json", `{"fileId":"` + fileFront + `","imageBase64":"aGVsbG8="}`, 400, "INVALID_REQUEST"},
		{"no image", "application/json", `{"side":"front"}`, 400, "INVALID_REQUEST"},
		{"empty fileId", "application/json", `{"fileId":""}`, 400, "INVALID_REQUEST"},
		{"fileId not cloud", "application/json", `{"fileId":"/etc/passwd"}`, 400, "INVALID_REQUEST"},
		{"fileId wrong type", "application/json", `{"fileId":42}`, 400, "INVALID_REQUEST"},
		{"unknown side", "application/json", `{"fileId":"` + fileFront + `","side":"left"}`, 400, "INVALID_REQUEST"},
		{"unknown mode", "application/json", `{"fileId":"` + fileFront + `","mode":"x"}`, 400, "INVALID_REQUEST"},
		{"image and front", "application/json", `{"fileId":"` + fileFront + `","front":{"fileId":"` + fileFront + `"}}`, 400, "INVALID_REQUEST"},
		{"front with two images", "application/json", `{"front":{"fileId":"` + fileFront + `","imageUrl":"https://a.example/x.png"},"back":{"fileId":"` + fileBack + `"}}`, 400, "INVALID_REQUEST"},
		{"both with side front", "application/json", `{"side":"front","front":{"fileId":"` + fileFront + `"},"back":{"fileId":"` + fileBack + `"}}`, 400, "INVALID_REQUEST"},
		{"bad base64", "application/json", `{"imageBase64":"%%%not base64%%%"}`, 400, "INVALID_REQUEST"},
		{"empty base64", "application/json", `{"imageBase64":""}`, 400, "INVALID_REQUEST"},
		{"base64 of text", "application/json", `{"imageBase64":"aGVsbG8gd29ybGQ="}`, 422, "IMAGE_UNREADABLE"},
		{"3 MB base64", "application/json", jsonBody(map[string]string{"imageBase64": b64(big)}), 413, "IMAGE_TOO_LARGE"},
		{"8 MB body", "application/json", `{"imageBase64":"` + strings.Repeat("A", 8<<20) + `"}`, 413, "IMAGE_TOO_LARGE"},
		{"0-byte raw image", "image/jpeg", ``, 422, "IMAGE_UNREADABLE"},
		{"unsupported type", "application/xml", `<a/>`, 400, "INVALID_REQUEST"},
		{"multipart without boundary", "multipart/form-data", `x`, 400, "INVALID_REQUEST"},
		{"broken multipart", "multipart/form-data; boundary=zzz", "--zzz\r\nbroken", 400, "INVALID_REQUEST"},
		{"multipart without image", "multipart/form-data; boundary=zzz", "--zzz\r\nContent-Disposition: form-data; name=\"side\"\r\n\r\nfront\r\n--zzz--\r\n", 400, "INVALID_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, r := e.do(t, http.MethodPost, "/v1/idcard", tt.ct, apiKey, strings.NewReader(tt.body))
			if resp.StatusCode != tt.status || r.code() != tt.code {
				t.Errorf("status %d code %s (%s), want %d %s", resp.StatusCode, r.code(), r.Error.Message, tt.status, tt.code)
			}
		})
	}
	// Escaped JSON strings are read too (an encoder may write \/ in base64).
	esc := strings.ReplaceAll(b64(sample(t, "front.png")), "/", `\/`)
	if _, r := e.postJSON(t, `{"imageBase64":"`+esc+`"}`); !r.OK {
		t.Errorf("escaped base64: %+v", r.Error)
	}
	if n := e.ocrCalls(); n != 1 {
		t.Errorf("malformed bodies made %d OCR calls, want only the valid one", n-1)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	resp, r := e.do(t, http.MethodGet, "/healthz", "", "", nil)
	if resp.StatusCode != 200 || !r.OK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	if calls := e.emu.Stats().Calls; len(calls) != 0 {
		t.Errorf("healthz called upstream: %v", calls)
	}
	resp, r = e.do(t, http.MethodGet, "/nope", "", apiKey, nil)
	if resp.StatusCode != 404 || r.code() != "NOT_FOUND" {
		t.Errorf("404: %d %s", resp.StatusCode, r.code())
	}
	resp, r = e.do(t, http.MethodGet, "/v1/idcard", "", apiKey, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || r.code() != "METHOD_NOT_ALLOWED" {
		t.Errorf("405: %d %q %s", resp.StatusCode, resp.Header.Get("Allow"), r.code())
	}
	// Refresh needs the admin key; an API key is not enough.
	resp, r = e.do(t, http.MethodPost, "/v1/token/refresh", "", apiKey, nil)
	if resp.StatusCode != 401 || r.code() != "UNAUTHORIZED" {
		t.Errorf("refresh with API key: %d %s", resp.StatusCode, r.code())
	}
	resp, r = e.do(t, http.MethodPost, "/v1/token/refresh", "", adminKey, nil)
	if resp.StatusCode != 200 || !r.OK || r.Refresh == nil || !r.Refresh.Refreshed {
		t.Errorf("refresh: %d %+v", resp.StatusCode, r.Refresh)
	}
	if e.emu.Stats().TokensIssued != 1 {
		t.Errorf("tokens issued = %d", e.emu.Stats().TokensIssued)
	}
}

func TestLogsCarryNoPersonalData(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.postJSON(t, jsonBody(map[string]string{"imageBase64": b64(sample(t, "front.png"))}))
	e.invoke(t, ctx, eventFile(t, e, "callfunction-both-sides.json"), caller)
	e.invoke(t, ctx, eventFile(t, e, "apigw-post-idcard.json"), nil)
	tok, err := e.mgr.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	for _, secret := range []string{frontID, "张三", "广东省深圳市南山区粤海街道", tok.Value, b64(sample(t, "front.png"))[:40], apiKey, caller["WX_OPENID"]} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %.40q", secret)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want one per request:\n%s", len(lines), logs)
	}
	kinds := map[string]bool{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		for _, k := range []string{"requestId", "event", "provider", "latencyMs", "outcome", "verdict", "idNumber"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line without %s: %s", k, l)
			}
		}
		if rec["idNumber"] != "4403**********2561" {
			t.Errorf("idNumber = %v", rec["idNumber"])
		}
		kinds[rec["event"].(string)] = true
	}
	for _, k := range []string{"http", "callfunction", "apigw"} {
		if !kinds[k] {
			t.Errorf("no log line for event kind %s", k)
		}
	}
}

func TestInvokeRequestIDAndTimerFailure(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.secret = "wrong-secret" })
	ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{RequestID: "scf-req-42", Environment: caller})
	out, err := e.h.Invoke(ctx, eventFile(t, e, "apigw-post-idcard.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, headers, r := integration(t, out)
	if r.RequestID != "scf-req-42" || headers["X-Request-Id"] != "scf-req-42" {
		t.Errorf("request ID %q / %q, want SCF's", r.RequestID, headers["X-Request-Id"])
	}
	// A timer whose refresh fails is a failed invocation, so that SCF records and retries it.
	if _, err := e.invoke(t, context.Background(), eventFile(t, e, "timer.json"), nil); err == nil {
		t.Error("failed refresh returned no error")
	}
	// A cloud caller sending timer-shaped data gets a request error, not a refresh.
	before := e.emu.Stats().Calls[emulator.PathStableToken]
	out, err = e.invoke(t, context.Background(), eventFile(t, e, "timer.json"), caller)
	if err != nil || decodeResponse(t, out).code() != "INVALID_REQUEST" {
		t.Errorf("timer-shaped cloud call: %s %v", out, err)
	}
	if e.emu.Stats().Calls[emulator.PathStableToken] != before {
		t.Error("timer-shaped cloud call reached the token endpoint")
	}
}
