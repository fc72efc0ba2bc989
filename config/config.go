// Package config reads the function's configuration from environment variables (the SCF
// way) into one typed struct, once, at start. It is the only package that looks at the
// environment, and it does so through a getenv function so that tests and the sandbox can
// supply their own. Every problem is reported at once, each message naming its variable.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/token"
)

// Limits enforced by FromEnv.
const (
	// MaxImageBytesLimit is the largest MAX_IMAGE_BYTES accepted (Tencent Cloud OCR's 10 MB;
	// WeChat itself stops at 2 MB).
	MaxImageBytesLimit = 10 << 20
	// MinAPIKeyLength is the shortest API key accepted, so that keys cannot be guessed.
	MinAPIKeyLength = 16
	maxRateLimit    = 1_000_000
)

// Config is the whole configuration. Secret fields (AppSecret, APIKeys, AdminKeys,
// CloudBaseToken, the password in TokenStore) must never be logged: print it with Print or
// Redacted; String and LogValue redact too.
type Config struct {
	AppID     string // WX_APPID
	AppSecret string // WX_APPSECRET (secret)
	// APIBase is WX_API_BASE without a trailing slash.
	APIBase  string
	CloudEnv string // WX_CLOUD_ENV

	APIKeys   []string // API_KEYS (secret)
	AdminKeys []string // ADMIN_API_KEYS (secret)

	TokenSource        string        // TOKEN_SOURCE: one of the Source constants
	TokenStore         string        // TOKEN_STORE: file:///path, redis://, rediss://, memory://
	TokenKeyPrefix     string        // TOKEN_KEY_PREFIX
	TokenMargin        time.Duration // TOKEN_EXPIRY_MARGIN
	TokenRefreshLead   time.Duration // TOKEN_REFRESH_LEAD
	CloudBaseTokenFile string        // CLOUDBASE_ACCESS_TOKEN_FILE
	CloudBaseToken     string        // WX_CLOUDBASE_ACCESSTOKEN (secret)

	MaxImageBytes        int64    // MAX_IMAGE_BYTES
	ImageURLAllowHosts   []string // IMAGE_URL_ALLOW_HOSTS
	ImageURLTrustedHosts []string // IMAGE_URL_TRUSTED_HOSTS

	UpstreamTimeout    time.Duration // UPSTREAM_TIMEOUT
	RequestTimeout     time.Duration // REQUEST_TIMEOUT
	MaxConnections     int           // MAX_CONNECTIONS
	MaxInflightBytes   int64         // MAX_INFLIGHT_BYTES, resolved: 0 = no bound
	MemoryLimit        string        // GOMEMLIMIT, as given (the Go runtime applies it itself)
	RateLimitPerMinute int           // RATE_LIMIT_PER_MINUTE, 0 = off
	RateLimitKeyPrefix string        // RATE_LIMIT_KEY_PREFIX
	RateLimitPerDay    int           // RATE_LIMIT_PER_DAY, 0 = off
	LogLevel           slog.Level    // LOG_LEVEL

	// OCRProvider is OCR_PROVIDER: ProviderWeChat or ProviderTencent.
	OCRProvider string
	// TencentRegion and TencentEndpoint are OCR_TENCENT_REGION and OCR_TENCENT_ENDPOINT.
	TencentRegion, TencentEndpoint string
	// TencentSecretID, TencentSecretKey (secret) and TencentSessionToken (secret) are the
	// TENCENTCLOUD_* keys as found at start: the fallback when an SCF invocation carries none
	// (per-invocation keys reach the provider through the function context, not here).
	TencentSecretID, TencentSecretKey, TencentSessionToken string
	// CloudHosting says the function runs behind WeChat Cloud Hosting (CLOUD_HOSTING), whose
	// gateway sets X-WX-* caller headers: only then are they trusted.
	CloudHosting bool

	DailyBudgetWeChat  int           // OCR_DAILY_BUDGET_WECHAT, 0 = no budget
	DailyBudgetTencent int           // OCR_DAILY_BUDGET_TENCENT, 0 = no budget
	ResultCacheTTL     time.Duration // RESULT_CACHE_TTL, 0 = off
	StoreSecret        string        // STORE_SECRET (secret); "" = derived from WX_APPSECRET
}

// OCR providers, as OCR_PROVIDER spells them.
const (
	ProviderWeChat  = "wechat"
	ProviderTencent = "tencent"
	ProviderAuto    = "auto"
)

