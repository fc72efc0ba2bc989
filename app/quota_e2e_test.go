package app

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
	"github.com/wxocr/scf-idcard-ocr/quota"
)

// send posts body to base's /v1/idcard with the fleet's key and returns the status, the
// Retry-After header and the decoded body.
func send(t *testing.T, base, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/idcard", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fleetKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func fileBody(path string) string { return fmt.Sprintf(`{"fileId":%q}`, SandboxFileID(path)) }

// untilShanghaiMidnight is the Retry-After a daily limit must give now, in seconds.
func untilShanghaiMidnight() int { return int(time.Until(chinaday.NextMidnight(time.Now())).Seconds()) }

// retryAfterNearMidnight checks a Retry-After header against the next midnight in Shanghai.
func retryAfterNearMidnight(t *testing.T, what, got string) {
	t.Helper()
	n, err := strconv.Atoi(got)
	want := untilShanghaiMidnight()
	if err != nil || n < want-60 || n > want+60 {
		t.Errorf("%s: Retry-After %q, want about %d s (midnight Asia/Shanghai)", what, got, want)
	}
}

// TestFleetDailyBudget: a WeChat budget of 2 calls a day shared by two instances on one
// Redis. Two different cards are read; the third request, on either instance, is refused
// QUOTA_EXHAUSTED with Retry-After until midnight in Shanghai, and WeChat sees no third call.
func TestFleetDailyBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	rs := redistest.Start(t)
	f := startFleet(t, 2, rs.URL, "OCR_DAILY_BUDGET_WECHAT=2", "RESULT_CACHE_TTL=0")
	for i, card := range []string{"cards/front.png", "cards/back.png"} {
		if status, _, m := send(t, f.bases[i], fileBody(card)); status != 200 {
			t.Fatalf("call %d within the budget: %d %v", i+1, status, m)
		}
	}
	for i, base := range f.bases {
		status, retry, m := send(t, base, fileBody("cards/front-senior.png"))
		if status != 429 || errCode(m) != "QUOTA_EXHAUSTED" {
			t.Fatalf("instance %d over the budget: %d %v, want 429 QUOTA_EXHAUSTED", i, status, m)
		}
		retryAfterNearMidnight(t, fmt.Sprintf("instance %d", i), retry)
		e := m["error"].(map[string]any)
		if ra, _ := e["retryAfter"].(float64); strconv.Itoa(int(ra)) != retry {
			t.Errorf("error.retryAfter %v, header %q", e["retryAfter"], retry)
		}
	}
	if n := f.emu.Stats().Calls[emulator.PathOCRIDCard]; n != 2 {
		t.Fatalf("WeChat OCR called %d times, want 2 (the budget)", n)
	}
}

// TestFleetPerCallerDailyLimit: RATE_LIMIT_PER_DAY=3 across two instances on one Redis. The
// fourth request of the same API key is RATE_LIMITED on either instance with Retry-After
// until midnight in Shanghai, and Redis holds the caller only as a keyed digest. With Redis
// down the limit holds per instance.
func TestFleetPerCallerDailyLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	rs := redistest.Start(t)
	const limit = 3
	f := startFleet(t, 2, rs.URL, "RATE_LIMIT_PER_DAY="+strconv.Itoa(limit), "RATE_LIMIT_PER_MINUTE=100")
	for i := range limit {
		if status, _, m := send(t, f.bases[i%2], fileBody("cards/front.png")); status != 200 {
			t.Fatalf("request %d of %d: %d %v", i+1, limit, status, m)
		}
	}
	for i, base := range f.bases {
		status, retry, m := send(t, base, fileBody("cards/front.png"))
		if status != 429 || errCode(m) != "RATE_LIMITED" {
			t.Fatalf("instance %d over the daily limit: %d %v", i, status, m)
		}
		retryAfterNearMidnight(t, fmt.Sprintf("instance %d", i), retry)
	}

	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, quota.DefaultKeyPrefix+"caller:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("daily counters %q, want one for the one caller", keys)
	}
	if n, _ := c.Get(ctx, keys[0]).Int(); n != limit+2 {
		t.Errorf("counter = %d, want %d (every request counted, on both instances)", n, limit+2)
	}
	all, _ := c.Keys(ctx, "*").Result()
	for _, k := range all {
		if strings.Contains(k, fleetKey) || strings.Contains(k, fleetKey[:8]) {
			t.Errorf("key %q names the API key", k)
		}
	}
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("counter TTL %v, want until midnight", ttl)
	}

	// Redis goes away: each instance counts the caller in its own memory, from zero, and
	// still refuses past the limit: narrowed to one instance, never unlimited.
	if rs.External {
		return
	}
	rs.Stop()
	for i := range limit {
		if status, _, m := send(t, f.bases[0], fileBody("cards/front.png")); status != 200 {
			t.Fatalf("Redis down: request %d of %d: %d %v", i+1, limit, status, m)
		}
	}
	status, retry, m := send(t, f.bases[0], fileBody("cards/front.png"))
	if status != 429 || errCode(m) != "RATE_LIMITED" {
		t.Fatalf("Redis down, over the limit: %d %v, want RATE_LIMITED", status, m)
	}
	retryAfterNearMidnight(t, "Redis down", retry)
	if !strings.Contains(f.logs[0].String(), "quota store is unavailable") {
		t.Errorf("the outage is not logged:\n%s", f.logs[0])
	}
}

