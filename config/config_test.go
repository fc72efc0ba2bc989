package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env makes a getenv from pairs "NAME", "value", ... on top of valid credentials.
func env(pairs ...string) func(string) string {
	m := map[string]string{"WX_APPID": "wx1234567890abcdef", "WX_APPSECRET": "0123456789abcdef0123456789abcdef"}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		AppID:              "wx1234567890abcdef",
		AppSecret:          "0123456789abcdef0123456789abcdef",
		APIBase:            "https://api.weixin.qq.com",
		TokenSource:        "stable",
		TokenStore:         "file:///tmp/idcard-ocr/token.json",
		TokenKeyPrefix:     "idcard-ocr:token:",
		TokenMargin:        5 * time.Minute,
		TokenRefreshLead:   30 * time.Minute,
		CloudBaseTokenFile: "/.tencentcloudbase/wx/cloudbase_access_token",
		MaxImageBytes:      2097152,
		UpstreamTimeout:    10 * time.Second,
		RequestTimeout:     10 * time.Second,
		MaxConnections:     256,
		MaxInflightBytes:   16 << 20,
		RateLimitPerMinute: 30,
		RateLimitKeyPrefix: "idcard-ocr:rl:",
		RateLimitPerDay:    200,
		ResultCacheTTL:     5 * time.Minute,
		LogLevel:           slog.LevelInfo,
		OCRProvider:        "wechat",
		TencentRegion:      "ap-guangzhou",
		TencentEndpoint:    "ocr.tencentcloudapi.com",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %#v\nwant %#v", c, want)
	}
}

