package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// startServe runs `serve --sandbox` with extra environment and returns its base URL.
func startServe(t *testing.T, extra ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--sandbox", "--addr", "127.0.0.1:0")
	cmd.Env = baseEnv(extra...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var base string
	deadline := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "ID-card OCR sandbox on ") {
			base = strings.TrimPrefix(line, "ID-card OCR sandbox on ")
			break
		}
	}
	deadline.Stop()
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if base == "" {
		t.Fatalf("no address in the banner; stderr:\n%s", stderr.String())
	}
	return base
}

func checkStatus(m map[string]any, name string) string {
	checks, _ := m["checks"].([]any)
	for _, c := range checks {
		if c := c.(map[string]any); c["name"] == name {
			return c["status"].(string)
		}
	}
	return ""
}

// OCR_PROVIDER=tencent end to end: the binary's sandbox signs IDCardOCR calls that the
// emulator verifies; fields WeChat cannot read are there, warnings become checks, and the
// verdict follows them.
func TestServeSandboxTencentProvider(t *testing.T) {
	base := startServe(t, "OCR_PROVIDER=tencent")

	both := fmt.Sprintf(`{"front":{"fileId":%q},"back":{"fileId":%q}}`,
		SandboxFileID("cards/front.png"), SandboxFileID("cards/back.png"))
	status, m := postJSON(t, base+"/v1/idcard", both)
	if status != 200 || m["provider"] != "tencent" || m["verdict"] != "pass" {
		t.Fatalf("both sides: %d %v", status, m)
	}
	card := m["card"].(map[string]any)
	want := map[string]any{
		"name": "张三", "gender": "female", "ethnicity": "汉", "birthDate": "1995-05-13",
		"address": "广东省深圳市南山区粤海街道科技园路1号", "idNumber": "440305199505132561",
		"authority": "深圳市公安局南山分局", "validFrom": "2019-03-08", "validTo": "2029-03-08", "longTerm": false,
	}
	for k, v := range want {
		if card[k] != v {
			t.Errorf("card.%s = %v, want %v", k, card[k], v)
		}
	}
	for name, st := range map[string]string{
		"birth_consistent": "pass", "not_photocopy": "pass", "not_reshoot": "pass", "not_edited": "pass",
		"not_temporary": "pass", "back_complete": "pass",
	} {
		if got := checkStatus(m, name); got != st {
			t.Errorf("check %s = %q, want %q", name, got, st)
		}
	}
	seen := map[string]int{}
	for _, c := range m["checks"].([]any) {
		seen[c.(map[string]any)["name"].(string)]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("check %s appears %d times", name, n)
		}
	}
	if _, ok := m["portrait"]; ok {
		t.Error("a portrait was returned without being asked for")
	}

	for _, c := range []struct{ file, check, status, verdict string }{
		{"cards/front-photocopy.png", "not_photocopy", "fail", "reject"},
		{"cards/front-reshoot.png", "not_reshoot", "fail", "reject"},
		{"cards/front-temporary.png", "not_temporary", "warn", "review"},
	} {
		status, m := postJSON(t, base+"/v1/idcard", fmt.Sprintf(`{"fileId":%q,"side":"front"}`, SandboxFileID(c.file)))
		if status != 200 || checkStatus(m, c.check) != c.status || m["verdict"] != c.verdict {
			t.Errorf("%s: %d check %s=%q verdict %v, want %s %s", c.file, status, c.check, checkStatus(m, c.check), m["verdict"], c.status, c.verdict)
		}
	}

	status, m = postJSON(t, base+"/v1/idcard", fmt.Sprintf(`{"fileId":%q,"portrait":true}`, SandboxFileID("cards/front.png")))
	if p, _ := m["portrait"].(string); status != 200 || len(p) < 100 {
		t.Fatalf("portrait asked: %d, %d characters", status, len(p))
	}

	// The same server with WeChat as the provider reads no authority and no signals.
	wx := startServe(t, "OCR_PROVIDER=wechat")
	_, m = postJSON(t, wx+"/v1/idcard", both)
	if m["provider"] != "wechat" || m["card"].(map[string]any)["authority"] != nil || checkStatus(m, "not_photocopy") != "" {
		t.Fatalf("wechat: %v", m)
	}
}

// A cloud call carries the role's keys in its invocation Environment; they win over the keys
// found at start. Wrong ones are refused by the emulator's signature check and answered
// UPSTREAM_AUTH.
func TestInvokeTencentUsesInvocationKeys(t *testing.T) {
	run := func(key string) map[string]any {
		t.Helper()
		cmd := exec.Command(binPath, "invoke", "--sandbox", "--event", "../testdata/events/callfunction-fileid.json",
			"--env", "TENCENTCLOUD_SECRETID="+emulator.DefaultTencentSecretID, "--env", "TENCENTCLOUD_SECRETKEY="+key)
		cmd.Env = baseEnv("OCR_PROVIDER=tencent")
		out, _ := cmd.Output()
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invoke output %q: %v", out, err)
		}
		return m
	}
	m := run("wrong-secret-key")
	e, _ := m["error"].(map[string]any)
	up, _ := e["upstream"].(map[string]any)
	if m["ok"] != false || e["code"] != "UPSTREAM_AUTH" || up["provider"] != "tencent" || up["code"] != "AuthFailure.SignatureFailure" {
		t.Fatalf("wrong keys: %v", m)
	}
	if strings.Contains(fmt.Sprint(m), "wrong-secret-key") {
		t.Fatal("the answer shows the secret key")
	}
	if m := run(emulator.DefaultTencentSecretKey); m["ok"] != true || m["provider"] != "tencent" {
		t.Fatalf("right keys: %v", m)
	}
}
