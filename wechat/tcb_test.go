package wechat

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestBatchDownloadFile(t *testing.T) {
	const a = "cloud://env-id.7465-env-id-1258717764/cards/a.jpg"
	const missing = "cloud://env-id.7465-env-id-1258717764/cards/missing.jpg"
	e := newEnv(t, tokens("T"))
	e.mux.HandleFunc("/tcb/batchdownloadfile", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.RawQuery != "access_token=T" {
			t.Errorf("%s ?%s", r.Method, r.URL.RawQuery)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		b, _ := io.ReadAll(r.Body)
		want := `{"env":"env-id","file_list":[{"fileid":"` + a + `","max_age":601},{"fileid":"` + missing + `","max_age":601}]}`
		if string(b) != want {
			t.Errorf("body\n got %s\nwant %s", b, want)
		}
		writeJSON(w, 200, testdata(t, "batchdownloadfile.json"))
	})
	// 600.2 s rounds up: a URL must not expire before the caller asked.
	files, err := e.client.BatchDownloadFile(context.Background(), "", []string{a, missing}, 600*time.Second+200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := []FileURL{
		{FileID: a, DownloadURL: "https://7465-env-id-1258717764.tcb.qcloud.la/cards/a.jpg?sign=abc&t=1700000000", Status: 0, ErrMsg: "ok"},
		{FileID: missing, Status: -503003, ErrMsg: "file not exist"},
	}
	if len(files) != len(want) {
		t.Fatalf("files %+v", files)
	}
	for i := range want {
		if files[i] != want[i] {
			t.Errorf("file %d: %+v, want %+v", i, files[i], want[i])
		}
	}
}

func TestBatchDownloadFileEnvAndDefaults(t *testing.T) {
	e := newEnv(t, tokens("T"))
	var got string
	e.mux.HandleFunc("/tcb/batchdownloadfile", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		writeJSON(w, 200, []byte(`{"errcode":"0","errmsg":"ok","file_list":[{"fileid":"x","download_url":"u","status":"0"}]}`))
	})
	files, err := e.client.BatchDownloadFile(context.Background(), "explicit-env", []string{"cloud://other.b/p.jpg"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"env":"explicit-env","file_list":[{"fileid":"cloud://other.b/p.jpg","max_age":7200}]}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if len(files) != 1 || files[0].Status != 0 || files[0].DownloadURL != "u" {
		t.Errorf("files %+v", files)
	}

	for name, ids := range map[string][]string{
		"none":       nil,
		"mixed envs": {"cloud://a.b/p.jpg", "cloud://c.d/p.jpg"},
		"not cloud":  {"https://x/y.jpg"},
		"empty id":   {"cloud://a.b/p.jpg", ""},
	} {
		if _, err := e.client.BatchDownloadFile(context.Background(), "", ids, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEnvFromFileID(t *testing.T) {
	good := map[string]string{
		"cloud://env-id.7465-env-id-1258717764/cards/a.jpg": "env-id",
		"cloud://prod-1a2b.6d79-prod-1a2b-1300000000/x":     "prod-1a2b",
	}
	for id, want := range good {
		if got, err := EnvFromFileID(id); err != nil || got != want {
			t.Errorf("EnvFromFileID(%q) = %q, %v; want %q", id, got, err, want)
		}
	}
	for _, id := range []string{"", "cloud://", "cloud://env/a.jpg", "cloud://.b/a.jpg", "cloud://env./a.jpg", "cloud://env.b", "cloud://env.b/", "https://env.b/a"} {
		if got, err := EnvFromFileID(id); err == nil {
			t.Errorf("EnvFromFileID(%q) = %q, want error", id, got)
		}
	}
}