// TestFleetResultCache: the same image twice, to two instances on one Redis, costs one
// WeChat call; the second answer says it came from the cache. The cached value in Redis
// does not contain the holder's name, number or address in any form a test can find.
func TestFleetResultCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	rs := redistest.Start(t)
	f := startFleet(t, 2, rs.URL, "RESULT_CACHE_TTL=5m") // startFleet turns it off
	img, err := fs.ReadFile(emulator.SampleFiles(), "cards/front.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, body string }{
		{"imageBase64", fmt.Sprintf(`{"imageBase64":%q}`, base64.StdEncoding.EncodeToString(img))},
		{"fileId", fileBody("cards/front.png")},
	} {
		before := f.emu.Stats().Calls
		var first map[string]any
		for i, base := range f.bases {
			status, _, m := send(t, base, tt.body)
			if status != 200 {
				t.Fatalf("%s to instance %d: %d %v", tt.name, i, status, m)
			}
			if cached := m["cached"] == true; cached != (i == 1) {
				t.Errorf("%s to instance %d: cached = %v", tt.name, i, m["cached"])
			}
			if i == 0 {
				first = m
				continue
			}
			// The cached answer is the same card, checks and verdict.
			for _, k := range []string{"card", "checks", "verdict", "provider", "side"} {
				a, _ := json.Marshal(first[k])
				b, _ := json.Marshal(m[k])
				if string(a) != string(b) {
					t.Errorf("%s: %s differs from the cache: %s vs %s", tt.name, k, a, b)
				}
			}
		}
		after := f.emu.Stats().Calls
		if n := after[emulator.PathOCRIDCard] - before[emulator.PathOCRIDCard]; n != 1 {
			t.Errorf("%s: %d WeChat OCR calls for the same image twice, want 1", tt.name, n)
		}
		if tt.name == "fileId" && after[emulator.PathBatchDL]-before[emulator.PathBatchDL] != 1 {
			t.Errorf("fileId: the cache hit still asked for a download URL")
		}
	}

	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "idcard-ocr:cache:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		all, _ := c.Keys(ctx, "*").Result()
		t.Fatalf("cache entries %q, want one per image reference; all %q", keys, all)
	}
	// Not the last four digits alone: the masked number (4403**********2561) may be logged, and a
	// 4-digit string turns up by chance in the hex view of random ciphertext (about 2% of runs).
	secrets := []string{"张三", "440305199505132561", "广东省深圳市南山区", "0305199505"}
	for _, k := range keys {
		v, err := c.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 5*time.Minute {
			t.Errorf("entry TTL %v, want within RESULT_CACHE_TTL (5m)", ttl)
		}
		for _, form := range views(v) {
			for _, s := range secrets {
				for _, enc := range encodings(s) {
					if strings.Contains(form, enc) {
						t.Errorf("cache value exposes %q (as %q)", s, enc)
					}
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(k, s) {
				t.Errorf("cache key %q exposes %q", k, s)
			}
		}
	}
}

// views are the readings of a stored value a dump could be put through.
func views(v []byte) []string {
	out := []string{string(v), strings.ToLower(hex.EncodeToString(v))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(string(v)); err == nil {
			out = append(out, string(d))
		}
	}
	return out
}

// encodings are the forms a secret could be stored in.
func encodings(s string) []string {
	b := []byte(s)
	q := strconv.QuoteToASCII(s)
	return []string{s, hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), q[1 : len(q)-1]}
}

