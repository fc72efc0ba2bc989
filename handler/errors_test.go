package handler_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// TestErrorCodes provokes every error code of the API over loopback against the emulator;
// the last subtest fails if a code was never produced.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("INVALID_REQUEST bad JSON", func(t *testing.T) {
		resp, r := e.postJSON(t, `{"fileId": "cloud://x",`)
		sawCode(t, r, "INVALID_REQUEST")
		if resp.StatusCode != 400 {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
	t.Run("INVALID_REQUEST side mismatch", func(t *testing.T) {
		_, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileBack, "side": "front"}))
		sawCode(t, r, "INVALID_REQUEST")
		if r.Error.Message != "expected the front side, got the back" {
			t.Errorf("message = %q", r.Error.Message)
		}
	})
	t.Run("INVALID_REQUEST both sides swapped", func(t *testing.T) {
		_, r := e.postJSON(t, jsonBody(map[string]any{"front": map[string]string{"fileId": fileBack}, "back": map[string]string{"fileId": fileFront}}))
		sawCode(t, r, "INVALID_REQUEST")
	})
	t.Run("NOT_FOUND", func(t *testing.T) {
		resp, r := e.do(t, http.MethodPost, "/v1/idcards", "application/json", apiKey, strings.NewReader(`{}`))
		sawCode(t, r, "NOT_FOUND")
		if resp.StatusCode != 404 {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
	t.Run("METHOD_NOT_ALLOWED", func(t *testing.T) {
		resp, r := e.do(t, http.MethodDelete, "/healthz", "", "", nil)
		sawCode(t, r, "METHOD_NOT_ALLOWED")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("status = %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("UNAUTHORIZED", func(t *testing.T) {
		for _, key := range []string{"", "wrong-key", adminKey} {
			resp, r := e.do(t, http.MethodPost, "/v1/idcard", "application/json", key, strings.NewReader(`{"fileId":"`+fileFront+`"}`))
			sawCode(t, r, "UNAUTHORIZED")
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("key %q: status %d, WWW-Authenticate %q", key, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	})
	t.Run("IMAGE_URL_REJECTED", func(t *testing.T) {
		for _, u := range []string{"http://images.example.com/a.png", "https://127.0.0.1/a.png", "https://169.254.169.254/latest", "ftp://x/a.png"} {
			resp, r := e.postJSON(t, jsonBody(map[string]string{"imageUrl": u}))
			sawCode(t, r, "IMAGE_URL_REJECTED")
			if resp.StatusCode != 400 {
				t.Errorf("%s: status %d", u, resp.StatusCode)
			}
		}
	})
	t.Run("IMAGE_TOO_LARGE", func(t *testing.T) {
		big := make([]byte, 3<<20)
		copy(big, sample(t, "front.png"))
		resp, r := e.postJSON(t, jsonBody(map[string]string{"imageBase64": b64(big)}))
		sawCode(t, r, "IMAGE_TOO_LARGE")
		if resp.StatusCode != 413 {
			t.Errorf("status = %d", resp.StatusCode)
		}
		resp, r = e.do(t, http.MethodPost, "/v1/idcard", "image/png", apiKey, bytes.NewReader(big))
		sawCode(t, r, "IMAGE_TOO_LARGE")
		if resp.StatusCode != 413 {
			t.Errorf("raw body status = %d", resp.StatusCode)
		}
		body, ct := multipartBody(t, map[string][]byte{"image": big}, nil)
		resp, r = e.do(t, http.MethodPost, "/v1/idcard", ct, apiKey, body)
		sawCode(t, r, "IMAGE_TOO_LARGE")
		if resp.StatusCode != 413 {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
	t.Run("IMAGE_UNREADABLE local", func(t *testing.T) {
		_, r := e.postJSON(t, jsonBody(map[string]string{"imageBase64": b64([]byte("this is not an image, just text"))}))
		sawCode(t, r, "IMAGE_UNREADABLE")
		body, ct := multipartBody(t, map[string][]byte{"image": {}}, nil)
		_, r = e.do(t, http.MethodPost, "/v1/idcard", ct, apiKey, body)
		sawCode(t, r, "IMAGE_UNREADABLE") // a 0-byte upload
	})
	t.Run("IMAGE_UNREADABLE upstream 101002", func(t *testing.T) {
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 101002})
		_, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		sawCode(t, r, "IMAGE_UNREADABLE")
		if r.Error.Upstream == nil || r.Error.Upstream.Code != "101002" || r.Error.Upstream.Provider != "wechat" {
			t.Errorf("upstream = %+v", r.Error.Upstream)
		}
	})
	t.Run("IMAGE_FETCH_FAILED missing file", func(t *testing.T) {
		_, r := e.postJSON(t, jsonBody(map[string]string{"fileId": "cloud://prod-4g8a2c1f.7072-prod-4g8a2c1f-1316000000/cards/missing.png"}))
		sawCode(t, r, "IMAGE_FETCH_FAILED")
	})
	t.Run("IMAGE_FETCH_FAILED url fallback fails", func(t *testing.T) {
		before := e.ocrCalls()
		_, r := e.postJSON(t, jsonBody(map[string]string{"imageUrl": e.imgSrv.URL + "/cards/missing.png"}))
		sawCode(t, r, "IMAGE_FETCH_FAILED")
		if r.Error.Upstream == nil || r.Error.Upstream.Code != "101000" {
			t.Errorf("upstream = %+v", r.Error.Upstream)
		}
		if n := e.ocrCalls() - before; n != 1 {
			t.Errorf("OCR calls = %d, want 1 (no upload of a failed fetch)", n)
		}
	})
	t.Run("NO_CARD_FOUND", func(t *testing.T) {
		resp, r := e.postJSON(t, jsonBody(map[string]string{"fileId": "cloud://prod-4g8a2c1f.7072-prod-4g8a2c1f-1316000000/cards/blank.png"}))
		sawCode(t, r, "NO_CARD_FOUND")
		if resp.StatusCode != 422 || r.Error.Upstream == nil || r.Error.Upstream.Code != "101001" {
			t.Errorf("status %d upstream %+v", resp.StatusCode, r.Error.Upstream)
		}
	})
	t.Run("QUOTA_EXHAUSTED", func(t *testing.T) {
		for _, code := range []int{101003, 45009} {
			e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: code})
			resp, r := e.postJSON(t, jsonBody(map[string]string{"imageBase64": b64(sample(t, "front.png"))}))
			sawCode(t, r, "QUOTA_EXHAUSTED")
			if resp.StatusCode != 429 || r.Error.Retryable {
				t.Errorf("status %d retryable %v", resp.StatusCode, r.Error.Retryable)
			}
		}
	})
	t.Run("UPSTREAM_UNAVAILABLE", func(t *testing.T) {
		// The client retries transient failures twice: three faults exhaust it.
		for _, f := range []emulator.Fault{{ErrCode: -1}, {Status: 503}, {Reset: true}} {
			f.Endpoint, f.Count = emulator.PathOCRIDCard, 3
			e.fault(t, f)
			resp, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
			sawCode(t, r, "UPSTREAM_UNAVAILABLE")
			if resp.StatusCode != 503 || !r.Error.Retryable {
				t.Errorf("fault %+v: status %d retryable %v", f, resp.StatusCode, r.Error.Retryable)
			}
		}
	})
	t.Run("UPSTREAM_UNAVAILABLE recovers after one -1", func(t *testing.T) {
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: -1})
		_, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		if !r.OK {
			t.Fatalf("a single -1 was not retried: %+v", r.Error)
		}
	})
	t.Run("UPSTREAM_UNAVAILABLE 45011 says when", func(t *testing.T) {
		// WeChat's per-minute limit: retryable, with Retry-After over HTTP and retryAfter in a
		// cloud call's body (no headers there), and WeChat's code.
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 45011})
		resp, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		sawCode(t, r, "UPSTREAM_UNAVAILABLE")
		if resp.StatusCode != 503 || !r.Error.Retryable || resp.Header.Get("Retry-After") != "60" || r.Error.RetryAfter != 60 {
			t.Errorf("status %d retryable %v Retry-After %q retryAfter %d", resp.StatusCode, r.Error.Retryable,
				resp.Header.Get("Retry-After"), r.Error.RetryAfter)
		}
		if r.Error.Upstream == nil || r.Error.Upstream.Code != "45011" {
			t.Errorf("upstream %+v", r.Error.Upstream)
		}
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 45011})
		out, err := e.invoke(t, context.Background(), []byte(`{"fileId":"`+fileFront+`"}`), caller)
		if err != nil {
			t.Fatal(err)
		}
		if c := decodeResponse(t, out); c.code() != "UPSTREAM_UNAVAILABLE" || c.Error.RetryAfter != 60 {
			t.Errorf("cloud call: %s", out)
		}
	})
	t.Run("UPSTREAM_AUTH 48001 says what to enable", func(t *testing.T) {
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 48001})
		resp, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		sawCode(t, r, "UPSTREAM_AUTH")
		if resp.StatusCode != 502 || r.Error.Retryable || resp.Header.Get("Retry-After") != "" ||
			!strings.Contains(r.Error.Message, "OCR service") {
			t.Errorf("status %d retryable %v Retry-After %q message %q", resp.StatusCode, r.Error.Retryable,
				resp.Header.Get("Retry-After"), r.Error.Message)
		}
	})
	t.Run("UPSTREAM_AUTH 40013", func(t *testing.T) {
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 61007})
		resp, r := e.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		sawCode(t, r, "UPSTREAM_AUTH")
		if resp.StatusCode != 502 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("UPSTREAM_AUTH wrong secret", func(t *testing.T) {
		bad := newEnv(t, func(c *envConfig) { c.secret = "not-the-secret" })
		_, r := bad.postJSON(t, jsonBody(map[string]string{"fileId": fileFront}))
		sawCode(t, r, "UPSTREAM_AUTH")
		if r.Error.Upstream == nil || r.Error.Upstream.Code != "40125" {
			t.Errorf("upstream = %+v", r.Error.Upstream)
		}
		if strings.Contains(bad.logs.String(), "not-the-secret") {
			t.Error("the secret reached the log")
		}
	})
	t.Run("TIMEOUT", func(t *testing.T) {
		e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: 10 * time.Second})
		defer e.emu.ClearFaults()
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		out, err := e.invoke(t, ctx, []byte(`{"fileId":"`+fileFront+`"}`), caller)
		if err != nil {
			t.Fatal(err)
		}
		r := decodeResponse(t, out)
		sawCode(t, r, "TIMEOUT")
		if !r.Error.Retryable {
			t.Error("TIMEOUT not retryable")
		}
	})
	t.Run("CLIENT_CLOSED", provokeClientClosed)
	t.Run("OVERLOADED", provokeOverloaded)
	t.Run("RATE_LIMITED", func(t *testing.T) {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		rl := newEnv(t, func(c *envConfig) { c.rateLimit = 2; c.now = func() time.Time { return now } })
		for i := range 2 {
			if _, r := rl.do(t, http.MethodPost, "/v1/idcard", "application/json", apiKey, strings.NewReader(`{"fileId":"`+fileFront+`"}`)); !r.OK {
				t.Fatalf("request %d: %+v", i, r.Error)
			}
		}
		resp, r := rl.do(t, http.MethodPost, "/v1/idcard", "application/json", apiKey, strings.NewReader(`{"fileId":"`+fileFront+`"}`))
		sawCode(t, r, "RATE_LIMITED")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" {
			t.Errorf("status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// Another key is another caller; cloud callers are limited by openid.
		if _, r := rl.do(t, http.MethodPost, "/v1/idcard", "application/json", "other-key", strings.NewReader(`{"fileId":"`+fileFront+`"}`)); !r.OK {
			t.Errorf("other key limited: %+v", r.Error)
		}
		call := []byte(`{"fileId":"` + fileFront + `"}`)
		for i := range 3 {
			out, _ := rl.invoke(t, ctx, call, caller)
			r := decodeResponse(t, out)
			if (i < 2) != r.OK {
				t.Errorf("cloud call %d: %s", i, out)
			}
		}
		other := map[string]string{"WX_OPENID": "oAnotherUser000000000000000", "WX_APPID": emulator.DefaultAppID}
		if out, _ := rl.invoke(t, ctx, call, other); !decodeResponse(t, out).OK {
			t.Errorf("another openid limited: %s", out)
		}
		// A minute later the bucket is full again.
		now = now.Add(time.Minute)
		if out, _ := rl.invoke(t, ctx, call, caller); !decodeResponse(t, out).OK {
			t.Errorf("not refilled: %s", out)
		}
	})
	t.Run("INTERNAL", func(t *testing.T) {
		h, err := handler.New(handler.Options{Service: panicky{}, AuthDisabled: true})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptestServer(t, h)
		resp, r := doURL(t, srv+"/v1/idcard", `{"fileId":"`+fileFront+`"}`)
		sawCode(t, r, "INTERNAL")
		if resp.StatusCode != 500 || strings.Contains(r.Error.Message, "boom") {
			t.Errorf("status %d message %q", resp.StatusCode, r.Error.Message)
		}
		out, err := h.Invoke(ctx, []byte(`{"fileId":"`+fileFront+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeResponse(t, out); r.code() != "INTERNAL" {
			t.Errorf("cloud call panic: %s", out)
		}
	})

	t.Run("every code provoked", func(t *testing.T) {
		for _, c := range apperr.Codes() {
			if !codesSeen[string(c)] {
				t.Errorf("no test provoked %s", c)
			}
		}
	})
}

type panicky struct{}

func (panicky) Recognize(context.Context, ocr.Request) (*ocr.Result, error) { panic("boom") }

func (e *testEnv) fault(t *testing.T, f emulator.Fault) {
	t.Helper()
	if err := e.emu.AddFault(f); err != nil {
		t.Fatal(err)
	}
}

// multipartBody builds a multipart/form-data body with file parts and text fields.
func multipartBody(t *testing.T, files map[string][]byte, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		w, err := mw.CreateFormFile(name, name+".png")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func doURL(t *testing.T, u, body string) (*http.Response, *response) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, decodeResponse(t, b)
}