// Every documented default is what FromEnv applies: printing a default config shows exactly
// the documented defaults (modulo Go's duration spelling).
func TestVarsDefaultsMatchPrint(t *testing.T) {
	c, err := FromEnv(env("WX_APPID", "", "WX_APPSECRET", "", "TOKEN_SOURCE", "none"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	if len(r) != len(Vars()) {
		t.Fatalf("Redacted has %d entries, Vars %d", len(r), len(Vars()))
	}
	for _, v := range Vars() {
		got, ok := r[v.Name]
		if !ok {
			t.Errorf("%s missing from Redacted", v.Name)
			continue
		}
		want := v.Default
		switch v.Name {
		case "TOKEN_EXPIRY_MARGIN", "TOKEN_REFRESH_LEAD", "UPSTREAM_TIMEOUT", "REQUEST_TIMEOUT", "RESULT_CACHE_TTL":
			d, _ := parseDuration(want)
			want = d.String() // printed in Go's canonical spelling: "5m" → "5m0s"
		}
		if v.Name == "MAX_INFLIGHT_BYTES" {
			want = "16777216" // auto, resolved: a quarter of 64 MiB
		}
		if v.Name == "TOKEN_SOURCE" {
			want = "none"
		}
		if got != want {
			t.Errorf("%s: printed %q, documented default %q", v.Name, got, want)
		}
		if v.Description == "" {
			t.Errorf("%s has no description", v.Name)
		}
	}
}

func TestValues(t *testing.T) {
	c, err := FromEnv(env(
		"WX_API_BASE", "https://api.example.com/wx/",
		"WX_CLOUD_ENV", "prod-1a2b3c",
		"API_KEYS", " key-aaaaaaaaaaaaaaaa , key-bbbbbbbbbbbbbbbb,,",
		"ADMIN_API_KEYS", "admin-cccccccccccccccc",
		"TOKEN_SOURCE", " Legacy ",
		"TOKEN_STORE", "rediss://default:pa55word@redis.internal:6380/2",
		"TOKEN_KEY_PREFIX", "app:tok:",
		"TOKEN_EXPIRY_MARGIN", "120",
		"TOKEN_REFRESH_LEAD", "1h",
		"CLOUDBASE_ACCESS_TOKEN_FILE", "/tmp/cb",
		"WX_CLOUDBASE_ACCESSTOKEN", "cbtoken",
		"MAX_IMAGE_BYTES", "10485760",
		"IMAGE_URL_ALLOW_HOSTS", "img.example.com, *.cdn.example.net ,files.example.org:8443",
		"IMAGE_URL_TRUSTED_HOSTS", "127.0.0.1:9000",
		"UPSTREAM_TIMEOUT", "2.5",
		"RATE_LIMIT_PER_MINUTE", "0",
		"RATE_LIMIT_KEY_PREFIX", "app:rl:",
		"LOG_LEVEL", "DEBUG",
	))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"APIBase", c.APIBase, "https://api.example.com/wx"},
		{"CloudEnv", c.CloudEnv, "prod-1a2b3c"},
		{"APIKeys", c.APIKeys, []string{"key-aaaaaaaaaaaaaaaa", "key-bbbbbbbbbbbbbbbb"}},
		{"AdminKeys", c.AdminKeys, []string{"admin-cccccccccccccccc"}},
		{"TokenSource", c.TokenSource, "legacy"},
		{"TokenStore", c.TokenStore, "rediss://default:pa55word@redis.internal:6380/2"},
		{"TokenKeyPrefix", c.TokenKeyPrefix, "app:tok:"},
		{"TokenMargin", c.TokenMargin, 2 * time.Minute},
		{"TokenRefreshLead", c.TokenRefreshLead, time.Hour},
		{"CloudBaseTokenFile", c.CloudBaseTokenFile, "/tmp/cb"},
		{"CloudBaseToken", c.CloudBaseToken, "cbtoken"},
		{"MaxImageBytes", c.MaxImageBytes, int64(10485760)},
		{"AllowHosts", c.ImageURLAllowHosts, []string{"img.example.com", "*.cdn.example.net", "files.example.org:8443"}},
		{"TrustedHosts", c.ImageURLTrustedHosts, []string{"127.0.0.1:9000"}},
		{"UpstreamTimeout", c.UpstreamTimeout, 2500 * time.Millisecond},
		{"RateLimit", c.RateLimitPerMinute, 0},
		{"RateLimitKeyPrefix", c.RateLimitKeyPrefix, "app:rl:"},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestAccepted(t *testing.T) {
	for _, tc := range [][]string{
		{"TOKEN_SOURCE", "store", "WX_APPID", "", "WX_APPSECRET", ""},
		{"TOKEN_SOURCE", "cloudbase", "WX_APPID", "", "WX_APPSECRET", ""},
		{"TOKEN_SOURCE", "none", "WX_APPID", "", "WX_APPSECRET", "", "WX_API_BASE", "http://api.weixin.qq.com"},
		{"WX_API_BASE", "http://127.0.0.1:9000"},
		{"WX_API_BASE", "http://localhost:9000/"},
		{"WX_API_BASE", "http://[::1]:9000"},
		{"TOKEN_STORE", "memory://"},
		{"TOKEN_STORE", "redis://10.0.0.5:6379"},
		{"TOKEN_STORE", "redis://:secret@10.0.0.5:6379/0"},
		{"TOKEN_STORE", "file://localhost/tmp/t.json"},
		{"TOKEN_EXPIRY_MARGIN", "0"},
		{"TOKEN_EXPIRY_MARGIN", "0s"},
		{"TOKEN_REFRESH_LEAD", "7200"},
		{"UPSTREAM_TIMEOUT", "1m30s"},
		{"LOG_LEVEL", "warning"},
		{"LOG_LEVEL", "Error"},
		{"MAX_IMAGE_BYTES", "1"},
		{"RATE_LIMIT_PER_MINUTE", "1000000"},
		{"IMAGE_URL_TRUSTED_HOSTS", "[::1]:9000,localhost"},
	} {
		if _, err := FromEnv(env(tc...)); err != nil {
			t.Errorf("%v: %v", tc, err)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		env  []string
		want string // the whole message, or a prefix ending in "…"
	}{
		{[]string{"MAX_IMAGE_BYTES", "abc"}, `MAX_IMAGE_BYTES: must be a positive integer ≤ 10485760, got "abc"`},
		{[]string{"MAX_IMAGE_BYTES", "0"}, `MAX_IMAGE_BYTES: must be a positive integer ≤ 10485760, got "0"`},
		{[]string{"MAX_IMAGE_BYTES", "-5"}, `MAX_IMAGE_BYTES: must be a positive integer ≤ 10485760, got "-5"`},
		{[]string{"MAX_IMAGE_BYTES", "10485761"}, `MAX_IMAGE_BYTES: must be a positive integer ≤ 10485760, got "10485761"`},
		{[]string{"MAX_IMAGE_BYTES", "2MB"}, `MAX_IMAGE_BYTES: must be a positive integer ≤ 10485760, got "2MB"`},
		{[]string{"TOKEN_SOURCE", "redis"}, `TOKEN_SOURCE: must be one of stable, legacy, store, cloudbase, none, got "redis"`},
		{[]string{"WX_APPID", ""}, `WX_APPID: is required when TOKEN_SOURCE is stable`},
		{[]string{"WX_APPSECRET", ""}, `WX_APPSECRET: is required when TOKEN_SOURCE is stable`},
		{[]string{"TOKEN_SOURCE", "legacy", "WX_APPSECRET", ""}, `WX_APPSECRET: is required when TOKEN_SOURCE is legacy`},
		{[]string{"WX_APPID", "wx 123"}, `WX_APPID: must not contain spaces or control characters, got "wx 123"`},
		{[]string{"WX_APPSECRET", "abc def"}, `WX_APPSECRET: must not contain spaces or control characters`},
		{[]string{"WX_API_BASE", "api.weixin.qq.com"}, `WX_API_BASE: must be an absolute http(s) URL like https://api.weixin.qq.com, got "api.weixin.qq.com"`},
		{[]string{"WX_API_BASE", "ftp://api.weixin.qq.com"}, `WX_API_BASE: must use https (or http), got "ftp://api.weixin.qq.com"`},
		{[]string{"WX_API_BASE", "http://api.weixin.qq.com"}, `WX_API_BASE: http is only allowed with TOKEN_SOURCE=none or a loopback host, got "http://api.weixin.qq.com"`},
		{[]string{"WX_API_BASE", "https://u:p@api.weixin.qq.com"}, `WX_API_BASE: must not contain a user name or password`},
		{[]string{"WX_API_BASE", "https://api.weixin.qq.com/?a=b"}, `WX_API_BASE: must not have a query or fragment, got "https://api.weixin.qq.com/?a=b"`},
		{[]string{"WX_CLOUD_ENV", "env id"}, `WX_CLOUD_ENV: must contain only letters, digits, '-' and '_' (at most 64), got "env id"`},
		{[]string{"API_KEYS", "short"}, `API_KEYS: key 1 of 1 is 5 characters; keys must be at least 16`},
		{[]string{"API_KEYS", "aaaaaaaaaaaaaaaa,bbbb"}, `API_KEYS: key 2 of 2 is 4 characters; keys must be at least 16`},
		{[]string{"ADMIN_API_KEYS", "tiny"}, `ADMIN_API_KEYS: key 1 of 1 is 4 characters; keys must be at least 16`},
		{[]string{"API_KEYS", "aaaaaaaa bbbbbbbbbbbb"}, `API_KEYS: key 1 of 1 contains a space, control or non-ASCII character`},
		{[]string{"TOKEN_STORE", "postgres://db/x"}, `TOKEN_STORE: scheme must be file, redis, rediss or memory, got "postgres://db/x"`},
		{[]string{"TOKEN_STORE", "/tmp/token.json"}, `TOKEN_STORE: must be a URL such as file:///tmp/idcard-ocr/token.json, redis://host:6379/0 or memory://, got "/tmp/token.json"`},
		{[]string{"TOKEN_STORE", "file://tmp/token.json"}, `TOKEN_STORE: a file store needs an absolute path, like file:///tmp/idcard-ocr/token.json, got "file://tmp/token.json"`},
		{[]string{"TOKEN_STORE", "file:token.json"}, `TOKEN_STORE: a file store needs an absolute path, like file:///tmp/idcard-ocr/token.json, got "file:token.json"`},
		{[]string{"TOKEN_STORE", "redis:///0"}, `TOKEN_STORE: a redis store needs a host, like redis://:password@10.0.0.5:6379/0, got "redis:///0"`},
		{[]string{"TOKEN_STORE", "redis://:hunter2hunter2@host:6379/zero"}, `TOKEN_STORE: the redis database must be a number, like redis://host:6379/0, got "redis://:***@host:6379/zero"`},
		{[]string{"TOKEN_STORE", "redis://host:0/0"}, `TOKEN_STORE: invalid port in "redis://host:0/0"`},
		{[]string{"TOKEN_KEY_PREFIX", "a b"}, `TOKEN_KEY_PREFIX: must be at most 128 characters without spaces, got "a b"`},
		{[]string{"RATE_LIMIT_KEY_PREFIX", "rl\tx"}, `RATE_LIMIT_KEY_PREFIX: must be at most 128 characters without spaces, got "rl\tx"`},
		{[]string{"TOKEN_EXPIRY_MARGIN", "soon"}, `TOKEN_EXPIRY_MARGIN: must be a duration like "5m" or a number of seconds, got "soon"`},
		{[]string{"TOKEN_EXPIRY_MARGIN", "-1s"}, `TOKEN_EXPIRY_MARGIN: must be between 0s and 1h0m0s, got "-1s"`},
		{[]string{"TOKEN_EXPIRY_MARGIN", "NaN"}, `TOKEN_EXPIRY_MARGIN: must be a duration like "5m" or a number of seconds, got "NaN"`},
		{[]string{"TOKEN_EXPIRY_MARGIN", "1e300"}, `TOKEN_EXPIRY_MARGIN: must be a duration like "5m" or a number of seconds, got "1e300"`},
		{[]string{"TOKEN_REFRESH_LEAD", "3h"}, `TOKEN_REFRESH_LEAD: must be between 1s and 2h0m0s, got "3h"`},
		{[]string{"TOKEN_REFRESH_LEAD", "4m"}, `TOKEN_REFRESH_LEAD: must be longer than TOKEN_EXPIRY_MARGIN (5m0s), got 4m0s`},
		{[]string{"CLOUDBASE_ACCESS_TOKEN_FILE", "token.txt"}, `CLOUDBASE_ACCESS_TOKEN_FILE: must be an absolute path, got "token.txt"`},
		{[]string{"WX_CLOUDBASE_ACCESSTOKEN", "a\tb"}, `WX_CLOUDBASE_ACCESSTOKEN: must not contain spaces or control characters`},
		{[]string{"IMAGE_URL_ALLOW_HOSTS", "https://img.example.com"}, `IMAGE_URL_ALLOW_HOSTS: entry "https://img.example.com" is not a host, host:port or *.domain`},
		{[]string{"IMAGE_URL_TRUSTED_HOSTS", "ok.example.com,*"}, `IMAGE_URL_TRUSTED_HOSTS: entry "*" is not a host, host:port or *.domain`},
		{[]string{"UPSTREAM_TIMEOUT", "10"}, ""}, // 10 seconds: valid, checked below as a control
		{[]string{"UPSTREAM_TIMEOUT", "1ms"}, `UPSTREAM_TIMEOUT: must be between 100ms and 15m0s, got "1ms"`},
		{[]string{"UPSTREAM_TIMEOUT", "ten"}, `UPSTREAM_TIMEOUT: must be a duration like "10s" or a number of seconds, got "ten"`},
		{[]string{"REQUEST_TIMEOUT", "0"}, `REQUEST_TIMEOUT: must be between 100ms and 15m0s, got "0"`},
		{[]string{"MAX_CONNECTIONS", "0"}, `MAX_CONNECTIONS: must be an integer between 1 and 1000000, got "0"`},
		{[]string{"MAX_INFLIGHT_BYTES", "lots"}, `MAX_INFLIGHT_BYTES: must be auto or a number of bytes (0 for no bound), got "lots"`},
		{[]string{"GOMEMLIMIT", "big"}, `MAX_INFLIGHT_BYTES: is auto, but GOMEMLIMIT "big" is not a size like 64MiB`},
		{[]string{"GOMEMLIMIT", "100MiB", "MAX_INFLIGHT_BYTES", "lots"}, `MAX_INFLIGHT_BYTES: must be auto or a number of bytes (0 for no bound), got "lots"`},
		{[]string{"MAX_CONNECTIONS", "many"}, `MAX_CONNECTIONS: must be an integer between 1 and 1000000, got "many"`},
		{[]string{"RATE_LIMIT_PER_MINUTE", "-1"}, `RATE_LIMIT_PER_MINUTE: must be an integer from 0 (off) to 1000000, got "-1"`},
		{[]string{"RATE_LIMIT_PER_MINUTE", "1.5"}, `RATE_LIMIT_PER_MINUTE: must be an integer from 0 (off) to 1000000, got "1.5"`},
		{[]string{"LOG_LEVEL", "verbose"}, `LOG_LEVEL: must be debug, info, warn or error, got "verbose"`},
	}
	for _, tc := range tests {
		c, err := FromEnv(env(tc.env...))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: unexpected %v", tc.env, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: accepted, want %s", tc.env, tc.want)
			continue
		}
		if c != nil {
			t.Errorf("%v: a Config returned with an error", tc.env)
		}
		var ve *VarError
		if !errors.As(err, &ve) {
			t.Errorf("%v: %T is not a *VarError", tc.env, err)
		}
		if err.Error() != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.env, err, tc.want)
		}
		if !strings.HasPrefix(err.Error(), tc.env[0]+": ") && !strings.HasPrefix(err.Error(), ve.Name+": ") {
			t.Errorf("%v: message does not start with a variable name", tc.env)
		}
	}
}

