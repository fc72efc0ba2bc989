package wechat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// The errcode table, entry by entry: what each code becomes, whether callers may retry, when,
// and a word of the message that tells the operator what to fix. Every row of errcodes must
// be here, so a new row cannot land untested.
func TestErrcodeTable(t *testing.T) {
	const api = "/cv/ocr/idcard"
	tests := []struct {
		endpoint   string
		errcode    int
		code       apperr.Code
		retryAfter time.Duration
		msgHas     string
	}{
		{api, -1, apperr.UpstreamUnavailable, 0, "busy"},
		{api, 45011, apperr.UpstreamUnavailable, time.Minute, "per-minute"},
		{api, 40001, apperr.UpstreamUnavailable, 0, "rejected the access token"},
		{api, 42001, apperr.UpstreamUnavailable, 0, "rejected the access token"},
		{api, 40014, apperr.UpstreamUnavailable, 0, "rejected the access token"},
		{api, 41001, apperr.UpstreamAuth, 0, "open interface"},
		{"/cgi-bin/stable_token", 40001, apperr.UpstreamAuth, 0, "WX_APPSECRET"},
		{"/cgi-bin/token", 40001, apperr.UpstreamAuth, 0, "WX_APPSECRET"},
		{"/cgi-bin/stable_token", 40013, apperr.UpstreamAuth, 0, "WX_APPID"},
		{"/cgi-bin/stable_token", 41002, apperr.UpstreamAuth, 0, "WX_APPID"},
		{"/cgi-bin/stable_token", 40125, apperr.UpstreamAuth, 0, "WX_APPSECRET"},
		{"/cgi-bin/stable_token", 41004, apperr.UpstreamAuth, 0, "WX_APPSECRET"},
		{"/cgi-bin/token", 40243, apperr.UpstreamAuth, 0, "unfreeze"},
		{"/cgi-bin/stable_token", 40164, apperr.UpstreamAuth, 0, "IP allowlist"},
		{api, 61004, apperr.UpstreamAuth, 0, "IP allowlist"},
		{api, 48001, apperr.UpstreamAuth, 0, "enable the OCR service"},
		{api, 61007, apperr.UpstreamAuth, 0, "third-party platform"},
		{api, 48004, apperr.UpstreamAuth, 0, "disabled"},
		{api, 50002, apperr.UpstreamAuth, 0, "disabled"},
		{"/tcb/batchdownloadfile", 85088, apperr.UpstreamAuth, 0, "WX_CLOUD_ENV"},
		{api, 45009, apperr.QuotaExhausted, 0, "midnight Beijing time"},
		{"/cgi-bin/stable_token", 45009, apperr.QuotaExhausted, 0, "daily call limit"},
		{api, 101003, apperr.QuotaExhausted, 0, "quota"},
		{api, 101000, apperr.ImageFetchFailed, 0, "image URL"},
		{api, 101001, apperr.NoCardFound, 0, "no ID card"},
		{api, 101002, apperr.ImageUnreadable, 0, "decode"},
		{api, 45002, apperr.ImageTooLarge, 0, "too large"},
		{"/cgi-bin/stable_token", 40002, apperr.Internal, 0, "request"},
		{api, 40066, apperr.Internal, 0, "request"},
		{api, 40097, apperr.Internal, 0, "request"},
		{api, 41005, apperr.Internal, 0, "request"},
		{"/cgi-bin/token", 43001, apperr.Internal, 0, "request"},
		{api, 43002, apperr.Internal, 0, "request"},
		{api, 43003, apperr.Internal, 0, "request"},
		{api, 44002, apperr.Internal, 0, "request"},
		{api, 47001, apperr.Internal, 0, "request"},
		// The unknown-code rule, and answers without an errcode.
		{api, 99999, apperr.UpstreamUnavailable, 0, "unexpected"},
		{api, 40003, apperr.UpstreamUnavailable, 0, "unexpected"},
	}
	covered := map[int]bool{}
	for _, tt := range tests {
		covered[tt.errcode] = true
		t.Run(tt.endpoint+" "+strconv.Itoa(tt.errcode), func(t *testing.T) {
			e := &APIError{Endpoint: tt.endpoint, HTTPStatus: 200, ErrCode: tt.errcode, ErrMsg: "msg rid: 1-2-3"}
			ae := e.AppError()
			if ae.Code != tt.code {
				t.Errorf("code %s, want %s", ae.Code, tt.code)
			}
			if ae.Retryable != tt.code.Retryable() {
				t.Errorf("retryable %v, but %s is always %v", ae.Retryable, tt.code, tt.code.Retryable())
			}
			if ae.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", ae.RetryAfter, tt.retryAfter)
			}
			if !strings.Contains(ae.Message, tt.msgHas) {
				t.Errorf("message %q does not say %q", ae.Message, tt.msgHas)
			}
			up := ae.Upstream
			if up == nil || up.Provider != "wechat" || up.Code != strconv.Itoa(tt.errcode) || up.Message != "msg rid: 1-2-3" {
				t.Errorf("upstream %+v, want wechat %d with WeChat's errmsg", up, tt.errcode)
			}
			if ae.Unwrap() != e {
				t.Error("the APIError is not kept as the cause")
			}
		})
	}
	for code := range errcodes {
		if !covered[code] {
			t.Errorf("errcode %d is in the table but not tested", code)
		}
	}
}

func TestAppErrorWithoutErrcode(t *testing.T) {
	for status, want := range map[int]apperr.Code{500: apperr.UpstreamUnavailable, 502: apperr.UpstreamUnavailable,
		429: apperr.UpstreamUnavailable, 404: apperr.UpstreamUnavailable} {
		ae := (&APIError{Endpoint: "/cv/ocr/idcard", HTTPStatus: status, ErrMsg: "x"}).AppError()
		if ae.Code != want || !ae.Retryable || ae.Upstream.Code != "http_"+strconv.Itoa(status) {
			t.Errorf("HTTP %d: %s retryable=%v upstream %q", status, ae.Code, ae.Retryable, ae.Upstream.Code)
		}
	}
}

// A rejected token that cannot be replaced yet carries the source's wait, which beats the
// table's default.
func TestAppErrorKeepsRetryAfter(t *testing.T) {
	ae := (&APIError{Endpoint: "/cv/ocr/idcard", ErrCode: 40001, RetryAfter: 12500 * time.Millisecond}).AppError()
	if ae.Code != apperr.UpstreamUnavailable || !ae.Retryable || ae.RetryAfter != 12500*time.Millisecond || ae.RetryAfterSeconds() != 13 {
		t.Errorf("%s retryable=%v after %v (%d s)", ae.Code, ae.Retryable, ae.RetryAfter, ae.RetryAfterSeconds())
	}
}