// MinStoreSecretLength is the shortest STORE_SECRET accepted: it keys the digests of callers
// and images kept in the shared store, so it must not be guessable.
const MinStoreSecretLength = 32

// Var documents one environment variable.
type Var struct {
	Name        string
	Default     string // "" when the variable has no default
	Description string
	Secret      bool // redacted by Print and Redacted
}

// vars is the one list of variables: FromEnv's defaults, Print's order, and what README.md
// and serverless.yml are checked against.
var vars = []Var{
	{"WX_APPID", "", "Mini Program appid; required for TOKEN_SOURCE stable and legacy", false},
	{"WX_APPSECRET", "", "Mini Program appsecret; required for TOKEN_SOURCE stable and legacy", true},
	{"WX_API_BASE", "https://api.weixin.qq.com", "WeChat API base URL; http only for TOKEN_SOURCE=none (Cloud Hosting open interface) or a loopback host", false},
	{"WX_CLOUD_ENV", "", "CloudBase environment id for fileId downloads (default: taken from the fileId)", false},
	{"API_KEYS", "", "comma-separated API keys accepted as 'Authorization: Bearer <key>' (each at least 16 characters); empty: POST /v1/idcard over HTTP is refused (GET /healthz, cloud calls and timers still work)", true},
	{"ADMIN_API_KEYS", "", "comma-separated keys for admin endpoints such as POST /v1/token/refresh", true},
	{"TOKEN_SOURCE", token.SourceStable, "where the access_token comes from: stable, legacy, store, cloudbase or none", false},
	{"TOKEN_STORE", "file:///tmp/idcard-ocr/token.json", "shared token store: file:///path, redis://[user:pass@]host:port/db, rediss://..., memory://", false},
	{"TOKEN_KEY_PREFIX", "idcard-ocr:token:", "key prefix in the token store (the appid is appended)", false},
	{"TOKEN_EXPIRY_MARGIN", "5m", "a token counts as expired this long before its real expiry (Go duration or seconds)", false},
	{"TOKEN_REFRESH_LEAD", "30m", "timer invocations refresh the token when less than this remains (Go duration or seconds)", false},
	{"CLOUDBASE_ACCESS_TOKEN_FILE", "/.tencentcloudbase/wx/cloudbase_access_token", "file holding the CloudBase access token (TOKEN_SOURCE=cloudbase)", false},
	{"WX_CLOUDBASE_ACCESSTOKEN", "", "CloudBase access token given directly (TOKEN_SOURCE=cloudbase; the file wins when both exist)", true},
	{"MAX_IMAGE_BYTES", "2097152", "largest accepted image in bytes (at most 10485760; WeChat refuses more than 2 MB)", false},
	{"IMAGE_URL_ALLOW_HOSTS", "", "comma-separated hosts imageUrl may point at (host, host:port or *.domain); empty: any public https host", false},
	{"IMAGE_URL_TRUSTED_HOSTS", "", "comma-separated hosts for which plain http and private addresses are allowed in imageUrl", false},
	{"UPSTREAM_TIMEOUT", "10s", "timeout of one call to WeChat (Go duration or seconds)", false},
	{"REQUEST_TIMEOUT", "10s", "deadline of one whole request (body upload, every WeChat call and retry), answered TIMEOUT when it passes; keep it below the platform's function timeout (an invocation also stops 1 s before SCF's own deadline)", false},
	{"MAX_CONNECTIONS", "256", "serve: most client connections held at once; more wait in the kernel's accept queue", false},
	{"GOMEMLIMIT", "", "the Go runtime's soft memory limit (the runtime reads it itself), e.g. 48MiB on a 64 MB instance, so that the GC works harder before the instance runs out; MAX_INFLIGHT_BYTES=auto is sized from it", false},
	{"MAX_INFLIGHT_BYTES", "auto", "serve: most request body bytes held at once; a request over it is answered OVERLOADED (503, Retry-After); auto: a quarter of GOMEMLIMIT when set, else of 64 MiB (the smallest SCF instance); 0: no bound", false},
	{"RATE_LIMIT_PER_MINUTE", "30", "requests per minute per caller (openid, API key or client IP); shared by all instances through TOKEN_STORE when it is redis:// or rediss://, else per instance (also while Redis is down); 0 turns the limit off", false},
	{"RATE_LIMIT_KEY_PREFIX", "idcard-ocr:rl:", "key prefix of the rate-limit counters in Redis (a digest of the caller is appended, never the caller itself)", false},
	{"RATE_LIMIT_PER_DAY", "200", "requests per day (midnight to midnight, Asia/Shanghai) per caller, beside the per-minute limit; shared like RATE_LIMIT_PER_MINUTE, never stored in clear (keyed digest); 0 turns it off", false},
	{"LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"OCR_PROVIDER", ProviderWeChat, "who reads the card: wechat (WeChat cv/ocr/idcard), tencent (Tencent Cloud OCR IDCardOCR: also the issuing authority, the printed birth date and fraud signals) or auto (WeChat first; Tencent when WeChat's quota or daily budget is spent, WeChat is unavailable past its retries, or the request asks for \"checks\":\"strict\")", false},
	{"OCR_TENCENT_REGION", "ap-guangzhou", "Tencent Cloud region for IDCardOCR", false},
	{"OCR_TENCENT_ENDPOINT", "ocr.tencentcloudapi.com", "Tencent Cloud OCR host, or http(s)://host:port (http only for a loopback host, e.g. the emulator)", false},
	{"TENCENTCLOUD_SECRETID", "", "Tencent Cloud SecretId for OCR_PROVIDER=tencent; on SCF the execution role's keys sent with each invocation are used instead (this name is reserved there and set by the platform)", false},
	{"TENCENTCLOUD_SECRETKEY", "", "Tencent Cloud SecretKey paired with TENCENTCLOUD_SECRETID", true},
	{"TENCENTCLOUD_SESSIONTOKEN", "", "session token of temporary Tencent Cloud keys", true},
	{"CLOUD_HOSTING", "false", "true when the function runs behind WeChat Cloud Hosting: POST /v1/idcard then accepts wx.cloud.callContainer requests by their X-WX-SOURCE and X-WX-OPENID headers (set by the platform) without an API key, and limits them per openid; anywhere else these headers are ignored, since a client can forge them", false},
	{"OCR_DAILY_BUDGET_WECHAT", "0", "most WeChat OCR calls per day (Asia/Shanghai), shared through TOKEN_STORE's Redis (else per instance); reaching it counts as quota exhaustion; 0 = no budget", false},
	{"OCR_DAILY_BUDGET_TENCENT", "0", "most Tencent Cloud OCR calls per day, like OCR_DAILY_BUDGET_WECHAT", false},
	{"RESULT_CACHE_TTL", "5m", "how long a recognised image's result is kept (encrypted, keyed by a digest of the image) so that a repeat costs no call; 0 turns the cache off; at most 1h", false},
	{"STORE_SECRET", "", "server-side secret (at least 32 characters, the same on every instance) keying the digests of callers and images in the shared store and the result cache's encryption; default: derived from WX_APPSECRET, else random per instance (limits and cache then per instance)", true},
}

// Vars returns every variable FromEnv reads, in documentation order.
func Vars() []Var {
	return append([]Var(nil), vars...)
}

func defaultOf(name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Default
		}
	}
	panic("config: undocumented variable " + name)
}

