package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func fileList(t *testing.T, m wx) []wx {
	t.Helper()
	wantCode(t, "batchdownloadfile", m, 0)
	raw, _ := m["file_list"].([]any)
	out := make([]wx, len(raw))
	for i, f := range raw {
		out[i] = wx(f.(map[string]any))
	}
	return out
}

func fetch(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestBatchDownloadPerFileStatus(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	ids := []string{
		"cloud://env-1.7465-env-1-1258717764/cards/front.png",
		"cloud://env-1.7465-env-1-1258717764/cards/missing.png",
		"cloud://env-2.7465-env-2-1258717764/cards/front.png",
		"https://example.com/cards/front.png",
		"cloud://env-1.b/../secret",
		"cloud://env-1.b/cards",
		"cloud://env-1.7465-env-1-1258717764/cards/back.png",
	}
	files := fileList(t, h.batch(tok, "env-1", ids...))
	wantStatus := []int{0, FileStatusNotExist, FileStatusInvalidID, FileStatusInvalidID, FileStatusInvalidID, FileStatusNotExist, 0}
	if len(files) != len(ids) {
		t.Fatalf("%d answers for %d files", len(files), len(ids))
	}
	for i, f := range files {
		if f.str("fileid") != ids[i] {
			t.Errorf("answer %d is for %q, want %q (order kept)", i, f.str("fileid"), ids[i])
		}
		if got := int(f["status"].(float64)); got != wantStatus[i] {
			t.Errorf("%s: status %d, want %d", ids[i], got, wantStatus[i])
		}
		if (wantStatus[i] == 0) != (f.str("download_url") != "") {
			t.Errorf("%s: download_url %q with status %d", ids[i], f.str("download_url"), wantStatus[i])
		}
		if wantStatus[i] == 0 && f.str("errmsg") != "ok" {
			t.Errorf("%s: errmsg %q", ids[i], f.str("errmsg"))
		}
	}

	u := files[0].str("download_url")
	if !strings.HasPrefix(u, h.srv.URL+PathFiles+"/env-1/7465-env-1-1258717764/cards/front.png?") {
		t.Fatalf("download_url %q does not point back at the emulator", u)
	}
	code, body := fetch(t, u)
	if code != http.StatusOK || !bytes.Equal(body, sample(t, "front.png")) {
		t.Fatalf("download: status %d, %d bytes", code, len(body))
	}
}

func TestDownloadURLSignatureAndExpiry(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	m := h.postJSON(PathBatchDL, url.Values{"access_token": {tok}}, map[string]any{
		"env": "env-1", "file_list": []map[string]any{{"fileid": "cloud://env-1.b/cards/back.png", "max_age": 60}},
	})
	u := fileList(t, m)[0].str("download_url")
	parsed, _ := url.Parse(u)

	other := *parsed
	other.Path = strings.Replace(other.Path, "back.png", "front.png", 1)
	if code, _ := fetch(t, other.String()); code != http.StatusForbidden {
		t.Fatalf("URL signed for another file: status %d, want 403", code)
	}
	q := parsed.Query()
	q.Set("t", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	forged := *parsed
	forged.RawQuery = q.Encode()
	if code, _ := fetch(t, forged.String()); code != http.StatusForbidden {
		t.Fatalf("extended expiry: status %d, want 403", code)
	}

	h.clock.Add(60*time.Second - time.Nanosecond)
	if code, _ := fetch(t, u); code != http.StatusOK {
		t.Fatalf("1 ns before max_age: status %d", code)
	}
	h.clock.Add(time.Nanosecond)
	if code, _ := fetch(t, u); code != http.StatusForbidden {
		t.Fatalf("at max_age: status %d, want 403", code)
	}
	if code, _ := fetch(t, h.srv.URL+PathFiles+"/env-1"); code != http.StatusNotFound {
		t.Fatalf("short file path: status %d, want 404", code)
	}
	resp, err := http.Post(u, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to a download URL: %d", resp.StatusCode)
	}
}

func TestDownloadURLUsesRequestHost(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+PathBatchDL+"?access_token="+url.QueryEscape(tok),
		strings.NewReader(`{"env":"e","file_list":[{"fileid":"cloud://e.b/cards/front.png","max_age":10}]}`))
	req.Host = "emulator.test:9000"
	_, m := h.do(req)
	if u := fileList(t, m)[0].str("download_url"); !strings.HasPrefix(u, "http://emulator.test:9000/_emulator/files/e/b/cards/front.png?") {
		t.Fatalf("download_url %q", u)
	}
}

func TestBatchDownloadRequestErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	q := url.Values{"access_token": {tok}}
	many := make([]string, maxFilesPerBatch+1)
	for i := range many {
		many[i] = "cloud://e.b/cards/front.png"
	}
	wantCode(t, "51 files", h.batch(tok, "e", many...), CodeInvalidArgs)
	if n := len(fileList(t, h.batch(tok, "e", many[:maxFilesPerBatch]...))); n != maxFilesPerBatch {
		t.Fatalf("50 files: %d answers", n)
	}
	wantCode(t, "no env", h.batch(tok, "", "cloud://e.b/cards/front.png"), CodeInvalidArgs)
	wantCode(t, "no files", h.batch(tok, "e"), CodeInvalidArgs)
	wantCode(t, "empty body", h.postJSON(PathBatchDL, q, ""), CodeEmptyPostData)
	wantCode(t, "bad JSON", h.postJSON(PathBatchDL, q, "{"), CodeDataFormat)
	wantCode(t, "unknown token", h.batch("95_x", "e", "cloud://e.b/cards/front.png"), CodeInvalidCredential)
	wantCode(t, "GET", h.get(PathBatchDL, q), CodeRequirePOST)
}

func TestFilesFromDirAndNil(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/x", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/x/card.png", sample(t, "back.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Files: os.DirFS(dir)})
	tok := h.token()
	files := fileList(t, h.batch(tok, "e", "cloud://e.b/x/card.png", "cloud://e.b/cards/front.png"))
	if files[0].str("download_url") == "" || int(files[1]["status"].(float64)) != FileStatusNotExist {
		t.Fatalf("%v", files)
	}
	m := h.ocrURL(tok, files[0].str("download_url"))
	if m.str("valid_date") != "20190308-20290308" {
		t.Fatalf("OCR of a file served from a directory: %v", m)
	}

	e := New(Options{})
	if e.fileExists("cards/front.png") {
		t.Fatal("nil Files serves files")
	}
}
