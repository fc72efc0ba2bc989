package handler_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// The invocation context CloudBase gives a timer (wx-server-sdk's tests model it so): the
// trigger in TRIGGER_SRC, WX_CONTEXT_KEYS naming the keys present, and no caller.
var cloudBaseTimer = map[string]string{"TRIGGER_SRC": "timer", "WX_CONTEXT_KEYS": "WX_API_TOKEN", "WX_API_TOKEN": "opaque-cloudbase-value"}

// TestTimerRecognisedByPlatformMarks: SCF's timer event and CloudBase's TRIGGER_SRC=timer
// both refresh the token; a failed refresh is a Go error (a failed invocation); a Mini
// Program caller never triggers a refresh, whatever its data or context says.
func TestTimerRecognisedByPlatformMarks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, env := range map[string]map[string]string{"SCF timer": nil, "CloudBase timer": cloudBaseTimer} {
		t.Run(name, func(t *testing.T) {
			out, err := e.invoke(t, ctx, eventFile(t, e, "timer.json"), env)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if r := decodeResponse(t, out); !r.OK || r.Refresh == nil || r.Refresh.Source != "stable" {
				t.Fatalf("timer answer %s", out)
			}
			if e.emu.Stats().TokensIssued != 1 {
				t.Errorf("tokens issued = %d, want the one the first refresh fetched", e.emu.Stats().TokensIssued)
			}
		})
	}
	t.Run("CloudBase timer whose refresh fails", func(t *testing.T) {
		bad := newEnv(t, func(c *envConfig) { c.secret = "wrong-secret" })
		if _, err := bad.invoke(t, ctx, eventFile(t, bad, "timer.json"), cloudBaseTimer); err == nil {
			t.Fatal("a failed refresh returned no error")
		}
	})
	t.Run("caller with TRIGGER_SRC", func(t *testing.T) {
		env := map[string]string{"TRIGGER_SRC": "timer"}
		for k, v := range caller {
			env[k] = v
		}
		before := e.emu.Stats().Calls[emulator.PathStableToken]
		out, err := e.invoke(t, ctx, eventFile(t, e, "timer.json"), env)
		if err != nil || decodeResponse(t, out).code() != "INVALID_REQUEST" {
			t.Fatalf("%s %v", out, err)
		}
		if e.emu.Stats().Calls[emulator.PathStableToken] != before {
			t.Error("a caller reached the token endpoint")
		}
	})
}

// TestAPIGatewayMultipartBase64: a multipart upload through API Gateway with binary passing
// on (isBase64Encoded) is recognised.
func TestAPIGatewayMultipartBase64(t *testing.T) {
	e := newEnv(t)
	out, err := e.invoke(t, context.Background(), eventFile(t, e, "apigw-multipart-base64.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	status, headers, r := integration(t, out)
	if status != 200 || !r.OK || r.Side != "front" || r.Card.IDNumber == nil || *r.Card.IDNumber != frontID {
		t.Fatalf("status %d: %+v", status, r.Error)
	}
	if headers["X-Request-Id"] != "2c9e4f61-5d3a-4b7e-8f10-6a2b9c4d7e58" {
		t.Errorf("request ID %q, want API Gateway's", headers["X-Request-Id"])
	}
}

// callContainer replays testdata/requests/cloudhosting-callcontainer.http (a request as
// Cloud Hosting hands it to the container) over loopback, with headers changed as given.
func callContainer(t *testing.T, e *testEnv, set map[string]string) (*http.Response, *response) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "requests", "cloudhosting-callcontainer.http"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	out, err := http.NewRequest(req.Method, e.srv.URL+req.URL.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header
	resp, err := e.srv.Client().Do(out)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, decodeResponse(t, b)
}

// TestCloudHostingCaller: behind Cloud Hosting (CLOUD_HOSTING=true) a wx.cloud.callContainer
// request is the Mini Program user's: no API key, limited per openid. Anywhere else the same
// headers are a client's to forge: they neither authenticate nor pick the rate-limit key.
func TestCloudHostingCaller(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	t.Run("behind Cloud Hosting", func(t *testing.T) {
		e := newEnv(t, func(c *envConfig) { c.cloudHosting, c.rateLimit, c.now = true, 1, clock })
		resp, r := callContainer(t, e, nil)
		if resp.StatusCode != 200 || !r.OK || *r.Card.IDNumber != frontID {
			t.Fatalf("callContainer: %d %+v", resp.StatusCode, r.Error)
		}
		// The budget is the openid's: the same user again is limited, another is not.
		if resp, _ := callContainer(t, e, nil); resp.StatusCode != 429 {
			t.Errorf("same openid again: %d, want 429", resp.StatusCode)
		}
		if resp, r := callContainer(t, e, map[string]string{"X-WX-OPENID": "oAnotherUser000000000000000"}); resp.StatusCode != 200 {
			t.Errorf("another openid: %d %+v", resp.StatusCode, r.Error)
		}
		// No X-WX-SOURCE (the service's public address, not callContainer): a key is needed.
		if resp, r := callContainer(t, e, map[string]string{"X-WX-SOURCE": "", "X-WX-OPENID": "oThird000000000000000000000"}); resp.StatusCode != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("without X-WX-SOURCE: %d %s", resp.StatusCode, r.code())
		}
		// Resource sharing: the user is X-WX-FROM-OPENID.
		if resp, _ := callContainer(t, e, map[string]string{"X-WX-OPENID": "", "X-WX-FROM-OPENID": "oShared00000000000000000000"}); resp.StatusCode != 200 {
			t.Errorf("X-WX-FROM-OPENID: %d", resp.StatusCode)
		}
		if logs := e.logs.String(); bytes.Contains([]byte(logs), []byte("oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE")) || !bytes.Contains([]byte(logs), []byte(`"event":"cloudhosting"`)) {
			t.Errorf("log lines: %s", logs)
		}
	})
	t.Run("elsewhere", func(t *testing.T) {
		e := newEnv(t, func(c *envConfig) { c.rateLimit, c.now = 1, clock })
		if resp, r := callContainer(t, e, nil); resp.StatusCode != 401 || r.code() != "UNAUTHORIZED" {
			t.Fatalf("forged X-WX-* headers: %d %s, want 401", resp.StatusCode, r.code())
		}
		// With a key, the key is the caller: a forged openid does not buy a fresh budget.
		if resp, _ := callContainer(t, e, map[string]string{"Authorization": "Bearer " + apiKey}); resp.StatusCode != 200 {
			t.Fatalf("with a key: %d", resp.StatusCode)
		}
		if resp, _ := callContainer(t, e, map[string]string{"Authorization": "Bearer " + apiKey, "X-WX-OPENID": "oForged0000000000000000000"}); resp.StatusCode != 429 {
			t.Errorf("forged openid with the same key: %d, want 429 (the key's budget)", resp.StatusCode)
		}
	})
}
