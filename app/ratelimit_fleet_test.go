package app

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
)

// TestFleetSharesTheRateLimit: two `serve` processes on one Redis share each caller's budget;
// the request over it is refused by whichever instance gets it, with Retry-After, and Redis
// holds no API key.
func TestFleetSharesTheRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	rs := redistest.Start(t)
	const limit = 5
	f := startFleet(t, 2, rs.URL, "RATE_LIMIT_PER_MINUTE="+strconv.Itoa(limit))
	body := fmt.Sprintf(`{"fileId":%q}`, SandboxFileID("cards/front.png"))
	send := func(base string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/idcard", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fleetKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range limit {
		if status, _ := send(f.bases[i%2]); status != 200 {
			t.Fatalf("request %d of %d: %d", i+1, limit, status)
		}
	}
	for i, base := range f.bases {
		status, retry := send(base)
		if status != 429 {
			t.Fatalf("instance %d, over the shared budget: %d, want 429", i, status)
		}
		if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 60 {
			t.Errorf("instance %d: Retry-After %q", i, retry)
		}
	}
	host, port, _ := strings.Cut(rs.Addr, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "--scan", "--pattern", "idcard-ocr:rl:*").Output()
	if err != nil {
		t.Skipf("redis-cli: %v", err)
	}
	keys := strings.Fields(string(out))
	if len(keys) != 1 {
		t.Fatalf("rate-limit keys %q, want one for the one caller", keys)
	}
	if strings.Contains(keys[0], fleetKey) {
		t.Fatalf("key %q contains the API key", keys[0])
	}
}
