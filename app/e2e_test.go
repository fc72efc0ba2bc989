package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// These tests run the real binary as a new user or SCF would: built once, started as a
// process, spoken to over loopback.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idcard-ocr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "main")
	build := exec.Command("go", "build", "-o", binPath, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// baseEnv is a minimal environment for the binary: no inherited WX_* or TOKEN_* settings.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LOG_LEVEL=warn"}, extra...)
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return resp.StatusCode, m
}

func TestServeSandboxEndToEnd(t *testing.T) {
	cmd := exec.Command(binPath, "serve", "--sandbox", "--addr", "127.0.0.1:0")
	cmd.Env = baseEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	// The banner names the address, says auth is off, and gives a curl command.
	sc := bufio.NewScanner(stdout)
	var banner []string
	var base, curlBody string
	deadline := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	for sc.Scan() {
		line := sc.Text()
		banner = append(banner, line)
		if strings.HasPrefix(line, "ID-card OCR sandbox on ") {
			base = strings.TrimPrefix(line, "ID-card OCR sandbox on ")
		}
		if i := strings.Index(line, "-d '"); i >= 0 && curlBody == "" {
			curlBody = strings.TrimSuffix(line[i+4:], "'")
			break
		}
	}
	deadline.Stop()
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	text := strings.Join(banner, "\n")
	if base == "" || curlBody == "" {
		t.Fatalf("no address or curl command in banner:\n%s\nstderr:\n%s", text, stderr.String())
	}
	if !strings.Contains(text, "AUTH IS OFF") {
		t.Errorf("banner does not say auth is off:\n%s", text)
	}

	status, m := postJSON(t, base+"/v1/idcard", curlBody)
	if status != 200 || m["ok"] != true {
		t.Fatalf("sample card: %d %v", status, m)
	}
	card := m["card"].(map[string]any)
	if card["idNumber"] != "440305199505132561" || m["verdict"] != "pass" || m["side"] != "front" {
		t.Errorf("sample card answered %v", m)
	}

	// Both sides of the sample card: cross-side checks run and pass.
	both := fmt.Sprintf(`{"front":{"fileId":%q},"back":{"fileId":%q}}`,
		SandboxFileID("cards/front.png"), SandboxFileID("cards/back.png"))
	status, m = postJSON(t, base+"/v1/idcard", both)
	if status != 200 || m["side"] != "both" || m["verdict"] != "pass" {
		t.Fatalf("both sides: %d %v", status, m)
	}

	// Every sample pair gets the verdict its README promises.
	for _, c := range []struct{ front, back, verdict, failed string }{
		{"cards/front-senior.png", "cards/back-longterm.png", "pass", ""},
		{"cards/front.png", "cards/back-expired.png", "reject", "not_expired"},
		// partial recognitions are never pass (issue 7 §3)
		{"cards/front-empty.png", "cards/back.png", "reject", "front_complete"},
		{"cards/front-no-number.png", "cards/back.png", "reject", "front_complete"},
		{"cards/front.png", "cards/back-no-validity.png", "reject", "back_complete"},
	} {
		body := fmt.Sprintf(`{"front":{"fileId":%q},"back":{"fileId":%q}}`, SandboxFileID(c.front), SandboxFileID(c.back))
		status, m := postJSON(t, base+"/v1/idcard", body)
		if status != 200 || m["verdict"] != c.verdict {
			t.Errorf("%s + %s: %d %v, want verdict %s", c.front, c.back, status, m, c.verdict)
			continue
		}
		if c.failed == "" {
			continue
		}
		found := false
		checks, _ := m["checks"].([]any)
		for _, ch := range checks {
			if ch, _ := ch.(map[string]any); ch["name"] == c.failed && ch["status"] == "fail" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s + %s: check %s did not fail: %v", c.front, c.back, c.failed, checks)
		}
	}
	if status, m := postJSON(t, base+"/v1/idcard", fmt.Sprintf(`{"fileId":%q}`, SandboxFileID("cards/front-bad-checksum.png"))); status != 200 || m["verdict"] != "reject" {
		t.Errorf("bad checksum: %d %v", status, m)
	}

	// The graceful stop: SIGTERM, exit 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	// Logs never carry the full ID number or the holder's name.
	if strings.Contains(stderr.String(), "440305199505132561") || strings.Contains(stderr.String(), "张三") {
		t.Errorf("logs leak personal data:\n%s", stderr.String())
	}
}

