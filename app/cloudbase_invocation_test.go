package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// A CloudBase access token handed to one invocation (WX_CLOUDBASE_ACCESSTOKEN in the
// invocation context; X-WX-CLOUDBASE-ACCESS-TOKEN behind Cloud Hosting) reaches WeChat as
// cloudbase_access_token= over real HTTP: download URL and OCR succeed with no pushed file and
// no appsecret; without it there is no token; when WeChat refuses it, the call is retried once
// with the pushed file's token.
func TestInvocationCloudBaseTokenEndToEnd(t *testing.T) {
	emu, upURL := startEmulator(t)
	file := filepath.Join(t.TempDir(), "cloudbase_access_token") // not pushed yet

	tokens, err := token.New(context.Background(), token.Config{Source: token.SourceCloudBase, CloudBaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	client, err := wechat.New(tokens, wechat.WithBaseURL(upURL), wechat.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	recognise := func(ctx context.Context) error {
		urls, err := client.BatchDownloadFile(ctx, "sandbox", []string{SandboxFileID("cards/front.png")}, 10*time.Minute)
		if err != nil {
			return err
		}
		card, err := client.IDCardByURL(ctx, urls[0].DownloadURL, "")
		if err == nil && card.ID == "" {
			t.Fatalf("no number read: %+v", card)
		}
		return err
	}

	ctx := token.WithInvocationToken(context.Background(), emu.IssueCloudBaseToken(0))
	if err := recognise(ctx); err != nil {
		t.Fatalf("with the invocation's token: %v", err)
	}
	if err := recognise(context.Background()); !errors.Is(err, token.ErrNoToken) {
		t.Fatalf("without any token: %v, want ErrNoToken", err)
	}

	// The invocation's token is refused (revoked); the platform has pushed a fresh one.
	emu.Revoke()
	if err := os.WriteFile(file, []byte(emu.IssueCloudBaseToken(0)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := recognise(ctx); err != nil {
		t.Fatalf("refused invocation token, fresh file: %v", err)
	}
	st := emu.Stats()
	if st.Calls[emulator.PathStableToken] != 0 || st.Calls[emulator.PathToken] != 0 {
		t.Fatalf("a WeChat token endpoint was called: %v", st.Calls)
	}
	// 2 successful recognitions = 2 downloads + 2 OCR, plus the refused download that was retried.
	if st.Calls[emulator.PathBatchDL] != 3 || st.Calls[emulator.PathOCRIDCard] != 2 {
		t.Fatalf("calls %v", st.Calls)
	}
}

// The same through the function's entry point: a cloud call whose invocation context carries
// WX_CLOUDBASE_ACCESSTOKEN (as CloudBase sets context keys, listed in WX_CONTEXT_KEYS) is
// recognised with TOKEN_SOURCE=cloudbase and no pushed file; the same event without the
// context key answers UPSTREAM_AUTH.
func TestCloudCallWithInvocationCloudBaseToken(t *testing.T) {
	emu, upURL := startEmulator(t)
	env := map[string]string{
		"TOKEN_SOURCE":                "cloudbase",
		"CLOUDBASE_ACCESS_TOKEN_FILE": filepath.Join(t.TempDir(), "absent"),
		"WX_API_BASE":                 upURL,
		"TOKEN_STORE":                 "memory://",
		// Each call must reach WeChat: the same image is sent again and again.
		"RESULT_CACHE_TTL": "0",
	}
	m := newTestMain(t, env)
	event, err := os.ReadFile("../testdata/events/callfunction-fileid.json")
	if err != nil {
		t.Fatal(err)
	}
	call := func(environment map[string]string) map[string]any {
		t.Helper()
		ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{RequestID: "r1", Environment: environment})
		out, err := m.Handler.Invoke(ctx, event)
		if err != nil {
			t.Fatal(err)
		}
		var r map[string]any
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	caller := map[string]string{
		"WX_CONTEXT_KEYS":          "WX_OPENID,WX_APPID,WX_CLOUDBASE_ACCESSTOKEN",
		"WX_OPENID":                "oUser-invocation-token",
		"WX_APPID":                 "wx0000000000000000",
		"WX_CLOUDBASE_ACCESSTOKEN": emu.IssueCloudBaseToken(0),
	}
	if r := call(caller); r["ok"] != true {
		t.Fatalf("cloud call with the invocation's CloudBase token: %v", r)
	}
	delete(caller, "WX_CLOUDBASE_ACCESSTOKEN")
	caller["WX_CONTEXT_KEYS"] = "WX_OPENID,WX_APPID"
	r := call(caller)
	if e, _ := r["error"].(map[string]any); r["ok"] != false || e["code"] != "UPSTREAM_AUTH" {
		t.Fatalf("cloud call without a token anywhere: %v, want UPSTREAM_AUTH", r)
	}
}

// Behind Cloud Hosting (CLOUD_HOSTING=true) a callContainer request carries WeChat's
// per-request X-WX-CLOUDBASE-ACCESS-TOKEN: with TOKEN_SOURCE=cloudbase and no pushed file it
// is what the WeChat calls use. The header is honoured only on a trusted callContainer
// request: with CLOUD_HOSTING=false, or without X-WX-SOURCE, it is ignored (a client could
// otherwise make the function spend someone else's token), so the call has no token.
func TestCloudHostingRequestToken(t *testing.T) {
	emu, upURL := startEmulator(t)
	serve := func(cloudHosting string) *httptest.Server {
		env := map[string]string{
			"TOKEN_SOURCE":                "cloudbase",
			"CLOUDBASE_ACCESS_TOKEN_FILE": filepath.Join(t.TempDir(), "absent"),
			"WX_API_BASE":                 upURL,
			"TOKEN_STORE":                 "memory://",
			"API_KEYS":                    fleetKey,
			"CLOUD_HOSTING":               cloudHosting,
			"RESULT_CACHE_TTL":            "0",
		}
		m := newTestMain(t, env)
		srv := httptest.NewServer(m.Handler)
		t.Cleanup(srv.Close)
		return srv
	}
	post := func(srv *httptest.Server, headers map[string]string) (int, map[string]any) {
		t.Helper()
		body := `{"fileId":"` + SandboxFileID("cards/front.png") + `","side":"front"}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/idcard", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	wxToken := emu.IssueCloudBaseToken(0)
	platform := map[string]string{
		"X-WX-SOURCE":                 "wx_client",
		"X-WX-OPENID":                 "oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE",
		"X-WX-APPID":                  "wxsandbox0000000001",
		"X-WX-CLOUDBASE-ACCESS-TOKEN": wxToken,
	}
	behind := serve("true")
	if status, r := post(behind, platform); status != 200 || r["ok"] != true {
		t.Fatalf("callContainer with the platform's token: %d %v", status, r)
	}

	wantNoToken := func(what string, status int, r map[string]any) {
		t.Helper()
		e, _ := r["error"].(map[string]any)
		if status == 200 || e["code"] != "UPSTREAM_AUTH" {
			t.Fatalf("%s: %d %v, want UPSTREAM_AUTH (the header must be ignored)", what, status, r)
		}
	}
	// Same server, an API-key request (no X-WX-SOURCE) that smuggles the header.
	status, r := post(behind, map[string]string{"Authorization": "Bearer " + fleetKey, "X-WX-CLOUDBASE-ACCESS-TOKEN": wxToken})
	wantNoToken("keyed request without X-WX-SOURCE", status, r)
	// Not behind Cloud Hosting: every X-WX-* header is the client's.
	headers := map[string]string{"Authorization": "Bearer " + fleetKey}
	for k, v := range platform {
		headers[k] = v
	}
	status, r = post(serve("false"), headers)
	wantNoToken("CLOUD_HOSTING=false", status, r)
}
