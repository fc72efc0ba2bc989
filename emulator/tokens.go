package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// overlap is how long WeChat keeps a superseded token valid, and how early it rotates a stable
// token.
const overlap = 5 * time.Minute

// tokenRecord is the emulator's view of one issued token.
type tokenRecord struct {
	stable bool
	// cloudbase marks a CloudBase access token: accepted only as cloudbase_access_token=,
	// as WeChat tokens are accepted only as access_token=.
	cloudbase bool
	expiresAt time.Time
	// invalidAt is when the token stopped (or stops) being the latest: superseded, force
	// refreshed or revoked. Zero means never. Past it the token answers 40001, past
	// expiresAt 42001, whichever came first.
	invalidAt time.Time
}

type legacyState struct {
	current string
	day     string
	count   int
}

type stableState struct {
	current    string
	day        string
	forceCount int
	lastForce  time.Time
}

// quotaZone is Beijing time: WeChat's daily quotas reset at its midnight.
var quotaZone = time.FixedZone("CST", 8*3600)

func dayKey(t time.Time) string { return t.In(quotaZone).Format(time.DateOnly) }

// rotationLead is how early the stable token rotates: WeChat's 5 minutes, shortened for test
// TTLs of 10 minutes or less so that a stable token is still reused for half its life.
func (e *Emulator) rotationLead() time.Duration {
	return min(overlap, e.ttl/2)
}

// tokenState classifies value at now: 0 if usable, else the errcode WeChat would answer.
func (e *Emulator) tokenState(value string, now time.Time) int {
	if value == "" {
		return CodeTokenMissing
	}
	rec := e.tokens[value]
	if rec == nil {
		return CodeInvalidCredential
	}
	expired := !now.Before(rec.expiresAt)
	invalid := !rec.invalidAt.IsZero() && !now.Before(rec.invalidAt)
	switch {
	case invalid && (!expired || rec.invalidAt.Before(rec.expiresAt)):
		return CodeInvalidCredential
	case expired:
		return CodeTokenExpired
	}
	return 0
}

// checkToken answers the API call's token check; false means an error was written. The
// token is access_token= (a WeChat token) or, from CloudBase, cloudbase_access_token= (a token
// of IssueCloudBaseToken); a token given in the other parameter is not recognised.
func (e *Emulator) checkToken(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if e.open && !q.Has("access_token") && !q.Has("cloudbase_access_token") {
		return true
	}
	value, cloudbase := q.Get("access_token"), false
	if cb, ok := q["cloudbase_access_token"]; ok && value == "" && len(cb) > 0 {
		value, cloudbase = cb[0], true
	}
	e.mu.Lock()
	code := e.tokenState(value, e.now())
	if rec := e.tokens[value]; code == 0 && rec.cloudbase != cloudbase {
		code = CodeInvalidCredential
	}
	e.mu.Unlock()
	if code != 0 {
		e.fail(w, code, "")
		return false
	}
	return true
}

// Revoke invalidates every token issued so far (they answer 40001), CloudBase tokens
// included, as when the app secret is reset or another party rotated the token; the next
// fetch issues a fresh one.
func (e *Emulator) Revoke() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for _, rec := range e.tokens {
		if rec.invalidAt.IsZero() || rec.invalidAt.After(now) {
			rec.invalidAt = now
		}
	}
	e.legacy.current = ""
	e.stable.current = ""
}

// issueLocked creates a token valid for the TTL from now. Caller holds e.mu.
func (e *Emulator) issueLocked(stable bool, now time.Time) string {
	e.pruneLocked(now)
	v := newTokenValue()
	e.tokens[v] = &tokenRecord{stable: stable, expiresAt: now.Add(e.ttl)}
	e.issued++
	return v
}

// DefaultCloudBaseTokenTTL is the lifetime of a CloudBase access token when
// IssueCloudBaseToken is given none: CloudBase's documented 30 minutes.
const DefaultCloudBaseTokenTTL = 30 * time.Minute

// IssueCloudBaseToken returns a new CloudBase access token valid for ttl (default
// DefaultCloudBaseTokenTTL), accepted as cloudbase_access_token= by /cv/ocr/idcard and
// /tcb/batchdownloadfile. CloudBase pushes these into the function (a file or
// WX_CLOUDBASE_ACCESSTOKEN) rather than handing them out on request, so tests issue them here
// and write them where the function reads them. They are independent of stable and legacy
// tokens and do not count in Stats.TokensIssued (no token endpoint was called).
func (e *Emulator) IssueCloudBaseToken(ttl time.Duration) string {
	if ttl <= 0 {
		ttl = DefaultCloudBaseTokenTTL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.pruneLocked(now)
	v := "cb_" + newTokenValue()
	e.tokens[v] = &tokenRecord{cloudbase: true, expiresAt: now.Add(ttl)}
	return v
}

// pruneLocked forgets tokens a day past their end, bounding memory; forgotten tokens answer
// 40001 instead of 42001, which WeChat also does for very old tokens.
func (e *Emulator) pruneLocked(now time.Time) {
	for v, rec := range e.tokens {
		end := rec.expiresAt
		if !rec.invalidAt.IsZero() && rec.invalidAt.Before(end) {
			end = rec.invalidAt
		}
		if now.Sub(end) > 24*time.Hour {
			delete(e.tokens, v)
		}
	}
}

// newTokenValue looks like a real access token: a version prefix and 150 URL-safe characters
// (real ones are 130-160 characters; clients must reserve 512).
func newTokenValue() string {
	b := make([]byte, 112)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic("emulator: crypto/rand: " + err.Error())
	}
	return "95_" + base64.RawURLEncoding.EncodeToString(b)
}

