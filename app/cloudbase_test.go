package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// TOKEN_SOURCE=cloudbase end to end against the emulator: the token CloudBase pushes into a
// file is sent as cloudbase_access_token=, no WeChat token endpoint is called, and when the
// platform pushes a new token (the file changes) and the old one is rejected, the new one is
// read and the request still succeeds.
func TestCloudBaseTokenSourceEndToEnd(t *testing.T) {
	emu, upURL := startEmulator(t)
	tokenFile := filepath.Join(t.TempDir(), "cloudbase_access_token")
	push := func(v string) {
		t.Helper()
		// CloudBase replaces the file; write-and-rename as it would, never a half-written token.
		tmp := tokenFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	push(emu.IssueCloudBaseToken(0))

	env := map[string]string{
		"TOKEN_SOURCE":                "cloudbase",
		"CLOUDBASE_ACCESS_TOKEN_FILE": tokenFile,
		"WX_API_BASE":                 upURL,
		"TOKEN_STORE":                 "memory://",
		"API_KEYS":                    fleetKey,
		// Each request must reach WeChat: the same image is sent again and again.
		"RESULT_CACHE_TTL": "0",
	}
	m := newTestMain(t, env)
	srv := httptest.NewServer(m.Handler)
	defer srv.Close()

	recognise := func(what string) {
		t.Helper()
		body := `{"fileId":"` + SandboxFileID("cards/front.png") + `"}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/idcard", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fleetKey)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&r)
		if resp.StatusCode != 200 || r["ok"] != true {
			t.Fatalf("%s: %d %v", what, resp.StatusCode, r)
		}
	}
	recognise("token from the file")
	st := emu.Stats()
	if st.Calls[emulator.PathBatchDL] != 1 || st.Calls[emulator.PathOCRIDCard] != 1 {
		t.Fatalf("calls %v, want one download and one OCR", st.Calls)
	}

	// CloudBase pushes a new token and the old one stops working.
	emu.Revoke()
	push(emu.IssueCloudBaseToken(0))
	recognise("after the token file changed")
	st = emu.Stats()
	if st.Calls[emulator.PathStableToken] != 0 || st.Calls[emulator.PathToken] != 0 || st.TokensIssued != 0 {
		t.Fatalf("a WeChat token endpoint was called with TOKEN_SOURCE=cloudbase: %+v", st)
	}

	// Rejected with no new token pushed: a clear UPSTREAM_AUTH, not a loop.
	emu.Revoke()
	body := `{"fileId":"` + SandboxFileID("cards/front.png") + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/idcard", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fleetKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	if r.Error.Code != "UPSTREAM_AUTH" {
		t.Fatalf("rejected token, none newer: %d %q, want UPSTREAM_AUTH", resp.StatusCode, r.Error.Code)
	}
}
