package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// WeChat error codes the emulator answers with.
const (
	CodeSystemBusy         = -1
	CodeInvalidCredential  = 40001
	CodeInvalidGrantType   = 40002
	CodeInvalidAppID       = 40013
	CodeInvalidToken       = 40014
	CodeInvalidArgs        = 40097
	CodeInvalidSecret      = 40125
	CodeTokenMissing       = 41001
	CodeAppIDMissing       = 41002
	CodeSecretMissing      = 41004
	CodeMediaMissing       = 41005
	CodeTokenExpired       = 42001
	CodeRequireGET         = 43001
	CodeRequirePOST        = 43002
	CodeEmptyPostData      = 44002
	CodeDailyLimit         = 45009
	CodeFrequencyLimit     = 45011
	CodeDataFormat         = 47001
	CodeInvalidImageURL    = 101000
	CodeCertificateMissing = 101001
	CodeImageDecodeFailed  = 101002
	CodeNoQuota            = 101003
)

// errMessages are WeChat's errmsg texts (before the " rid: …" suffix).
var errMessages = map[int]string{
	CodeSystemBusy:         "system error",
	CodeInvalidCredential:  "invalid credential, access_token is invalid or not latest",
	CodeInvalidGrantType:   "invalid grant_type",
	CodeInvalidAppID:       "invalid appid",
	CodeInvalidToken:       "invalid access_token",
	CodeInvalidArgs:        "invalid args",
	CodeInvalidSecret:      "invalid appsecret",
	CodeTokenMissing:       "access_token missing",
	CodeAppIDMissing:       "appid missing",
	CodeSecretMissing:      "appsecret missing",
	CodeMediaMissing:       "media data missing",
	CodeTokenExpired:       "access_token expired",
	CodeRequireGET:         "require GET method",
	CodeRequirePOST:        "require POST method",
	CodeEmptyPostData:      "empty post data",
	CodeDailyLimit:         "reach max api daily quota limit",
	CodeFrequencyLimit:     "api minute-quota reach limit mustslower retry next minute",
	CodeDataFormat:         "data format error",
	CodeInvalidImageURL:    "invalid image url",
	CodeCertificateMissing: "certificate not found",
	CodeImageDecodeFailed:  "decode image failed",
	CodeNoQuota:            "not enough market quota",
	61007:                  "api is unauthorized to component",
	40164:                  "invalid ip, not in whitelist",
	85088:                  "no cloud development permission",
}

// errMessage formats errmsg the way WeChat does: the text, then " rid: " and a request id.
// detail, when given, refines the text the way WeChat sometimes appends a hint.
func (e *Emulator) errMessage(code int, detail string) string {
	msg, ok := errMessages[code]
	if !ok {
		msg = fmt.Sprintf("errcode %d", code)
	}
	if detail != "" {
		msg += ", " + detail
	}
	return msg + " rid: " + e.rid()
}

// rid mimics WeChat's "6543a1b2-1f2e3d4c-5b6a7988": unix seconds in hex, then random hex.
func (e *Emulator) rid() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%08x-%s-%s", uint32(e.now().Unix()), hex.EncodeToString(b[:4]), hex.EncodeToString(b[4:]))
}

// writeJSON answers v with WeChat's content type and without HTML escaping (WeChat sends
// Chinese and '&' as they are).
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// wxError is WeChat's error body; like WeChat it is sent with HTTP 200.
type wxError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (e *Emulator) fail(w http.ResponseWriter, code int, detail string) {
	e.failStatus(w, http.StatusOK, code, detail)
}

func (e *Emulator) failStatus(w http.ResponseWriter, status, code int, detail string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.errcode = code
	}
	writeJSON(w, status, wxError{ErrCode: code, ErrMsg: e.errMessage(code, detail)})
}