// All problems are reported at once, one per variable.
func TestErrorsCollected(t *testing.T) {
	_, err := FromEnv(env("WX_APPSECRET", "", "MAX_IMAGE_BYTES", "x", "LOG_LEVEL", "loud", "TOKEN_STORE", "ftp://x", "API_KEYS", "a,b"))
	if err == nil {
		t.Fatal("accepted")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%T does not unwrap to a list", err)
	}
	var names []string
	for _, e := range joined.Unwrap() {
		names = append(names, e.(*VarError).Name)
	}
	want := []string{"WX_APPSECRET", "API_KEYS", "API_KEYS", "TOKEN_STORE", "MAX_IMAGE_BYTES", "LOG_LEVEL"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("errors for %v, want %v", names, want)
	}
}

const (
	secretApp   = "S3CRET-appsecret-0123456789abcdef"
	secretKey1  = "S3CRET-apikey-one-0001"
	secretKey2  = "S3CRET-apikey-two-0002"
	secretAdmin = "S3CRET-admin-key-0003"
	secretCB    = "S3CRET-cloudbase-token"
	secretRedis = "S3CRET-redis-pass"
)

func secretEnv() func(string) string {
	return env(
		"WX_APPSECRET", secretApp,
		"API_KEYS", secretKey1+","+secretKey2,
		"ADMIN_API_KEYS", secretAdmin,
		"WX_CLOUDBASE_ACCESSTOKEN", secretCB,
		"TOKEN_STORE", "redis://default:"+secretRedis+"@10.0.0.5:6379/1",
	)
}

