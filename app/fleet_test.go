package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
)

// fleet is several `serve` processes of the real binary sharing one Redis token store and
// one emulated WeChat, like SCF instances started cold at the same moment.
type fleet struct {
	emu   *emulator.Emulator
	upURL string // the emulator: WeChat's API base and Tencent Cloud's endpoint
	bases []string
	procs []*exec.Cmd
	logs  []*syncbuf.Buffer
}

const fleetKey = "fleet-key-0123456789abcdef"

// startFleet starts n instances; extra KEY=VALUE settings override the defaults below.
func startFleet(t *testing.T, n int, redisURL string, extra ...string) *fleet {
	t.Helper()
	f := &fleet{emu: emulator.New(emulator.Options{Files: emulator.SampleFiles()})}
	up := httptest.NewServer(f.emu.Handler())
	t.Cleanup(up.Close)
	f.upURL = up.URL
	for i := 0; i < n; i++ {
		cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0")
		cmd.Env = baseEnv(
			"WX_APPID="+emulator.DefaultAppID,
			"WX_APPSECRET="+emulator.DefaultSecret,
			"WX_API_BASE="+up.URL,
			// Tencent Cloud OCR, for OCR_PROVIDER=tencent or auto: the same emulator.
			"OCR_TENCENT_ENDPOINT="+up.URL,
			"TENCENTCLOUD_SECRETID="+emulator.DefaultTencentSecretID,
			"TENCENTCLOUD_SECRETKEY="+emulator.DefaultTencentSecretKey,
			"TOKEN_STORE="+redisURL,
			"API_KEYS="+fleetKey,
			"RATE_LIMIT_PER_MINUTE=0",
			// A load of one caller and one image, each request meant for WeChat: no daily
			// limit, no result cache (the tests that need them turn them on).
			"RATE_LIMIT_PER_DAY=0",
			"RESULT_CACHE_TTL=0",
			"LOG_LEVEL=info",
		)
		cmd.Env = append(cmd.Env, extra...) // exec keeps the last value of a repeated key
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		// The first log line names the address it listens on.
		log := &syncbuf.Buffer{}
		sc := bufio.NewScanner(stderr)
		var base string
		timer := time.AfterFunc(15*time.Second, func() { _ = cmd.Process.Kill() })
		for sc.Scan() {
			line := sc.Text()
			_, _ = log.Write([]byte(line + "\n"))
			if i := strings.Index(line, `"addr":"`); i >= 0 && strings.Contains(line, `"msg":"serving"`) {
				rest := line[i+len(`"addr":"`):]
				base = "http://" + rest[:strings.IndexByte(rest, '"')]
				break
			}
		}
		timer.Stop()
		if base == "" {
			t.Fatalf("instance %d never served:\n%s", i, log)
		}
		go func() { _, _ = io.Copy(log, stderr) }()
		f.bases = append(f.bases, base)
		f.procs = append(f.procs, cmd)
		f.logs = append(f.logs, log)
	}
	return f
}

// load sends perInstance concurrent requests to every instance and returns how many were
// answered 200 ok, and the first failure seen.
func (f *fleet) load(t *testing.T, perInstance int) (ok int64, firstErr string) {
	t.Helper()
	body := fmt.Sprintf(`{"fileId":%q}`, SandboxFileID("cards/front.png"))
	var okN atomic.Int64
	var errOnce sync.Once
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, base := range f.bases {
		for j := 0; j < perInstance; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/idcard", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+fleetKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errOnce.Do(func() { firstErr = err.Error() })
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && bytes.Contains(b, []byte(`"ok":true`)) {
					okN.Add(1)
				} else {
					errOnce.Do(func() { firstErr = fmt.Sprintf("%d %s", resp.StatusCode, b) })
				}
			}()
		}
	}
	wg.Wait()
	return okN.Load(), firstErr
}

// TestFleetSharesOneToken: 8 instances x 50 concurrent requests, cold, with an empty Redis
// store, make exactly one stable_token call between them.
func TestFleetSharesOneToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 8 processes")
	}
	rs := redistest.Start(t)
	f := startFleet(t, 8, rs.URL)
	ok, firstErr := f.load(t, 50)
	if ok != 400 {
		t.Fatalf("%d/400 requests ok; first failure: %s", ok, firstErr)
	}
	st := f.emu.Stats()
	if got := st.Calls[emulator.PathStableToken]; got != 1 {
		t.Errorf("stable_token calls = %d, want exactly 1", got)
	}
	if st.TokensIssued != 1 {
		t.Errorf("tokens issued = %d, want 1", st.TokensIssued)
	}
	if got := st.Calls[emulator.PathOCRIDCard]; got != 400 {
		t.Errorf("OCR calls = %d, want 400", got)
	}
}

// TestFleetSurvivesRedisOutage: Redis stops under load and the token is revoked while it is
// down; no request fails, and the store is used again once Redis is back.
func TestFleetSurvivesRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	rs := redistest.Start(t)
	if rs.External {
		t.Skip("TEST_REDIS_URL is external: cannot stop it")
	}
	f := startFleet(t, 3, rs.URL)
	if ok, e := f.load(t, 10); ok != 30 {
		t.Fatalf("warm-up: %d/30 ok: %s", ok, e)
	}
	rs.Stop()
	if ok, e := f.load(t, 10); ok != 30 {
		t.Fatalf("Redis down: %d/30 ok: %s", ok, e)
	}
	f.emu.Revoke()
	if ok, e := f.load(t, 10); ok != 30 {
		t.Fatalf("Redis down, token revoked: %d/30 ok: %s", ok, e)
	}
	rs.Restart()
	// The breaker lets a probe through after its cooldown; keep serving meanwhile.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ok, e := f.load(t, 5); ok != 15 {
			t.Fatalf("Redis back: %d/15 ok: %s", ok, e)
		}
		if storeHasToken(t, rs.Addr) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !storeHasToken(t, rs.Addr) {
		t.Fatal("the shared store was not used again after Redis came back")
	}
	// One line says the store is down per instance, not one per request.
	for i, l := range f.logs {
		if n := strings.Count(l.String(), "token store is unavailable"); n > 1 {
			t.Errorf("instance %d logged the outage %d times", i, n)
		}
	}
}

// storeHasToken asks Redis (over its plain protocol) whether any key exists.
func storeHasToken(t *testing.T, addr string) bool {
	t.Helper()
	out, err := exec.Command("redis-cli", "-h", strings.Split(addr, ":")[0], "-p", strings.Split(addr, ":")[1], "DBSIZE").Output()
	if err != nil {
		return false
	}
	return strings.TrimSpace(string(out)) != "0"
}