// VarError is a problem with one variable. Its message never contains a secret value.
type VarError struct {
	Name string
	Msg  string
}

func (e *VarError) Error() string { return e.Name + ": " + e.Msg }

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, &VarError{Name: name, Msg: fmt.Sprintf(format, args...)})
}

// get returns the trimmed value, or the default when the variable is empty or unset.
func (p *parser) get(name string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return defaultOf(name)
}

// FromEnv reads and validates the configuration. The error, when not nil, joins (errors.Join)
// one *VarError per problem found.
func FromEnv(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p := &parser{getenv: getenv}
	c := &Config{}

	c.TokenSource = strings.ToLower(p.get("TOKEN_SOURCE"))
	if !slices.Contains(token.Sources(), c.TokenSource) {
		p.fail("TOKEN_SOURCE", "must be one of %s, got %q", strings.Join(token.Sources(), ", "), c.TokenSource)
	}
	needsCredentials := c.TokenSource == token.SourceStable || c.TokenSource == token.SourceLegacy

	c.AppID = p.token("WX_APPID", false)
	c.AppSecret = p.token("WX_APPSECRET", true)
	if needsCredentials {
		if c.AppID == "" {
			p.fail("WX_APPID", "is required when TOKEN_SOURCE is %s", c.TokenSource)
		}
		if c.AppSecret == "" {
			p.fail("WX_APPSECRET", "is required when TOKEN_SOURCE is %s", c.TokenSource)
		}
	}
	c.APIBase = p.apiBase(c.TokenSource)
	c.CloudEnv = p.get("WX_CLOUD_ENV")
	if c.CloudEnv != "" && !isEnvID(c.CloudEnv) {
		p.fail("WX_CLOUD_ENV", "must contain only letters, digits, '-' and '_' (at most 64), got %q", c.CloudEnv)
	}

	c.APIKeys = p.keys("API_KEYS")
	c.AdminKeys = p.keys("ADMIN_API_KEYS")

	c.TokenStore = p.tokenStore()
	c.TokenKeyPrefix = p.keyPrefix("TOKEN_KEY_PREFIX")
	c.TokenMargin = p.duration("TOKEN_EXPIRY_MARGIN", 0, time.Hour)
	c.TokenRefreshLead = p.duration("TOKEN_REFRESH_LEAD", time.Second, 2*time.Hour)
	if c.TokenRefreshLead > 0 && c.TokenRefreshLead <= c.TokenMargin {
		// A timer refreshing later than requests already treat the token as expired would
		// leave requests to fetch it themselves, which is what the timer is for.
		p.fail("TOKEN_REFRESH_LEAD", "must be longer than TOKEN_EXPIRY_MARGIN (%s), got %s", c.TokenMargin, c.TokenRefreshLead)
	}
	c.CloudBaseTokenFile = p.get("CLOUDBASE_ACCESS_TOKEN_FILE")
	if !path.IsAbs(c.CloudBaseTokenFile) {
		p.fail("CLOUDBASE_ACCESS_TOKEN_FILE", "must be an absolute path, got %q", c.CloudBaseTokenFile)
	}
	c.CloudBaseToken = p.token("WX_CLOUDBASE_ACCESSTOKEN", true)

	c.MaxImageBytes = p.maxImageBytes()
	c.ImageURLAllowHosts = p.hosts("IMAGE_URL_ALLOW_HOSTS")
	c.ImageURLTrustedHosts = p.hosts("IMAGE_URL_TRUSTED_HOSTS")

	c.UpstreamTimeout = p.duration("UPSTREAM_TIMEOUT", 100*time.Millisecond, 15*time.Minute)
	c.RequestTimeout = p.duration("REQUEST_TIMEOUT", 100*time.Millisecond, 15*time.Minute)
	c.MaxConnections = p.intRange("MAX_CONNECTIONS", 1, 1_000_000)
	c.MemoryLimit = p.get("GOMEMLIMIT")
	c.MaxInflightBytes = p.inflight(c.MemoryLimit)
	c.RateLimitPerMinute = p.count("RATE_LIMIT_PER_MINUTE")
	c.RateLimitKeyPrefix = p.keyPrefix("RATE_LIMIT_KEY_PREFIX")
	c.RateLimitPerDay = p.count("RATE_LIMIT_PER_DAY")
	c.LogLevel = p.logLevel()
	c.CloudHosting = p.boolean("CLOUD_HOSTING")

	c.OCRProvider = strings.ToLower(p.get("OCR_PROVIDER"))
	switch c.OCRProvider {
	case ProviderWeChat, ProviderTencent, ProviderAuto:
	default:
		p.fail("OCR_PROVIDER", "must be wechat, tencent or auto, got %q", c.OCRProvider)
	}
	c.TencentRegion = p.token("OCR_TENCENT_REGION", false)
	c.TencentEndpoint = p.tencentEndpoint()
	c.TencentSecretID = p.token("TENCENTCLOUD_SECRETID", false)
	c.TencentSecretKey = p.token("TENCENTCLOUD_SECRETKEY", true)
	c.TencentSessionToken = p.token("TENCENTCLOUD_SESSIONTOKEN", true)
	if (c.TencentSecretID == "") != (c.TencentSecretKey == "") {
		p.fail("TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY must be set together")
	}
	c.DailyBudgetWeChat = p.count("OCR_DAILY_BUDGET_WECHAT")
	c.DailyBudgetTencent = p.count("OCR_DAILY_BUDGET_TENCENT")
	c.ResultCacheTTL = p.duration("RESULT_CACHE_TTL", 0, time.Hour)
	c.StoreSecret = p.token("STORE_SECRET", true)
	if c.StoreSecret != "" && len(c.StoreSecret) < MinStoreSecretLength {
		p.fail("STORE_SECRET", "must be at least %d characters, got %d", MinStoreSecretLength, len(c.StoreSecret))
	}

	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// token reads a credential-like value: one word, no spaces or control characters. A secret's
// value is never echoed.
func (p *parser) token(name string, secret bool) string {
	v := p.get(name)
	if strings.ContainsFunc(v, isSpaceOrControl) {
		if secret {
			p.fail(name, "must not contain spaces or control characters")
		} else {
			p.fail(name, "must not contain spaces or control characters, got %q", v)
		}
	}
	return v
}

func isEnvID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// splitList splits a comma list, trimming entries and dropping empty ones (a trailing comma
// is harmless).
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (p *parser) keys(name string) []string {
	keys := splitList(p.get(name))
	for i, k := range keys {
		switch {
		case len(k) < MinAPIKeyLength:
			p.fail(name, "key %d of %d is %d characters; keys must be at least %d", i+1, len(keys), len(k), MinAPIKeyLength)
		case strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
			p.fail(name, "key %d of %d contains a space, control or non-ASCII character", i+1, len(keys))
		}
	}
	return keys
}

func (p *parser) apiBase(source string) string {
	const name = "WX_API_BASE"
	raw := p.get(name)
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		p.fail(name, "must be an absolute http(s) URL like https://api.weixin.qq.com, got %q", redactURLText(raw))
		return raw
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		p.fail(name, "must use https (or http), got %q", redactURLText(raw))
	case u.User != nil:
		p.fail(name, "must not contain a user name or password")
	case u.RawQuery != "" || u.Fragment != "":
		p.fail(name, "must not have a query or fragment, got %q", raw)
	case u.Scheme == "http" && source != token.SourceNone && !isLoopback(u.Hostname()):
		// Over plain http the access_token in the query string would travel in clear.
		p.fail(name, "http is only allowed with TOKEN_SOURCE=none or a loopback host, got %q", raw)
	}
	return strings.TrimRight(raw, "/")
}

