package wechat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNewValidatesOptions(t *testing.T) {
	bad := map[string]Option{
		"relative base":   WithBaseURL("/cgi-bin"),
		"ftp base":        WithBaseURL("ftp://api.weixin.qq.com"),
		"no host":         WithBaseURL("https://"),
		"query in base":   WithBaseURL("https://api.weixin.qq.com/?access_token=x"),
		"userinfo base":   WithBaseURL("https://u:p@api.weixin.qq.com"),
		"unparsable base": WithBaseURL("https://api.weixin.qq.com/%zz"),
		"nil client":      WithHTTPClient(nil),
		"zero timeout":    WithTimeout(0),
		"neg retries":     WithMaxRetries(-1),
		"many retries":    WithMaxRetries(11),
		"nil logger":      WithLogger(nil),
		"bad backoff":     WithBackoff(time.Second, time.Millisecond),
		"nil clock":       WithClock(nil),
		"nil option":      nil,
	}
	for name, o := range bad {
		if _, err := New(tokens("T"), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("nil provider accepted")
	}
	c, err := New(tokens("T"))
	if err != nil {
		t.Fatal(err)
	}
	if c.t.baseURL.String() != DefaultBaseURL || c.t.timeout != DefaultTimeout || c.t.maxRetries != DefaultMaxRetries {
		t.Errorf("defaults: %s %v %d", c.t.baseURL, c.t.timeout, c.t.maxRetries)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/wx/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"errcode":0,"type":"Front"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := New(tokens("T"), WithBaseURL(srv.URL+"/wx/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IDCardByURL(context.Background(), "u", ""); err != nil {
		t.Fatal(err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	hit := &counter{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.inc() }))
	defer other.Close()
	e := newEnv(t, tokens("T"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	_, err := e.client.IDCardByURL(context.Background(), "u", "")
	if ae, ok := err.(*APIError); !ok || ae.HTTPStatus != http.StatusTemporaryRedirect {
		t.Errorf("error %v, want APIError with HTTP 307", err)
	}
	if hit.get() != 0 {
		t.Error("redirect followed: the token reached another host")
	}
}

func TestOversizedResponse(t *testing.T) {
	e := newEnv(t, tokens("T"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"errcode":0,"name":"`))
		w.Write(make([]byte, maxResponseBytes+10))
	})
	if _, err := e.client.IDCardByURL(context.Background(), "u", ""); err == nil {
		t.Error("oversized answer accepted")
	}
}
