package emulator

import (
	"net/url"
	"testing"
	"time"
)

func TestCloudBaseTokenAcceptedAsItsOwnParameter(t *testing.T) {
	h := newHarness(t, Options{})
	cb := h.e.IssueCloudBaseToken(0)
	if cb == "" || len(cb) > 512 {
		t.Fatalf("token %q", cb)
	}
	imgURL := h.downloadURLWith(url.Values{"cloudbase_access_token": {cb}}, "cards/front.png")
	wantFront(t, h.postJSON(PathOCRIDCard, url.Values{"cloudbase_access_token": {cb}, "img_url": {imgURL}}, ""))

	// The two kinds are separate credentials: each only in its own parameter.
	wantCode(t, "cloudbase token as access_token", h.ocrURL(cb, imgURL), CodeInvalidCredential)
	stable := h.token()
	wantCode(t, "stable token as cloudbase_access_token",
		h.postJSON(PathOCRIDCard, url.Values{"cloudbase_access_token": {stable}, "img_url": {imgURL}}, ""), CodeInvalidCredential)
	wantCode(t, "batch with a stable token as cloudbase_access_token",
		h.postJSON(PathBatchDL, url.Values{"cloudbase_access_token": {stable}}, map[string]any{"env": "env-1", "file_list": []any{}}), CodeInvalidCredential)
	wantCode(t, "empty cloudbase_access_token",
		h.postJSON(PathOCRIDCard, url.Values{"cloudbase_access_token": {""}, "img_url": {imgURL}}, ""), CodeTokenMissing)

	// Issuing one neither replaces the stable token nor counts as a token endpoint issue.
	if h.token() != stable {
		t.Fatal("a CloudBase token rotated the stable token")
	}
	if st := h.e.Stats(); st.TokensIssued != 1 {
		t.Fatalf("tokens issued = %d, want 1 (the stable one)", st.TokensIssued)
	}
}

func TestCloudBaseTokenExpiresAndIsRevoked(t *testing.T) {
	h := newHarness(t, Options{})
	cb := h.e.IssueCloudBaseToken(10 * time.Minute)
	q := url.Values{"cloudbase_access_token": {cb}}
	body := map[string]any{"env": "env-1", "file_list": []any{map[string]any{"fileid": "cloud://env-1.b/cards/front.png", "max_age": 60}}}
	wantCode(t, "fresh", h.postJSON(PathBatchDL, q, body), 0)
	h.clock.Add(10*time.Minute - time.Nanosecond)
	wantCode(t, "just before expiry", h.postJSON(PathBatchDL, q, body), 0)
	h.clock.Add(time.Nanosecond)
	wantCode(t, "at expiry", h.postJSON(PathBatchDL, q, body), CodeTokenExpired)

	cb2 := h.e.IssueCloudBaseToken(0)
	wantCode(t, "default TTL", h.postJSON(PathBatchDL, url.Values{"cloudbase_access_token": {cb2}}, body), 0)
	h.e.Revoke()
	wantCode(t, "revoked", h.postJSON(PathBatchDL, url.Values{"cloudbase_access_token": {cb2}}, body), CodeInvalidCredential)
}

// downloadURLWith resolves a sample file through tcb/batchdownloadfile with query q.
func (h *harness) downloadURLWith(q url.Values, path string) string {
	h.t.Helper()
	m := h.postJSON(PathBatchDL, q, map[string]any{"env": "env-1", "file_list": []any{map[string]any{"fileid": "cloud://env-1.7465-env-1-1258717764/" + path, "max_age": 600}}})
	list, _ := m["file_list"].([]any)
	if len(list) != 1 {
		h.t.Fatalf("batchdownloadfile: %v", m)
	}
	f := wx(list[0].(map[string]any))
	if f.code() != 0 || f["status"].(float64) != 0 {
		h.t.Fatalf("batchdownloadfile %s: %v", path, f)
	}
	return f.str("download_url")
}