// tencentEndpoint accepts a host[:port] (https) or an http(s)://host[:port] URL without a
// path; plain http only to a loopback host, since the signed request carries the card image.
func (p *parser) tencentEndpoint() string {
	const name = "OCR_TENCENT_ENDPOINT"
	raw := p.get(name)
	s := raw
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		p.fail(name, "must be a host like ocr.tencentcloudapi.com or a URL http(s)://host:port, got %q", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		p.fail(name, "must use https (or http to a loopback host), got %q", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.fail(name, "http is only allowed to a loopback host, got %q", raw)
	}
	return raw
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func (p *parser) tokenStore() string {
	const name = "TOKEN_STORE"
	raw := p.get(name)
	shown := redactURLText(raw)
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		p.fail(name, "must be a URL such as file:///tmp/idcard-ocr/token.json, redis://host:6379/0 or memory://, got %q", shown)
		return raw
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" || !path.IsAbs(u.Path) || u.Opaque != "" {
			p.fail(name, "a file store needs an absolute path, like file:///tmp/idcard-ocr/token.json, got %q", shown)
		}
	case "redis", "rediss":
		if u.Hostname() == "" {
			p.fail(name, "a redis store needs a host, like redis://:password@10.0.0.5:6379/0, got %q", shown)
			break
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				p.fail(name, "invalid port in %q", shown)
			}
		}
		if db := strings.Trim(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				p.fail(name, "the redis database must be a number, like redis://host:6379/0, got %q", shown)
			}
		}
	case "memory":
		// In-process only: fine for tests and a single instance.
	default:
		p.fail(name, "scheme must be file, redis, rediss or memory, got %q", shown)
	}
	return raw
}

