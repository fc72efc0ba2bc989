package ocr

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/internal/syncbuf"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// TestFallbackLogsNoSignedURL: WeChat cannot fetch a signed URL (101000) and neither can we
// (the server drops the connection). Neither the log lines nor the returned error, which the
// handler logs, may carry the URL's query: with it, anyone reading the logs could fetch the
// ID-card photo while the signature is valid.
func TestFallbackLogsNoSignedURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.(*net.TCPConn).SetLinger(0) // a reset, as a dying image host gives
			c.Close()
		}
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	signedURL := srv.URL + "/cards/a.jpg?sign=5b0f9d8f1c2a3e4b9c7d&t=1700000000"

	// WeChat's errmsg quoting the img_url, encoded, as some answers do.
	wx := &fakeWeChat{
		byURL: func(context.Context, string) (*wechat.IDCard, error) {
			return nil, &wechat.APIError{ErrCode: 101000, ErrMsg: "invalid img_url rid: 9"}
		},
		byImage: func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil },
	}
	var logs syncbuf.Buffer
	policy := imagesrc.Policy{TrustedHosts: []string{host}}
	s, err := New(Options{
		WeChat:    wx,
		URLPolicy: policy,
		Images:    imagesrc.NewFetcher(policy),
		Logger:    slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       now,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Recognize(context.Background(), Request{Image: Image{URL: signedURL}})
	ae := apperr.AsError(err)
	if ae.Code != apperr.ImageFetchFailed {
		t.Fatalf("err = %v", err)
	}
	out := logs.String() + "\n" + ae.Error()
	for _, secret := range []string{"sign=", "5b0f9d8f1c2a3e4b9c7d", "1700000000"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q leaked:\n%s", secret, out)
		}
	}
	// What an operator needs stays: which host and path failed.
	if !strings.Contains(logs.String(), host+"/cards/a.jpg") {
		t.Errorf("the log lost the host and path:\n%s", logs.String())
	}
}
