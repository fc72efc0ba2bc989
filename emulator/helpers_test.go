package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/fakeclock"
)

// testStart is 10:00 Beijing time, far from the quota day boundary.
var testStart = time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	e     *Emulator
	srv   *httptest.Server
	clock *fakeclock.Clock // settable, for exact token boundaries
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	c := fakeclock.New(testStart)
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Files == nil {
		o.Files = SampleFiles()
	}
	e := New(o)
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, e: e, srv: srv, clock: c}
}

// wx is a decoded WeChat answer.
type wx map[string]any

func (m wx) code() int {
	c, ok := m["errcode"].(float64)
	if !ok {
		return 0
	}
	return int(c)
}

func (m wx) str(k string) string { s, _ := m[k].(string); return s }

var ridRE = regexp.MustCompile(` rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)

func (h *harness) do(req *http.Request) (int, wx) {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	var m wx
	if err := json.Unmarshal(body, &m); err != nil {
		h.t.Fatalf("%s %s: status %d, body %q is not JSON: %v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	if m.code() != 0 && !ridRE.MatchString(m.str("errmsg")) {
		h.t.Errorf("errmsg %q does not end with a WeChat rid", m.str("errmsg"))
	}
	return resp.StatusCode, m
}

func (h *harness) get(path string, q url.Values) wx {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path+"?"+q.Encode(), nil)
	_, m := h.do(req)
	return m
}

func (h *harness) postJSON(path string, q url.Values, body any) wx {
	h.t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	u := h.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	_, m := h.do(req)
	return m
}

func (h *harness) stable(force bool) wx {
	h.t.Helper()
	return h.postJSON(PathStableToken, nil, map[string]any{
		"grant_type": "client_credential", "appid": DefaultAppID, "secret": DefaultSecret, "force_refresh": force,
	})
}

func (h *harness) legacy() wx {
	h.t.Helper()
	return h.get(PathToken, url.Values{"grant_type": {"client_credential"}, "appid": {DefaultAppID}, "secret": {DefaultSecret}})
}

// token fetches a stable token or fails the test.
func (h *harness) token() string {
	h.t.Helper()
	m := h.stable(false)
	tok := m.str("access_token")
	if tok == "" {
		h.t.Fatalf("stable_token: %v", m)
	}
	return tok
}

// ocrURL calls cv/ocr/idcard with img_url.
func (h *harness) ocrURL(token, imgURL string) wx {
	h.t.Helper()
	return h.postJSON(PathOCRIDCard, url.Values{"access_token": {token}, "img_url": {imgURL}}, "")
}

// ocrUpload calls cv/ocr/idcard with a multipart upload in field field.
func (h *harness) ocrUpload(token, field string, img []byte) wx {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("note", "ignored")
	fw, _ := mw.CreateFormFile(field, "card.png")
	_, _ = fw.Write(img)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+PathOCRIDCard+"?"+url.Values{"access_token": {token}}.Encode(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	_, m := h.do(req)
	return m
}

// downloadURL resolves a sample file through tcb/batchdownloadfile.
func (h *harness) downloadURL(token, path string) string {
	h.t.Helper()
	m := h.batch(token, "env-1", "cloud://env-1.7465-env-1-1258717764/"+path)
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

func (h *harness) batch(token, env string, ids ...string) wx {
	h.t.Helper()
	list := make([]map[string]any, len(ids))
	for i, id := range ids {
		list[i] = map[string]any{"fileid": id, "max_age": 600}
	}
	return h.postJSON(PathBatchDL, url.Values{"access_token": {token}}, map[string]any{"env": env, "file_list": list})
}

func wantCode(t *testing.T, what string, m wx, code int) {
	t.Helper()
	if m.code() != code {
		t.Fatalf("%s: errcode %d, want %d (answer %v)", what, m.code(), code, m)
	}
	if code == 0 && m["errcode"] != nil && m.str("errmsg") != "ok" {
		t.Fatalf("%s: errmsg %q, want ok", what, m.str("errmsg"))
	}
}

// recordSleeps replaces the emulator's fault delay with one that returns at once and records
// the delay asked for; the returned func lists the delays so far.
func (h *harness) recordSleeps() func() []time.Duration {
	var mu sync.Mutex
	var slept []time.Duration
	h.e.sleep = func(_ *http.Request, d time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return true
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), slept...)
	}
}