// tokenResponse is the success body of both token endpoints.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// remaining is expires_in: whole seconds left, rounded down so that a client adding it to its
// clock never overestimates the lifetime.
func remaining(rec *tokenRecord, now time.Time) int64 {
	return int64(rec.expiresAt.Sub(now) / time.Second)
}

// checkCredentials validates grant_type, appid and secret in WeChat's order; 0 if good.
func (e *Emulator) checkCredentials(grantType, appID, secret string) int {
	switch {
	case grantType != "client_credential":
		return CodeInvalidGrantType
	case appID == "":
		return CodeAppIDMissing
	case secret == "":
		return CodeSecretMissing
	case subtle.ConstantTimeCompare([]byte(appID), []byte(e.appID)) != 1:
		return CodeInvalidAppID
	case subtle.ConstantTimeCompare([]byte(secret), []byte(e.secret)) != 1:
		return CodeInvalidSecret
	}
	return 0
}

// serveToken is the legacy GET /cgi-bin/token: every call issues a new token and the previous
// one stays valid for 5 more minutes.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		e.fail(w, CodeRequireGET, "")
		return
	}
	q := r.URL.Query()
	if code := e.checkCredentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret")); code != 0 {
		e.fail(w, code, "")
		return
	}
	e.mu.Lock()
	now := e.now()
	if d := dayKey(now); d != e.legacy.day {
		e.legacy.day, e.legacy.count = d, 0
	}
	if e.legacy.count >= e.legacyLimit {
		e.mu.Unlock()
		e.fail(w, CodeDailyLimit, "")
		return
	}
	e.legacy.count++
	if prev := e.tokens[e.legacy.current]; prev != nil {
		if end := now.Add(overlap); prev.invalidAt.IsZero() || prev.invalidAt.After(end) {
			prev.invalidAt = end
		}
	}
	v := e.issueLocked(false, now)
	e.legacy.current = v
	resp := tokenResponse{AccessToken: v, ExpiresIn: remaining(e.tokens[v], now)}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

type stableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// serveStableToken is POST /cgi-bin/stable_token. Normal mode returns the current token while
// at least 5 minutes remain, then issues a new one while the old one lives out its time.
// force_refresh issues a new one and invalidates the previous at once, at most ForceRefresh
// DailyLimit times a day and ForceRefreshInterval apart.
func (e *Emulator) serveStableToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e.fail(w, CodeRequirePOST, "")
		return
	}
	var req stableTokenRequest
	if !e.readJSON(w, r, 64<<10, &req) {
		return
	}
	if code := e.checkCredentials(req.GrantType, req.AppID, req.Secret); code != 0 {
		e.fail(w, code, "")
		return
	}

	e.mu.Lock()
	now := e.now()
	if d := dayKey(now); d != e.stable.day {
		e.stable.day, e.stable.forceCount = d, 0
	}
	cur := e.tokens[e.stable.current]
	var v string
	switch {
	case req.ForceRefresh && e.stable.forceCount >= e.forceLimit:
		e.mu.Unlock()
		e.fail(w, CodeDailyLimit, "force_refresh")
		return
	case req.ForceRefresh && !e.stable.lastForce.IsZero() && now.Sub(e.stable.lastForce) < e.forceGap:
		e.mu.Unlock()
		e.fail(w, CodeFrequencyLimit, "force_refresh")
		return
	case req.ForceRefresh:
		e.stable.forceCount++
		e.stable.lastForce = now
		for _, rec := range e.tokens {
			if rec.stable && (rec.invalidAt.IsZero() || rec.invalidAt.After(now)) {
				rec.invalidAt = now
			}
		}
		v = e.issueLocked(true, now)
	case cur != nil && e.tokenState(e.stable.current, now) == 0 && cur.expiresAt.Sub(now) >= e.rotationLead():
		v = e.stable.current
	default:
		v = e.issueLocked(true, now)
	}
	e.stable.current = v
	resp := tokenResponse{AccessToken: v, ExpiresIn: remaining(e.tokens[v], now)}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// readJSON decodes a JSON request body of at most limit bytes into v, answering WeChat's
// errcode for an unreadable (-1), empty (44002) or malformed (47001) body; false means answered.
func (e *Emulator) readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		e.fail(w, CodeSystemBusy, "")
		return false
	}
	if len(body) == 0 {
		e.fail(w, CodeEmptyPostData, "")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.fail(w, CodeDataFormat, "")
		return false
	}
	return true
}