// parseDuration accepts Go duration syntax ("90s", "5m") or a plain number of seconds.
func parseDuration(s string) (time.Duration, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func (p *parser) duration(name string, lo, hi time.Duration) time.Duration {
	raw := p.get(name)
	d, ok := parseDuration(raw)
	if !ok {
		p.fail(name, "must be a duration like %q or a number of seconds, got %q", defaultOf(name), raw)
		return 0
	}
	if d < lo || d > hi {
		p.fail(name, "must be between %s and %s, got %q", lo, hi, raw)
		return 0
	}
	return d
}

// defaultInstanceMemory is what MAX_INFLIGHT_BYTES=auto sizes for without GOMEMLIMIT: the
// smallest SCF instance, so that the default is safe everywhere.
const defaultInstanceMemory = 64 << 20

// inflight reads MAX_INFLIGHT_BYTES. A request's body is held about 1.5 to 2 times over
// while it is served (the body, the decoded image, the upload to WeChat; measured in
// bench/reliability), on top of a resident base of about 20 MB: a quarter of the memory for
// bodies keeps the whole under the limit.
func (p *parser) inflight(memLimit string) int64 {
	const name = "MAX_INFLIGHT_BYTES"
	raw := p.get(name)
	if strings.EqualFold(raw, "auto") {
		mem := int64(defaultInstanceMemory)
		if v := memLimit; v != "" && !strings.EqualFold(v, "off") {
			n, ok := parseByteSize(v)
			if !ok {
				p.fail(name, "is auto, but GOMEMLIMIT %q is not a size like 64MiB", v)
				return 0
			}
			mem = n
		}
		return max(mem/4, 4<<20)
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		p.fail(name, "must be auto or a number of bytes (0 for no bound), got %q", raw)
		return 0
	}
	return n
}

// parseByteSize reads the runtime's GOMEMLIMIT syntax: an integer with an optional unit B,
// KiB, MiB, GiB or TiB.
func parseByteSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// intRange reads an integer in [lo, hi].
func (p *parser) intRange(name string, lo, hi int) int {
	raw := p.get(name)
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		p.fail(name, "must be an integer between %d and %d, got %q", lo, hi, raw)
		return 0
	}
	return n
}

