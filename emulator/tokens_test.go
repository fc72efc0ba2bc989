package emulator

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// check answers the errcode an API call with tok gets (0 = accepted).
func (h *harness) check(tok string) int {
	h.t.Helper()
	return h.batch(tok, "env-1", "cloud://env-1.b/cards/front.png").code()
}

func expiresIn(t *testing.T, m wx) int {
	t.Helper()
	v, ok := m["expires_in"].(float64)
	if !ok {
		t.Fatalf("no expires_in in %v", m)
	}
	return int(v)
}

var tokenRE = regexp.MustCompile(`^[0-9]+_[A-Za-z0-9_-]+$`)

func TestTokenValueLooksReal(t *testing.T) {
	h := newHarness(t, Options{})
	seen := map[string]bool{}
	for range 5 {
		tok := h.legacy().str("access_token")
		if len(tok) < 100 || len(tok) > 512 || !tokenRE.MatchString(tok) {
			t.Fatalf("token %q: want 100-512 chars of [A-Za-z0-9_-] after a version prefix", tok)
		}
		if seen[tok] {
			t.Fatal("legacy endpoint issued the same token twice")
		}
		seen[tok] = true
	}
}

func TestStableTokenReusedUntilFiveMinutesLeft(t *testing.T) {
	h := newHarness(t, Options{})
	first := h.stable(false)
	a := first.str("access_token")
	if got := expiresIn(t, first); got != 7200 {
		t.Fatalf("fresh expires_in = %d, want 7200", got)
	}
	if first["errcode"] != nil {
		t.Fatalf("success carries errcode: %v", first)
	}

	h.clock.Add(7200*time.Second - overlap) // exactly 300 s left: still the same token
	m := h.stable(false)
	if m.str("access_token") != a || expiresIn(t, m) != 300 {
		t.Fatalf("at 300 s left: token changed=%v expires_in=%d, want same token and 300", m.str("access_token") != a, expiresIn(t, m))
	}

	h.clock.Add(time.Nanosecond) // under 300 s: rotate
	m = h.stable(false)
	b := m.str("access_token")
	if b == a || expiresIn(t, m) != 7200 {
		t.Fatalf("under 300 s left: rotated=%v expires_in=%d, want new token with 7200", b != a, expiresIn(t, m))
	}
	if got := h.e.Stats().TokensIssued; got != 2 {
		t.Fatalf("TokensIssued = %d, want 2", got)
	}

	// The old token lives out its time: valid 1 ns before its expiry, expired at it.
	h.clock.Add(overlap - 2*time.Nanosecond)
	if code := h.check(a); code != 0 {
		t.Fatalf("old token 1 ns before expiry: errcode %d", code)
	}
	h.clock.Add(time.Nanosecond)
	if code := h.check(a); code != CodeTokenExpired {
		t.Fatalf("old token at expiry: errcode %d, want 42001", code)
	}
	if code := h.check(b); code != 0 {
		t.Fatalf("new token: errcode %d", code)
	}
	if got := h.stable(false).str("access_token"); got != b {
		t.Fatal("normal fetch after rotation did not return the new token")
	}
}

func TestStableTokenReissuedAfterExpiry(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 10 * time.Minute})
	a := h.token()
	h.clock.Add(11 * time.Minute)
	if code := h.check(a); code != CodeTokenExpired {
		t.Fatalf("errcode %d, want 42001", code)
	}
	m := h.stable(false)
	if m.str("access_token") == a || expiresIn(t, m) != 600 {
		t.Fatalf("after expiry: %v", m)
	}
}

func TestShortTTLRotatesAtHalfLife(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 2 * time.Second})
	a := h.token()
	h.clock.Add(time.Second)
	if h.token() != a {
		t.Fatal("2 s token rotated with half its life left")
	}
	h.clock.Add(time.Nanosecond)
	if h.token() == a {
		t.Fatal("2 s token not rotated past half its life")
	}
}