// TestFleetAutoFailover: OCR_PROVIDER=auto on two instances sharing one Redis and one
// emulator (WeChat and Tencent Cloud). A strict request goes to Tencent; WeChat answering
// 45009 sends the request to Tencent and is remembered, so that neither instance calls WeChat
// again until midnight in Shanghai; with Tencent's package used up too, the caller gets
// QUOTA_EXHAUSTED at once with Retry-After.
func TestFleetAutoFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	rs := redistest.Start(t)
	f := startFleet(t, 2, rs.URL, "OCR_PROVIDER=auto", "RESULT_CACHE_TTL=0")
	calls := func() (wx, tc int) {
		s := f.emu.Stats().Calls
		return s[emulator.PathOCRIDCard], s[emulator.PathTencentCloud]
	}
	expect := func(what string, m map[string]any, provider, reason string) {
		t.Helper()
		if m["provider"] != provider || m["providerReason"] != reason {
			t.Fatalf("%s: provider %v reason %v, want %s %s (%v)", what, m["provider"], m["providerReason"], provider, reason, m)
		}
	}

	// Healthy: WeChat answers; a request asking for fraud signals goes to Tencent.
	_, _, m := send(t, f.bases[0], fileBody("cards/front.png"))
	expect("plain", m, "wechat", "configured")
	_, _, m = send(t, f.bases[1], `{"fileId":"`+SandboxFileID("cards/front-photocopy.png")+`","checks":"strict"}`)
	expect("strict", m, "tencent", "strict_checks")
	if m["verdict"] != "reject" || checkStatus(m, "not_photocopy") != "fail" {
		t.Errorf("strict photocopy: verdict %v, not_photocopy %q", m["verdict"], checkStatus(m, "not_photocopy"))
	}
	if wx, tc := calls(); wx != 1 || tc != 1 {
		t.Fatalf("calls WeChat %d Tencent %d, want 1 and 1", wx, tc)
	}

	// WeChat's daily quota runs out.
	if err := f.emu.AddFault(emulator.Fault{Endpoint: emulator.PathOCRIDCard, ErrCode: 45009}); err != nil {
		t.Fatal(err)
	}
	status, _, m := send(t, f.bases[0], fileBody("cards/back.png"))
	if status != 200 {
		t.Fatalf("on 45009: %d %v", status, m)
	}
	expect("on 45009", m, "tencent", "quota_exhausted")
	for i, base := range f.bases {
		_, _, m := send(t, base, fileBody("cards/front-senior.png"))
		expect(fmt.Sprintf("instance %d after 45009", i), m, "tencent", "quota_exhausted")
	}
	if wx, tc := calls(); wx != 2 || tc != 4 {
		t.Fatalf("calls WeChat %d Tencent %d, want 2 (no WeChat call after 45009) and 4", wx, tc)
	}
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	ctx := context.Background()
	marks, _ := c.Keys(ctx, quota.DefaultKeyPrefix+"exhausted:*").Result()
	if len(marks) != 1 {
		t.Fatalf("exhaustion marks %q, want WeChat's", marks)
	}
	if ttl := c.PTTL(ctx, marks[0]).Val(); ttl.Seconds() < float64(untilShanghaiMidnight()-60) || ttl.Seconds() > float64(untilShanghaiMidnight()+60) {
		t.Errorf("WeChat's mark lives %v, want until midnight Asia/Shanghai (%d s)", ttl, untilShanghaiMidnight())
	}
	if !strings.Contains(f.logs[0].String(), `"msg":"failing over to the next OCR provider"`) ||
		!strings.Contains(f.logs[0].String(), `"providerReason":"quota_exhausted"`) {
		t.Errorf("the failover is not logged:\n%s", f.logs[0])
	}

	// Tencent's resource package is used up as well: nobody can answer.
	if err := f.emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, TencentCode: "ResourceUnavailable.ResourcePackageRunOut"}); err != nil {
		t.Fatal(err)
	}
	status, retry, m := send(t, f.bases[1], fileBody("cards/front.png"))
	if status != 429 || errCode(m) != "QUOTA_EXHAUSTED" {
		t.Fatalf("both exhausted: %d %v", status, m)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 3600 {
		t.Errorf("Retry-After %q, want the sooner reset (Tencent's, within the hour)", retry)
	}
	wxBefore, tcBefore := calls()
	status, _, m = send(t, f.bases[0], fileBody("cards/front.png"))
	if status != 429 || errCode(m) != "QUOTA_EXHAUSTED" {
		t.Fatalf("both remembered: %d %v", status, m)
	}
	if wx, tc := calls(); wx != wxBefore || tc != tcBefore {
		t.Fatalf("a provider known to be exhausted was called: WeChat %d→%d Tencent %d→%d", wxBefore, wx, tcBefore, tc)
	}
}