func (p *parser) maxImageBytes() int64 {
	const name = "MAX_IMAGE_BYTES"
	raw := p.get(name)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 || n > MaxImageBytesLimit {
		p.fail(name, "must be a positive integer ≤ %d, got %q", MaxImageBytesLimit, raw)
		return 0
	}
	return n
}

// boolean reads true or false (any form strconv.ParseBool takes).
func (p *parser) boolean(name string) bool {
	raw := p.get(name)
	b, err := strconv.ParseBool(raw)
	if err != nil {
		p.fail(name, "must be true or false, got %q", raw)
	}
	return b
}

// count reads a non-negative integer limit (0 = off).
func (p *parser) count(name string) int {
	raw := p.get(name)
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > maxRateLimit {
		p.fail(name, "must be an integer from 0 (off) to %d, got %q", maxRateLimit, raw)
		return 0
	}
	return n
}

// keyPrefix reads a Redis key prefix: at most 128 characters without spaces.
func (p *parser) keyPrefix(name string) string {
	v := p.get(name)
	if len(v) > 128 || strings.ContainsFunc(v, isSpaceOrControl) {
		p.fail(name, "must be at most 128 characters without spaces, got %q", v)
	}
	return v
}

func (p *parser) hosts(name string) []string {
	hosts := splitList(p.get(name))
	for _, h := range hosts {
		if err := imagesrc.ValidateHostPattern(h); err != nil {
			p.fail(name, "entry %q is not a host, host:port or *.domain", h)
		}
	}
	return hosts
}

func (p *parser) logLevel() slog.Level {
	const name = "LOG_LEVEL"
	raw := p.get(name)
	if strings.EqualFold(raw, "warning") {
		return slog.LevelWarn
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(raw)); err != nil {
		p.fail(name, "must be debug, info, warn or error, got %q", raw)
		return slog.LevelInfo
	}
	return l
}

// redactURLText hides the password (and password-like query values) of a URL given as text,
// for error messages about a value that failed to validate.
func redactURLText(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "***" // unparseable and may hold credentials: show nothing
		}
		return raw
	}
	return redactURL(u)
}

// redactURL prints u with its password and password-like query parameters as ***.
func redactURL(u *url.URL) string {
	r := *u
	if pw, ok := r.User.Password(); ok && pw != "" {
		r.User = url.UserPassword(r.User.Username(), "***")
	}
	if r.RawQuery != "" {
		q := r.Query()
		changed := false
		for k := range q {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "pass") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "key") {
				q[k] = []string{"***"}
				changed = true
			}
		}
		if changed {
			r.RawQuery = q.Encode()
		}
	}
	// url.URL.String would escape the asterisks in the user info; they are ours, undo it.
	return strings.ReplaceAll(strings.ReplaceAll(r.String(), "%2A%2A%2A", "***"), "%2a%2a%2a", "***")
}

