package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/config"
	"github.com/wxocr/scf-idcard-ocr/emulator"
)

func dockerfile(t *testing.T) *Dockerfile {
	t.Helper()
	d, err := ParseDockerfile(readFile(t, "../Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// imageRun is how the image starts the binary: ENTRYPOINT + CMD, the final stage's ENV,
// USER, and the port it listens on.
type imageRun struct {
	argv     []string
	env      map[string]string
	uid, gid int
	port     int
}

func imageContract(t *testing.T, d *Dockerfile) imageRun {
	t.Helper()
	final := d.Final()
	var r imageRun
	ep, ok := final.Last("ENTRYPOINT")
	if !ok {
		t.Fatal("no ENTRYPOINT")
	}
	cmd, ok := final.Last("CMD")
	if !ok {
		t.Fatal("no CMD")
	}
	a, err := ExecForm(ep)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ExecForm(cmd)
	if err != nil {
		t.Fatal(err)
	}
	r.argv = append(a, b...)
	if r.env, err = final.Env(); err != nil {
		t.Fatal(err)
	}
	user, ok := final.Last("USER")
	if !ok {
		t.Fatal("no USER: the image would run as root")
	}
	u, g, _ := strings.Cut(user.Args, ":")
	if r.uid, err = strconv.Atoi(u); err != nil {
		t.Fatalf("USER %q: use a numeric uid, so the platform can tell it is not root without /etc/passwd", user.Args)
	}
	if r.gid, err = strconv.Atoi(g); err != nil {
		t.Fatalf("USER %q: give the numeric group too", user.Args)
	}
	i := slices.Index(r.argv, "--addr")
	if i < 0 || i+1 >= len(r.argv) {
		t.Fatalf("command %v does not set --addr", r.argv)
	}
	_, p, err := net.SplitHostPort(r.argv[i+1])
	if err != nil {
		t.Fatal(err)
	}
	r.port, _ = strconv.Atoi(p)
	return r
}

func TestDockerfileInstructions(t *testing.T) {
	d := dockerfile(t)
	if len(d.Stages) < 2 {
		t.Fatalf("%d stages: build in one, run in a small one", len(d.Stages))
	}
	build := d.Stages[0]
	if build.Name == "" || !strings.HasPrefix(build.Image, "golang:") {
		t.Errorf("build stage %q from %q", build.Name, build.Image)
	}
	var goBuild string
	for _, in := range build.All("RUN") {
		if strings.Contains(in.Args, "go build") {
			goBuild = in.Args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "-trimpath", "-s -w", "-o /out/main"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build step %q lacks %q", goBuild, want)
		}
	}

	final := d.Final()
	if strings.HasPrefix(final.Image, "golang:") {
		t.Errorf("runtime image %q carries the toolchain", final.Image)
	}
	var copied, certs, setcap bool
	for _, in := range final.All("COPY") {
		copied = copied || strings.Contains(in.Args, "--from="+build.Name) && strings.Contains(in.Args, "/out/main /app/main")
	}
	for _, in := range final.All("RUN") {
		certs = certs || strings.Contains(in.Args, "ca-certificates")
		setcap = setcap || strings.Contains(in.Args, "setcap cap_net_bind_service=+ep /app/main")
	}
	if !copied || !certs || !setcap {
		t.Errorf("final stage: binary copied from %s %v, CA certificates %v, bind capability %v", build.Name, copied, certs, setcap)
	}

	run := imageContract(t, d)
	if run.uid == 0 || run.gid == 0 {
		t.Errorf("USER %d:%d is root", run.uid, run.gid)
	}
	if !slices.Equal(run.argv, []string{"/app/main", "serve", "--addr", "0.0.0.0:80"}) {
		t.Errorf("command %v", run.argv)
	}
	expose, _ := final.Last("EXPOSE")
	if expose.Args != strconv.Itoa(run.port) || run.port != 80 {
		t.Errorf("EXPOSE %q, listening on %d: Cloud Hosting's default container port is 80", expose.Args, run.port)
	}
	// The image's environment is a valid configuration on its own.
	if _, err := config.FromEnv(func(k string) string { return run.env[k] }); err != nil {
		t.Errorf("the image's ENV does not configure the function: %v", err)
	}
	if run.env["TOKEN_SOURCE"] != "none" || run.env["WX_API_BASE"] != "http://api.weixin.qq.com" || run.env["CLOUD_HOSTING"] != "true" {
		t.Errorf("image ENV %v: the documented Cloud Hosting set-up is the open interface service", run.env)
	}

	// container.config.json agrees with the Dockerfile.
	var cc struct {
		ContainerPort int               `json:"containerPort"`
		MinNum        int               `json:"minNum"`
		MaxNum        int               `json:"maxNum"`
		CPU           float64           `json:"cpu"`
		Mem           float64           `json:"mem"`
		EnvParams     map[string]string `json:"envParams"`
	}
	if err := json.Unmarshal(readFile(t, "../container.config.json"), &cc); err != nil {
		t.Fatal(err)
	}
	if cc.ContainerPort != run.port {
		t.Errorf("containerPort %d, the image listens on %d", cc.ContainerPort, run.port)
	}
	for k, v := range cc.EnvParams {
		if iv, ok := run.env[k]; ok && iv != v {
			t.Errorf("envParams %s=%q but the image sets %q", k, v, iv)
		}
	}
	if cc.MinNum < 0 || cc.MaxNum < 1 || cc.MaxNum > 50 || cc.MinNum > cc.MaxNum {
		t.Errorf("replicas %d-%d (Cloud Hosting allows 0-50)", cc.MinNum, cc.MaxNum)
	}
	// The CPU/memory pairs Cloud Hosting sells (@cloudbase/cli 2.12.10, CPU_MEM_OPTS).
	pairs := map[float64]float64{0.25: 0.5, 0.5: 1, 1: 2, 2: 4, 4: 8, 8: 16, 16: 32}
	if pairs[cc.CPU] != cc.Mem {
		t.Errorf("cpu %v mem %v is not a sold combination", cc.CPU, cc.Mem)
	}
}

func TestContainerConfigKeys(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(readFile(t, "../container.config.json"), &raw); err != nil {
		t.Fatal(err)
	}
	// Keys of the Go template's container.config.json (WeixinCloud/wxcloudrun-golang) and of
	// @cloudbase/cli's container inputs schema (IFrameworkPluginContainerInputs).
	known := []string{"containerPort", "minNum", "maxNum", "cpu", "mem", "policyType", "policyThreshold",
		"policyDetails", "envParams", "customLogs", "dataBaseName", "executeSQLs", "initialDelaySeconds",
		"dockerfilePath", "buildDir", "flowRatio", "versionRemark"}
	for k := range raw {
		if !slices.Contains(known, k) {
			t.Errorf("container.config.json: unknown key %q", k)
		}
	}
}

func TestParseDockerfileRejects(t *testing.T) {
	for name, src := range map[string]string{
		"no FROM":           "RUN true\n",
		"open continuation": "FROM a\nRUN x \\\n",
		"heredoc":           "FROM a\nRUN <<EOF\nx\nEOF\n",
		"bad FROM":          "FROM a b\n",
	} {
		if _, err := ParseDockerfile([]byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := ParseDockerfile([]byte("# c\nFROM golang AS b\nRUN a \\\n  # inside\n  b\nFROM alpine\nCMD [\"x\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Stages) != 2 || d.Stages[0].Name != "b" || d.Stages[0].Instructions[0].Args != "a    b" {
		t.Fatalf("%+v", d.Stages)
	}
	if _, err := ExecForm(Instruction{Cmd: "CMD", Args: "serve --addr :80"}); err == nil {
		t.Error("shell-form CMD accepted")
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds the function as the Dockerfile's build stage does and returns its path, in a
// directory any user may read and execute from.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deploy-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "main")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", builtBin, ".")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildErr = os.Chmod(dir, 0o755)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs cmd and stops it when the test ends; its output goes to the test log.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log("process: " + sc.Text())
		}
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
	})
}

// waitHealthy polls GET /healthz until it answers 200, within 10 s.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/healthz never answered 200: last error %v", base, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

const testAPIKey = "deploy-test-key-0123456789"

// The container contract without a Docker engine: the binary built as the build stage
// builds it, given the capability the final stage gives it, started with the image's
// command, environment and user, on the image's port. It must listen, report healthy and
// recognise a card through WeChat's open interface (no token on any call).
func TestContainerContract(t *testing.T) {
	run := imageContract(t, dockerfile(t))
	bin := binary(t)

	emu := emulator.New(emulator.Options{Files: emulator.SampleFiles(), OpenInterface: true})
	up := httptest.NewServer(emu.Handler())
	defer up.Close()

	argv := slices.Clone(run.argv)
	argv[0] = bin // the image's /app/main
	port := run.port
	asImageUser := os.Geteuid() == 0
	if asImageUser {
		// Same file capability as the image; without it the unprivileged user cannot bind 80.
		if out, err := exec.Command("setcap", "cap_net_bind_service=+ep", bin).CombinedOutput(); err != nil {
			t.Logf("setcap unavailable (%v: %s): running on a free port instead of %d", err, out, port)
			asImageUser = false
		}
	}
	if asImageUser {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
			t.Logf("port %d is taken here (%v): running on a free port instead", port, err)
			asImageUser = false
		} else {
			l.Close()
		}
	}
	if !asImageUser {
		// Not root here: the user switch and the low port cannot be reproduced, the rest can.
		port = freePort(t)
		argv[slices.Index(argv, "--addr")+1] = fmt.Sprintf("0.0.0.0:%d", port)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}
	for k, v := range run.env {
		if k == "WX_API_BASE" {
			v = up.URL // the emulator stands in for http://api.weixin.qq.com
		}
		env = append(env, k+"="+v)
	}
	cmd.Env = append(env, "API_KEYS="+testAPIKey)
	if asImageUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(run.uid), Gid: uint32(run.gid)}}
	}
	startProcess(t, cmd)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy(t, base)

	if asImageUser {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "Uid:" && f[2] != strconv.Itoa(run.uid) {
				t.Fatalf("process runs as uid %s, want %d", f[2], run.uid)
			}
		}
	}

	body := `{"fileId":"cloud://sandbox.7361-sandbox-1250000000/cards/front.png"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/idcard", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		OK   bool `json:"ok"`
		Card struct {
			IDNumber string `json:"idNumber"`
		} `json:"card"`
	}
	if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 || !r.OK || r.Card.IDNumber == "" {
		t.Fatalf("recognise through the open interface: %d %s", resp.StatusCode, b)
	}

	// A wx.cloud.callContainer request as the platform forwards it (testdata/requests, from
	// WeChat's docs): no API key, the caller in X-WX-* headers, trusted because the image says
	// CLOUD_HOSTING=true.
	raw, err := os.ReadFile("../testdata/requests/cloudhosting-callcontainer.http")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ccBody, err := io.ReadAll(cc.Body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(cc.Method, base+cc.URL.Path, bytes.NewReader(ccBody))
	req.Header = cc.Header.Clone()
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || !bytes.Contains(b, []byte(`"ok":true`)) {
		t.Fatalf("callContainer request without an API key: %d %s", resp2.StatusCode, b)
	}
	// The same body with neither X-WX-* headers nor a key is refused.
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/idcard", bytes.NewReader(ccBody))
	req.Header.Set("Content-Type", "application/json")
	resp3, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key, no platform headers: %d, want 401", resp3.StatusCode)
	}

	st := emu.Stats()
	if st.Calls[emulator.PathStableToken] != 0 || st.Calls[emulator.PathToken] != 0 || st.Calls[emulator.PathOCRIDCard] != 2 {
		t.Fatalf("upstream calls %v: the open interface needs no token endpoint", st.Calls)
	}
	t.Logf("served as the image would: uid %d, port %d (image user and port reproduced: %v)", run.uid, port, asImageUser)
}

// scf_bootstrap starts the binary next to it whatever the working directory, listening on
// 0.0.0.0:9000 unless a later --addr says otherwise.
func TestSCFBootstrapFromAnotherDirectory(t *testing.T) {
	script := readFile(t, "../scf_bootstrap")
	if !strings.HasPrefix(string(script), "#!/bin/bash\n") || !strings.Contains(string(script), "serve --addr 0.0.0.0:9000") {
		t.Fatalf("scf_bootstrap must be a bash script serving on 0.0.0.0:9000:\n%s", script)
	}
	// SCF's 启动文件说明 (docs 583/56126): LF line ends only, and a final LF.
	if bytes.Contains(script, []byte("\r")) || !bytes.HasSuffix(script, []byte("\n")) {
		t.Fatal("scf_bootstrap must use LF line ends and end with one")
	}
	fi, err := os.Stat("../scf_bootstrap")
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("scf_bootstrap is not executable: %v %v", fi.Mode(), err)
	}

	// The zip's layout: main and scf_bootstrap side by side.
	pkg := t.TempDir()
	for name, src := range map[string]string{"main": binary(t), "scf_bootstrap": "../scf_bootstrap"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(filepath.Join(pkg, "scf_bootstrap"), "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--sandbox")
	cmd.Dir = elsewhere
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	startProcess(t, cmd)
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port))

	// And relative to a symlinked or dotted path, as a runtime might invoke it.
	port2 := freePort(t)
	rel, err := filepath.Rel(elsewhere, filepath.Join(pkg, "scf_bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	cmd2 := exec.Command("./"+rel, "--addr", fmt.Sprintf("127.0.0.1:%d", port2), "--sandbox")
	cmd2.Dir = elsewhere
	cmd2.Env = []string{"PATH=/usr/bin:/bin"}
	startProcess(t, cmd2)
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port2))
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}
