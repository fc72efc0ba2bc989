package wechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// WeChat errcodes the rest of the function reacts to. The list is the one in
// platform-facts §1; WeChat sends many more, all surfaced unchanged in APIError.ErrCode.
const (
	ErrCodeSystemBusy         = -1     // transient; retried
	ErrCodeInvalidCredential  = 40001  // token invalid or not the latest
	ErrCodeTokenExpired       = 42001  // token expired
	ErrCodeInvalidToken       = 40014  // malformed token
	ErrCodeInvalidAppID       = 40013  // token fetch: unknown appid
	ErrCodeInvalidSecret      = 40125  // token fetch: wrong appsecret
	ErrCodeIPNotWhitelisted   = 40164  // token fetch: caller IP not in the whitelist
	ErrCodeDailyLimit         = 45009  // daily API call limit reached
	ErrCodeInvalidImageURL    = 101000 // OCR could not download img_url
	ErrCodeCardNotFound       = 101001 // OCR found no ID card in the image
	ErrCodeImageDecodeFailed  = 101002 // OCR could not decode the image (also oversize)
	ErrCodeQuotaExhausted     = 101003 // OCR paid quota exhausted
	ErrCodeThirdPartyNotAuthd = 61007  // API not authorised for a third-party platform
	ErrCodeCloudNotEnabled    = 85088  // cloud development not enabled for the account
)

// IsTokenRejected reports whether code means WeChat refused the access token itself, so the
// token must be invalidated and a fresh one fetched.
func IsTokenRejected(code int) bool {
	switch code {
	case ErrCodeInvalidCredential, ErrCodeTokenExpired, ErrCodeInvalidToken:
		return true
	}
	return false
}

// APIError is a failure reported by a WeChat endpoint: a non-2xx HTTP status or a 200 whose
// body carries errcode != 0. It never holds the access token or the appsecret.
type APIError struct {
	// Endpoint is the API path, e.g. "/cv/ocr/idcard" (never the full URL, which carries
	// credentials in its query).
	Endpoint string
	// HTTPStatus is the HTTP status of the response.
	HTTPStatus int
	// ErrCode is WeChat's errcode; 0 when a non-2xx response had none.
	ErrCode int
	// ErrMsg is WeChat's errmsg (or the HTTP status text when the body had none).
	ErrMsg string
}

func (e *APIError) Error() string {
	if e.ErrCode != 0 {
		return fmt.Sprintf("wechat %s: errcode %d: %s", e.Endpoint, e.ErrCode, e.ErrMsg)
	}
	return fmt.Sprintf("wechat %s: HTTP %d: %s", e.Endpoint, e.HTTPStatus, e.ErrMsg)
}

// retryReason says why the error is transient, or "" when retrying would not help.
func (e *APIError) retryReason() string {
	switch {
	case e.ErrCode == ErrCodeSystemBusy:
		return "errcode -1 (system busy)"
	case e.HTTPStatus >= 500:
		return "HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	return ""
}

// flexInt decodes a JSON number or a string holding one: WeChat's errcode has been
// documented both as 0 and as "0". null and "" decode as 0.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		// Tolerate "0.0"-style numbers, but only integral ones.
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != float64(int32(fl)) {
			return fmt.Errorf("errcode %.40q is not an integer", s)
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

// envelope is the errcode/errmsg pair every WeChat response may carry.
type envelope struct {
	ErrCode flexInt `json:"errcode"`
	ErrMsg  string  `json:"errmsg"`
}

func (e *envelope) base() *envelope { return e }

// response is implemented by every response struct through its embedded envelope.
type response interface{ base() *envelope }