func TestTokenTTLBoundary(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 10 * time.Minute})
	a := h.token()
	h.clock.Add(10*time.Minute - time.Nanosecond)
	if code := h.check(a); code != 0 {
		t.Fatalf("1 ns before TTL: errcode %d", code)
	}
	m := h.stable(false)
	if m.str("access_token") == a {
		t.Fatal("a token with 1 ns left was handed out again")
	}
	h.clock.Add(time.Nanosecond)
	if code := h.check(a); code != CodeTokenExpired {
		t.Fatalf("at TTL: errcode %d, want 42001", code)
	}
}

func TestUnknownAndMissingToken(t *testing.T) {
	h := newHarness(t, Options{})
	if code := h.check("95_not-a-token"); code != CodeInvalidCredential {
		t.Fatalf("unknown token: errcode %d, want 40001", code)
	}
	if code := h.check(""); code != CodeTokenMissing {
		t.Fatalf("missing token: errcode %d, want 41001", code)
	}
}

func TestForceRefreshInvalidatesPrevious(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.token()
	m := h.stable(true)
	b := m.str("access_token")
	if b == "" || b == a || expiresIn(t, m) != 7200 {
		t.Fatalf("force_refresh: %v", m)
	}
	if code := h.check(a); code != CodeInvalidCredential {
		t.Fatalf("previous token after force_refresh: errcode %d, want 40001", code)
	}
	if h.token() != b {
		t.Fatal("normal fetch after force_refresh did not return the forced token")
	}

	// Spacing: 30 s between force refreshes, exact boundary.
	wantCode(t, "immediate second force", h.stable(true), CodeFrequencyLimit)
	h.clock.Add(30*time.Second - time.Nanosecond)
	wantCode(t, "force 1 ns early", h.stable(true), CodeFrequencyLimit)
	if code := h.check(b); code != 0 {
		t.Fatalf("refused force refresh invalidated the token: %d", code)
	}
	h.clock.Add(time.Nanosecond)
	c := h.stable(true).str("access_token")
	if c == "" || c == b {
		t.Fatal("force refresh 30 s later refused or returned the old token")
	}
	if code := h.check(b); code != CodeInvalidCredential {
		t.Fatalf("errcode %d, want 40001", code)
	}
}

func TestForceRefreshDailyLimit(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 20 {
		if m := h.stable(true); m.str("access_token") == "" {
			t.Fatalf("force refresh %d: %v", i+1, m)
		}
		h.clock.Add(30 * time.Second)
	}
	wantCode(t, "21st force refresh", h.stable(true), CodeDailyLimit)
	if m := h.stable(false); m.str("access_token") == "" {
		t.Fatalf("normal fetch after force quota: %v", m)
	}
	// Quotas reset at midnight Beijing time (16:00 UTC).
	next := time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)
	h.clock.Add(next.Sub(h.clock.Now()) - time.Nanosecond)
	wantCode(t, "1 ns before Beijing midnight", h.stable(true), CodeDailyLimit)
	h.clock.Add(time.Nanosecond)
	if m := h.stable(true); m.str("access_token") == "" {
		t.Fatalf("force refresh on the next day: %v", m)
	}
}

func TestLegacyTokenOverlap(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.legacy()
	a := m.str("access_token")
	if expiresIn(t, m) != 7200 {
		t.Fatalf("legacy expires_in %d", expiresIn(t, m))
	}
	h.clock.Add(time.Minute)
	b := h.legacy().str("access_token")
	if b == a {
		t.Fatal("legacy call returned the previous token")
	}
	h.clock.Add(overlap - time.Nanosecond)
	if code := h.check(a); code != 0 {
		t.Fatalf("previous legacy token within 5 min: errcode %d", code)
	}
	h.clock.Add(time.Nanosecond)
	if code := h.check(a); code != CodeInvalidCredential {
		t.Fatalf("previous legacy token after 5 min: errcode %d, want 40001", code)
	}
	if code := h.check(b); code != 0 {
		t.Fatalf("latest legacy token: errcode %d", code)
	}
}

