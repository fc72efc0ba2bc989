package wechat

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// An errmsg that quotes the image URL (WeChat echoes img_url in some 101000 answers) must not
// carry the URL's signature into the error, which is logged and returned as upstream.message.
func TestErrMsgQuotingImageURLIsRedacted(t *testing.T) {
	e := newEnv(t, tokens("tok-aaaaaaaaaaaa"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"errcode":101000,"errmsg":"invalid img_url `+
			r.URL.Query().Get("img_url")+` rid: 65a1"}`))
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://dl.example.com/a.jpg?sign=5b0f9d8f&t=1700000000", "")
	if err == nil {
		t.Fatal("no error")
	}
	api, ok := err.(*APIError)
	if !ok {
		t.Fatalf("err %T %v", err, err)
	}
	msg := err.Error() + " " + api.ErrMsg + " " + e.logs.String()
	if strings.Contains(msg, "sign=") || strings.Contains(msg, "5b0f9d8f") {
		t.Errorf("signature leaked: %s", msg)
	}
	if !strings.Contains(api.ErrMsg, "https://dl.example.com/a.jpg") || !strings.Contains(api.ErrMsg, "rid: 65a1") {
		t.Errorf("errmsg lost its useful parts: %q", api.ErrMsg)
	}
}
