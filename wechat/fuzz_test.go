package wechat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// FuzzCheckResponse feeds arbitrary statuses and bodies to the one response decoder: it must
// never panic, and its outcome must agree with what the body says.
func FuzzCheckResponse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, b)
	}
	f.Add(200, []byte(`{"errcode":"-1","errmsg":"system error"}`))
	f.Add(200, []byte(`{"errcode":1.0}`))
	f.Add(200, []byte(`{"errcode":null,"type":"Front"}`))
	f.Add(200, []byte(`{"errcode":" 0 ","valid_date":"x","validDate":"y"}`))
	f.Add(200, []byte(`{"errcode":99999999999}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(503, []byte(`{"errcode":-1}`))
	f.Add(200, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		status = 100 + (status%500+500)%500 // 100..599
		var resp idCardResp
		err := checkResponse("/cv/ocr/idcard", status, body, &resp)
		ok2xx := status >= 200 && status <= 299
		var ae *APIError
		switch {
		case err == nil:
			if !ok2xx || resp.ErrCode != 0 {
				t.Fatalf("accepted status %d errcode %d", status, resp.ErrCode)
			}
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			_ = resp.card()
		case errors.As(err, &ae):
			if ok2xx && ae.ErrCode == 0 {
				t.Fatalf("APIError without errcode on a 2xx: %+v", ae)
			}
			if ae.HTTPStatus != status || ae.Endpoint != "/cv/ocr/idcard" || ae.Error() == "" {
				t.Fatalf("APIError %+v for status %d", ae, status)
			}
			if !ok2xx && ae.ErrMsg == "" {
				t.Fatalf("APIError with no message: %+v", ae)
			}
			// Every answer maps through the one table to a documented code, retryable as
			// that code always is, with WeChat's errmsg as the upstream detail.
			app := ae.AppError()
			if app.Code.Status() == 500 && app.Code != apperr.Internal || app.Retryable != app.Code.Retryable() ||
				app.Message == "" || app.Upstream == nil || app.Upstream.Message != ae.ErrMsg {
				t.Fatalf("AppError %+v for %+v", app, ae)
			}
		default:
			if !ok2xx {
				t.Fatalf("non-2xx %d not an APIError: %v", status, err)
			}
		}
	})
}

func TestFlexInt(t *testing.T) {
	good := map[string]int{`0`: 0, `"0"`: 0, `-1`: -1, `"-1"`: -1, `101001`: 101001, `"101001"`: 101001,
		`null`: 0, `""`: 0, `" 40001 "`: 40001, `2.0`: 2}
	for in, want := range good {
		var f flexInt
		if err := json.Unmarshal([]byte(in), &f); err != nil || int(f) != want {
			t.Errorf("%s: %d, %v; want %d", in, f, err, want)
		}
	}
	for _, in := range []string{`"abc"`, `1.5`, `true`, `{}`, `[]`, `99999999999`, `"0x10"`} {
		var f flexInt
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s accepted as %d", in, f)
		}
	}
}
