package app

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvokePlatformEvents runs `invoke` with each platform's event and invocation context as
// a new user would (testdata/events/README.md names the sources of the shapes).
func TestInvokePlatformEvents(t *testing.T) {
	event := func(name string) string { return filepath.Join("..", "testdata", "events", name) }

	// A CloudBase timer: TRIGGER_SRC=timer and WX_CONTEXT_KEYS in the invocation context.
	// It refreshes the shared token (issue 8: it used to answer INVALID_REQUEST, exit 0).
	cloudBaseTimer := []string{"--env", "TRIGGER_SRC=timer", "--env", "WX_CONTEXT_KEYS=WX_API_TOKEN", "--env", "WX_API_TOKEN=opaque-cloudbase-value"}
	t.Run("CloudBase timer refreshes", func(t *testing.T) {
		code, stdout, stderr := runBin(t, baseEnv(), "", append([]string{"invoke", "--sandbox", "--event", event("timer.json")}, cloudBaseTimer...)...)
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
			t.Fatalf("exit %d, stdout %q (%v)\n%s", code, stdout, err, stderr)
		}
		rep, _ := out["refresh"].(map[string]any)
		if out["ok"] != true || rep["refreshed"] != true {
			t.Fatalf("timer answer %v", out)
		}
	})
	// A timer whose refresh fails is a failed invocation: non-zero exit and SCF's error
	// object, so that the platform records it. Here WeChat is an address nothing listens on.
	failing := baseEnv("WX_APPID=wx0123456789abcdef", "WX_APPSECRET=0123456789abcdef0123456789abcdef",
		"WX_API_BASE=http://127.0.0.1:1", "TOKEN_STORE=memory://", "UPSTREAM_TIMEOUT=2s")
	for name, ctx := range map[string][]string{"CloudBase timer": cloudBaseTimer, "SCF timer": nil} {
		t.Run(name+" whose refresh fails exits non-zero", func(t *testing.T) {
			code, stdout, stderr := runBin(t, failing, "", append([]string{"invoke", "--timeout", "10s", "--event", event("timer.json")}, ctx...)...)
			var out map[string]any
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("stdout %q: %v\n%s", stdout, err, stderr)
			}
			if code == 0 || out["errorMessage"] == nil || !strings.Contains(out["errorMessage"].(string), "refresh token") {
				t.Fatalf("exit %d, answer %v", code, out)
			}
		})
	}
	// A multipart upload through API Gateway with binary (base64) passing on.
	t.Run("API Gateway multipart, base64 body", func(t *testing.T) {
		code, stdout, stderr := runBin(t, baseEnv("API_KEYS=test-api-key-0123456789"), "", "invoke", "--sandbox", "--event", event("apigw-multipart-base64.json"))
		var out struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
			t.Fatalf("exit %d, stdout %q (%v)\n%s", code, stdout, err, stderr)
		}
		var body struct {
			OK   bool   `json:"ok"`
			Side string `json:"side"`
			Card struct {
				IDNumber string `json:"idNumber"`
			} `json:"card"`
		}
		if err := json.Unmarshal([]byte(out.Body), &body); err != nil || out.StatusCode != 200 || !body.OK || body.Side != "front" || body.Card.IDNumber != "440305199505132561" {
			t.Fatalf("status %d body %s", out.StatusCode, out.Body)
		}
	})
}