func TestLegacyAndStableAreIndependent(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.token()
	l := h.legacy().str("access_token")
	h.legacy()
	h.clock.Add(overlap)
	if code := h.check(s); code != 0 {
		t.Fatalf("legacy calls invalidated the stable token: %d", code)
	}
	if code := h.check(l); code != CodeInvalidCredential {
		t.Fatalf("superseded legacy token: %d", code)
	}
	l2 := h.legacy().str("access_token")
	h.stable(true)
	if code := h.check(l2); code != 0 {
		t.Fatalf("stable force_refresh invalidated the legacy token: %d", code)
	}
}

func TestLegacyDailyLimit(t *testing.T) {
	h := newHarness(t, Options{LegacyDailyLimit: 3})
	for range 3 {
		if h.legacy().str("access_token") == "" {
			t.Fatal("legacy token refused within quota")
		}
	}
	wantCode(t, "over legacy quota", h.legacy(), CodeDailyLimit)
	h.clock.Add(24 * time.Hour)
	if h.legacy().str("access_token") == "" {
		t.Fatal("legacy quota did not reset the next day")
	}
}

func TestRevoke(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.token()
	l := h.legacy().str("access_token")
	h.e.Revoke()
	for name, tok := range map[string]string{"stable": s, "legacy": l} {
		if code := h.check(tok); code != CodeInvalidCredential {
			t.Fatalf("%s token after Revoke: errcode %d, want 40001", name, code)
		}
	}
	s2 := h.token()
	if s2 == s {
		t.Fatal("stable_token returned a revoked token")
	}
	if code := h.check(s2); code != 0 {
		t.Fatalf("fresh token after Revoke: %d", code)
	}
}

func TestTokenRequestErrors(t *testing.T) {
	h := newHarness(t, Options{AppID: "wxapp", Secret: "s3cret"})
	legacy := func(q url.Values) wx { return h.get(PathToken, q) }
	good := url.Values{"grant_type": {"client_credential"}, "appid": {"wxapp"}, "secret": {"s3cret"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	if legacy(good).str("access_token") == "" {
		t.Fatal("configured credentials refused")
	}
	legacyCases := []struct {
		name string
		q    url.Values
		code int
	}{
		{"wrong appid", with("appid", DefaultAppID), CodeInvalidAppID},
		{"wrong secret", with("secret", DefaultSecret), CodeInvalidSecret},
		{"missing appid", with("appid", ""), CodeAppIDMissing},
		{"missing secret", with("secret", ""), CodeSecretMissing},
		{"bad grant_type", with("grant_type", "password"), CodeInvalidGrantType},
	}
	for _, c := range legacyCases {
		wantCode(t, "legacy "+c.name, legacy(c.q), c.code)
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+PathToken+"?"+good.Encode(), nil)
	_, m := h.do(req)
	wantCode(t, "legacy POST", m, CodeRequireGET)

	body := func(appid, secret string) map[string]any {
		return map[string]any{"grant_type": "client_credential", "appid": appid, "secret": secret}
	}
	stableCases := []struct {
		name string
		body any
		code int
	}{
		{"wrong appid", body("wxother", "s3cret"), CodeInvalidAppID},
		{"wrong secret", body("wxapp", "nope"), CodeInvalidSecret},
		{"missing appid", body("", "s3cret"), CodeAppIDMissing},
		{"missing secret", body("wxapp", ""), CodeSecretMissing},
		{"bad grant_type", map[string]any{"grant_type": "x", "appid": "wxapp", "secret": "s3cret"}, CodeInvalidGrantType},
		{"empty body", "", CodeEmptyPostData},
		{"bad JSON", "{", CodeDataFormat},
		{"force_refresh as string", `{"grant_type":"client_credential","appid":"wxapp","secret":"s3cret","force_refresh":"true"}`, CodeDataFormat},
	}
	for _, c := range stableCases {
		wantCode(t, "stable "+c.name, h.postJSON(PathStableToken, nil, c.body), c.code)
	}
	if m := h.postJSON(PathStableToken, nil, body("wxapp", "s3cret")); m.str("access_token") == "" {
		t.Fatalf("stable with configured credentials: %v", m)
	}
	wantCode(t, "stable GET", h.get(PathStableToken, nil), CodeRequirePOST)
	if got := h.e.Stats().TokensIssued; got != 2 {
		t.Fatalf("TokensIssued = %d after errors, want 2", got)
	}
}