func runBin(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestInvokeSandboxEvents(t *testing.T) {
	cases := []struct {
		event string
		check func(t *testing.T, out map[string]any)
	}{
		{"callfunction-fileid.json", func(t *testing.T, out map[string]any) {
			if out["ok"] != true || out["side"] != "front" {
				t.Errorf("answer %v", out)
			}
		}},
		{"callfunction-both-sides.json", func(t *testing.T, out map[string]any) {
			// The back is an https URL on the internet, which the sandbox cannot reach.
			if out["ok"] != false {
				t.Errorf("answer %v", out)
			}
		}},
		{"apigw-post-idcard.json", func(t *testing.T, out map[string]any) {
			if out["statusCode"] != 200.0 || out["isBase64Encoded"] != false {
				t.Fatalf("integration response %v", out)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(out["body"].(string)), &body); err != nil || body["ok"] != true {
				t.Errorf("body %v (%v)", out["body"], err)
			}
		}},
		{"timer.json", func(t *testing.T, out map[string]any) {
			rep, _ := out["refresh"].(map[string]any)
			if out["ok"] != true || rep["refreshed"] != true || rep["source"] != "stable" {
				t.Errorf("timer answer %v", out)
			}
		}},
		{"malformed-callfunction-two-images.json", func(t *testing.T, out map[string]any) {
			e, _ := out["error"].(map[string]any)
			if out["ok"] != false || e["code"] != "INVALID_REQUEST" {
				t.Errorf("answer %v", out)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.event, func(t *testing.T) {
			code, stdout, stderr := runBin(t, baseEnv(), "", "invoke", "--sandbox", "--event", filepath.Join("..", "testdata", "events", c.event))
			var out map[string]any
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("exit %d, stdout %q: %v\nstderr:\n%s", code, stdout, err, stderr)
			}
			if code != 0 {
				t.Errorf("exit %d", code)
			}
			c.check(t, out)
			if strings.Contains(stdout+stderr, "access_token=") {
				t.Errorf("a token URL leaked:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// TestSCFRuntime speaks scf-go-lib's RPC protocol to the binary, as the Go1 runtime does.
func TestSCFRuntime(t *testing.T) {
	emu, upURL := startEmulator(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	cmd := exec.Command(binPath)
	cmd.Env = baseEnv(
		fmt.Sprintf("_LAMBDA_SERVER_PORT=%d", port),
		"WX_APPID="+emulator.DefaultAppID,
		"WX_APPSECRET="+emulator.DefaultSecret,
		"WX_API_BASE="+upURL,
		"TOKEN_STORE=file://"+filepath.Join(t.TempDir(), "token.json"),
		"API_KEYS=k-0123456789abcdef",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var client *rpc.Client
	for i := 0; i < 100; i++ {
		if client, err = rpc.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if client == nil {
		t.Fatalf("runtime never listened: %v\nstderr:\n%s", err, stderr.String())
	}
	defer client.Close()

	invoke := func(payload string, environment map[string]string) map[string]any {
		t.Helper()
		envJSON, _ := json.Marshal(environment)
		dl := time.Now().Add(10 * time.Second)
		req := messages.InvokeRequest{
			Payload:     []byte(payload),
			RequestId:   "5f1c3a4e-0000-4000-8000-000000000001",
			Deadline:    messages.InvokeRequest_Timestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())},
			Environment: string(envJSON),
		}
		var resp messages.InvokeResponse
		if err := client.Call("Function.Invoke", &req, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Error != nil {
			t.Fatalf("invoke error: %+v", resp.Error)
		}
		var m map[string]any
		if err := json.Unmarshal(resp.Payload, &m); err != nil {
			t.Fatalf("payload %q: %v", resp.Payload, err)
		}
		return m
	}

	// A cloud call with a fileID, caller identity in the invocation Environment.
	m := invoke(fmt.Sprintf(`{"fileId":%q}`, SandboxFileID("cards/front.png")),
		map[string]string{"WX_OPENID": "oUser1", "WX_APPID": emulator.DefaultAppID, "WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID"})
	if m["ok"] != true || m["requestId"] != "5f1c3a4e-0000-4000-8000-000000000001" {
		t.Fatalf("cloud call: %v", m)
	}
	// A timer: the token is already fresh from the call above, so nothing is refreshed.
	m = invoke(`{"Type":"Timer","TriggerName":"refresh-token","Time":"2026-11-26T13:30:00Z","Message":"refresh-token"}`, nil)
	if rep, _ := m["refresh"].(map[string]any); m["ok"] != true || rep["refreshed"] != false {
		t.Fatalf("timer: %v", m)
	}
	// A Function URL request without a key is refused, in the integration-response shape.
	m = invoke(`{"body":"{}","headers":{"content-type":"application/json"},"httpMethod":"POST","path":"/v1/idcard","queryString":{}}`, nil)
	if m["statusCode"] != 401.0 {
		t.Fatalf("unauthenticated HTTP event: %v", m)
	}
	if got := emu.Stats().Calls[emulator.PathStableToken]; got != 1 {
		t.Errorf("stable_token calls = %d, want 1", got)
	}
}

func TestCommandLine(t *testing.T) {
	env := baseEnv()
	if code, out, _ := runBin(t, env, "", "version"); code != 0 || !strings.HasPrefix(out, "scf-idcard-ocr ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := runBin(t, env, ""); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no arguments outside SCF: %d %q", code, errOut)
	}
	if code, _, _ := runBin(t, env, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
	for _, c := range []string{"serve", "invoke", "emulator", "refresh-token", "validate", "version"} {
		code, out, errOut := runBin(t, env, "", c, "--help")
		if code != 0 || !strings.Contains(out+errOut, "Usage: scf-idcard-ocr "+c) {
			t.Errorf("%s --help: %d %q %q", c, code, out, errOut)
		}
	}
	if code, _, errOut := runBin(t, env, "", "invoke"); code != 2 || !strings.Contains(errOut, "--event") {
		t.Errorf("invoke without --event: %d %q", code, errOut)
	}
}

// Without API_KEYS the function still starts (cloud calls need no key) and says so once, and
// accurately: /healthz stays open.
func TestEmptyAPIKeysWarnedOnce(t *testing.T) {
	code, _, errOut := runBin(t, baseEnv("WX_APPID=wx1234567890abcdef", "WX_APPSECRET=s3cr3t-app-secret-value"), "", "serve", "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(errOut, "API_KEYS"); n != 1 {
		t.Errorf("the API_KEYS warning appears %d times, want once:\n%s", n, errOut)
	}
	if strings.Contains(errOut, "every HTTP request") || !strings.Contains(errOut, "/healthz") {
		t.Errorf("the warning misstates what is refused:\n%s", errOut)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	code, _, errOut := runBin(t, baseEnv("MAX_IMAGE_BYTES=lots"), "", "serve", "--print-config")
	if code != 2 || !strings.Contains(errOut, "MAX_IMAGE_BYTES") || !strings.Contains(errOut, "WX_APPID") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	secret := "s3cr3t-app-secret-value"
	key := "api-key-0123456789abcdef"
	code, out, errOut := runBin(t, baseEnv("WX_APPID=wx1234567890abcdef", "WX_APPSECRET="+secret, "API_KEYS="+key,
		"TOKEN_STORE=redis://:redispass123@127.0.0.1:6379/0"), "", "serve", "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{secret, key, "redispass123"} {
		if strings.Contains(out, s) {
			t.Errorf("--print-config shows a secret %q:\n%s", s, out)
		}
	}
	for _, name := range []string{"WX_APPID", "WX_APPSECRET", "API_KEYS", "TOKEN_STORE", "MAX_IMAGE_BYTES"} {
		if !strings.Contains(out, name) {
			t.Errorf("--print-config lacks %s:\n%s", name, out)
		}
	}
}

func TestRefreshTokenSandbox(t *testing.T) {
	code, out, errOut := runBin(t, baseEnv(), "", "refresh-token", "--sandbox")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if rep["refreshed"] != true || rep["source"] != "stable" || rep["expiresAt"] == nil || len(rep) != 3 {
		t.Errorf("report %v", rep)
	}
}