func redactKeys(keys []string) string {
	switch len(keys) {
	case 0:
		return ""
	case 1:
		return "*** (1 key)"
	}
	return fmt.Sprintf("*** (%d keys)", len(keys))
}

func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// Redacted returns every variable's effective value as it would be written back to the
// environment, with secrets replaced by "***" (key lists keep their count).
func (c *Config) Redacted() map[string]string {
	m := map[string]string{
		"WX_APPID":                    c.AppID,
		"WX_APPSECRET":                redactSecret(c.AppSecret),
		"WX_API_BASE":                 redactURLText(c.APIBase),
		"WX_CLOUD_ENV":                c.CloudEnv,
		"API_KEYS":                    redactKeys(c.APIKeys),
		"ADMIN_API_KEYS":              redactKeys(c.AdminKeys),
		"TOKEN_SOURCE":                c.TokenSource,
		"TOKEN_STORE":                 redactURLText(c.TokenStore),
		"TOKEN_KEY_PREFIX":            c.TokenKeyPrefix,
		"TOKEN_EXPIRY_MARGIN":         c.TokenMargin.String(),
		"TOKEN_REFRESH_LEAD":          c.TokenRefreshLead.String(),
		"CLOUDBASE_ACCESS_TOKEN_FILE": c.CloudBaseTokenFile,
		"WX_CLOUDBASE_ACCESSTOKEN":    redactSecret(c.CloudBaseToken),
		"MAX_IMAGE_BYTES":             strconv.FormatInt(c.MaxImageBytes, 10),
		"IMAGE_URL_ALLOW_HOSTS":       strings.Join(c.ImageURLAllowHosts, ","),
		"IMAGE_URL_TRUSTED_HOSTS":     strings.Join(c.ImageURLTrustedHosts, ","),
		"UPSTREAM_TIMEOUT":            c.UpstreamTimeout.String(),
		"REQUEST_TIMEOUT":             c.RequestTimeout.String(),
		"MAX_CONNECTIONS":             strconv.Itoa(c.MaxConnections),
		"MAX_INFLIGHT_BYTES":          strconv.FormatInt(c.MaxInflightBytes, 10),
		"GOMEMLIMIT":                  c.MemoryLimit,
		"RATE_LIMIT_PER_MINUTE":       strconv.Itoa(c.RateLimitPerMinute),
		"RATE_LIMIT_KEY_PREFIX":       c.RateLimitKeyPrefix,
		"RATE_LIMIT_PER_DAY":          strconv.Itoa(c.RateLimitPerDay),
		"OCR_DAILY_BUDGET_WECHAT":     strconv.Itoa(c.DailyBudgetWeChat),
		"OCR_DAILY_BUDGET_TENCENT":    strconv.Itoa(c.DailyBudgetTencent),
		"RESULT_CACHE_TTL":            c.ResultCacheTTL.String(),
		"STORE_SECRET":                redactSecret(c.StoreSecret),
		"LOG_LEVEL":                   strings.ToLower(c.LogLevel.String()),
		"OCR_PROVIDER":                c.OCRProvider,
		"OCR_TENCENT_REGION":          c.TencentRegion,
		"OCR_TENCENT_ENDPOINT":        c.TencentEndpoint,
		"TENCENTCLOUD_SECRETID":       c.TencentSecretID,
		"TENCENTCLOUD_SECRETKEY":      redactSecret(c.TencentSecretKey),
		"TENCENTCLOUD_SESSIONTOKEN":   redactSecret(c.TencentSessionToken),
		"CLOUD_HOSTING":               strconv.FormatBool(c.CloudHosting),
	}
	return m
}

// Print writes one NAME=value line per variable, in documentation order, secrets redacted:
// the output of --print-config.
func (c *Config) Print(w io.Writer) error {
	r := c.Redacted()
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Name, r[v.Name])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the redacted configuration on one line, so that printing a Config by accident
// leaks nothing.
func (c Config) String() string {
	r := c.Redacted()
	parts := make([]string, 0, len(vars))
	for _, v := range vars {
		parts = append(parts, v.Name+"="+strconv.Quote(r[v.Name]))
	}
	return strings.Join(parts, " ")
}

// LogValue makes slog log the redacted configuration.
func (c Config) LogValue() slog.Value {
	r := c.Redacted()
	attrs := make([]slog.Attr, 0, len(vars))
	for _, v := range vars {
		attrs = append(attrs, slog.String(v.Name, r[v.Name]))
	}
	return slog.GroupValue(attrs...)
}