func TestPrintRedacts(t *testing.T) {
	c, err := FromEnv(secretEnv())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	outputs := map[string]string{
		"Print":    buf.String(),
		"String":   c.String(),
		"%v":       fmt.Sprintf("%v %+v %s", c, *c, c),
		"slog":     logged.String(),
		"Redacted": fmt.Sprint(c.Redacted()),
	}
	for name, out := range outputs {
		if strings.Contains(out, "S3CRET") {
			t.Errorf("%s leaks a secret:\n%s", name, out)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(Vars()) {
		t.Fatalf("Print wrote %d lines for %d variables", len(lines), len(Vars()))
	}
	for i, v := range Vars() {
		if !strings.HasPrefix(lines[i], v.Name+"=") {
			t.Errorf("line %d = %q, want %s=…", i, lines[i], v.Name)
		}
	}
	for _, want := range []string{
		"WX_APPID=wx1234567890abcdef\n",
		"WX_APPSECRET=***\n",
		"API_KEYS=*** (2 keys)\n",
		"ADMIN_API_KEYS=*** (1 key)\n",
		"WX_CLOUDBASE_ACCESSTOKEN=***\n",
		"TOKEN_STORE=redis://default:***@10.0.0.5:6379/1\n",
		"TOKEN_EXPIRY_MARGIN=5m0s\n",
		"MAX_IMAGE_BYTES=2097152\n",
		"LOG_LEVEL=info\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Print output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestPrintUnsetSecrets(t *testing.T) {
	c, err := FromEnv(env("WX_APPSECRET", "", "WX_APPID", "", "TOKEN_SOURCE", "store"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	for _, name := range []string{"WX_APPSECRET", "API_KEYS", "ADMIN_API_KEYS", "WX_CLOUDBASE_ACCESSTOKEN", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "STORE_SECRET"} {
		if r[name] != "" {
			t.Errorf("%s = %q when unset, want empty", name, r[name])
		}
	}
}

// Validation messages never echo a secret either.
func TestErrorsDoNotLeakSecrets(t *testing.T) {
	for _, e := range [][]string{
		{"WX_APPSECRET", "S3CRET with space"},
		{"API_KEYS", "S3CRET"},
		{"API_KEYS", "S3CRET-long-enough-but has space"},
		{"WX_CLOUDBASE_ACCESSTOKEN", "S3CRET\x00"},
		{"TOKEN_STORE", "redis://:S3CRET@host:6379/notanumber"},
		{"TOKEN_STORE", "redis://:S3CRET@host:99999"},
		{"TOKEN_STORE", "ftp://u:S3CRET@host/"},
		{"TOKEN_STORE", "redis://u:S3CRET@[bad"},
		{"WX_API_BASE", "https://u:S3CRET@api.weixin.qq.com"},
		{"WX_API_BASE", "ftp://u:S3CRET@api.weixin.qq.com"},
	} {
		_, err := FromEnv(env(e...))
		if err == nil {
			t.Errorf("%s accepted", e[0])
			continue
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%s: error leaks the secret: %v", e[0], err)
		}
	}
}

func TestVarsListed(t *testing.T) {
	want := []string{"WX_APPID", "WX_APPSECRET", "WX_API_BASE", "WX_CLOUD_ENV", "API_KEYS", "ADMIN_API_KEYS",
		"TOKEN_SOURCE", "TOKEN_STORE", "TOKEN_KEY_PREFIX", "TOKEN_EXPIRY_MARGIN", "TOKEN_REFRESH_LEAD",
		"CLOUDBASE_ACCESS_TOKEN_FILE", "WX_CLOUDBASE_ACCESSTOKEN", "MAX_IMAGE_BYTES", "IMAGE_URL_ALLOW_HOSTS",
		"IMAGE_URL_TRUSTED_HOSTS", "UPSTREAM_TIMEOUT", "REQUEST_TIMEOUT", "MAX_CONNECTIONS", "GOMEMLIMIT", "MAX_INFLIGHT_BYTES", "RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_KEY_PREFIX", "RATE_LIMIT_PER_DAY", "LOG_LEVEL",
		"OCR_PROVIDER", "OCR_TENCENT_REGION", "OCR_TENCENT_ENDPOINT",
		"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "CLOUD_HOSTING",
		"OCR_DAILY_BUDGET_WECHAT", "OCR_DAILY_BUDGET_TENCENT", "RESULT_CACHE_TTL", "STORE_SECRET"}
	var got, secrets []string
	for _, v := range Vars() {
		got = append(got, v.Name)
		if v.Secret {
			secrets = append(secrets, v.Name)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Vars() = %v", got)
	}
	if !reflect.DeepEqual(secrets, []string{"WX_APPSECRET", "API_KEYS", "ADMIN_API_KEYS", "WX_CLOUDBASE_ACCESSTOKEN", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "STORE_SECRET"}) {
		t.Errorf("secret vars = %v", secrets)
	}
	// Vars returns a copy.
	Vars()[0].Name = "X"
	if Vars()[0].Name != "WX_APPID" {
		t.Error("Vars exposes its backing array")
	}
	// FromEnv reads every documented variable and nothing else.
	read := map[string]bool{}
	FromEnv(func(k string) string { read[k] = true; return "" })
	for _, name := range want {
		if !read[name] {
			t.Errorf("FromEnv does not read %s", name)
		}
		delete(read, name)
	}
	if len(read) != 0 {
		t.Errorf("FromEnv reads undocumented variables %v", read)
	}
}

func TestProviderBudgetCacheAndSecret(t *testing.T) {
	c, err := FromEnv(env("OCR_PROVIDER", "AUTO", "OCR_DAILY_BUDGET_WECHAT", "100", "OCR_DAILY_BUDGET_TENCENT", "7",
		"RATE_LIMIT_PER_DAY", "0", "RESULT_CACHE_TTL", "0", "STORE_SECRET", strings.Repeat("k", MinStoreSecretLength)))
	if err != nil {
		t.Fatal(err)
	}
	if c.OCRProvider != ProviderAuto || c.DailyBudgetWeChat != 100 || c.DailyBudgetTencent != 7 || c.RateLimitPerDay != 0 || c.ResultCacheTTL != 0 {
		t.Errorf("parsed %+v", c)
	}
	if r := c.Redacted(); r["STORE_SECRET"] != "***" {
		t.Errorf("STORE_SECRET printed as %q", r["STORE_SECRET"])
	}
	for _, tt := range []struct{ name, value, msg string }{
		{"OCR_PROVIDER", "baidu", `OCR_PROVIDER: must be wechat, tencent or auto, got "baidu"`},
		{"OCR_DAILY_BUDGET_WECHAT", "-1", `OCR_DAILY_BUDGET_WECHAT: must be an integer from 0 (off) to 1000000, got "-1"`},
		{"RATE_LIMIT_PER_DAY", "x", `RATE_LIMIT_PER_DAY: must be an integer from 0 (off) to 1000000, got "x"`},
		{"RESULT_CACHE_TTL", "2h", `RESULT_CACHE_TTL: must be between 0s and 1h0m0s, got "2h"`},
		{"STORE_SECRET", "short-S3CRET", "STORE_SECRET: must be at least 32 characters, got 12"},
	} {
		_, err := FromEnv(env(tt.name, tt.value))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s=%s: %v, want %q", tt.name, tt.value, err, tt.msg)
		}
	}
}

func TestNilGetenv(t *testing.T) {
	_, err := FromEnv(nil)
	if err == nil || !strings.Contains(err.Error(), "WX_APPID: is required") {
		t.Fatalf("FromEnv(nil) = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "30": 30 * time.Second, "1.5": 1500 * time.Millisecond, "90s": 90 * time.Second,
		"5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond,
	} {
		if got, ok := parseDuration(in); !ok || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abc", "5 m", "Inf", "NaN", "1e20", "5x"} {
		if d, ok := parseDuration(in); ok {
			t.Errorf("parseDuration(%q) = %v, want failure", in, d)
		}
	}
}

func TestTencentSettings(t *testing.T) {
	base := []string{"TOKEN_SOURCE", "none"}
	c, err := FromEnv(env(append(base, "OCR_PROVIDER", "Tencent", "OCR_TENCENT_ENDPOINT", "http://127.0.0.1:9000",
		"TENCENTCLOUD_SECRETID", "AKIDx", "TENCENTCLOUD_SECRETKEY", "topsecretkey", "TENCENTCLOUD_SESSIONTOKEN", "tok")...))
	if err != nil {
		t.Fatal(err)
	}
	if c.OCRProvider != "tencent" || c.TencentEndpoint != "http://127.0.0.1:9000" || c.TencentSecretKey != "topsecretkey" || c.TencentSessionToken != "tok" {
		t.Fatalf("%+v", c)
	}
	var b strings.Builder
	_ = c.Print(&b)
	if strings.Contains(b.String(), "topsecretkey") || strings.Contains(b.String(), "=tok\n") {
		t.Fatalf("Print leaks a Tencent secret:\n%s", b.String())
	}
	bad := []struct{ k, v, want string }{
		{"OCR_PROVIDER", "baidu", "OCR_PROVIDER"},
		{"OCR_TENCENT_ENDPOINT", "http://ocr.example.com", "OCR_TENCENT_ENDPOINT"},
		{"OCR_TENCENT_ENDPOINT", "https://ocr.tencentcloudapi.com/path", "OCR_TENCENT_ENDPOINT"},
		{"TENCENTCLOUD_SECRETID", "AKIDonly", "TENCENTCLOUD_SECRETKEY"},
	}
	for _, tc := range bad {
		_, err := FromEnv(env(append(base, tc.k, tc.v)...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v", tc.k, tc.v, err)
		}
	}
}
