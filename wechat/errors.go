package wechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// WeChat errcodes the function reacts to by name. Every errcode WeChat documents for the APIs
// this client calls is classified in the table below; the rest keep their value in
// APIError.ErrCode and fall under the unknown-code rule (see AppError).
const (
	ErrCodeSystemBusy         = -1     // transient; retried
	ErrCodeInvalidCredential  = 40001  // API: token invalid or not the latest; token endpoints: wrong appsecret
	ErrCodeTokenExpired       = 42001  // token expired
	ErrCodeInvalidToken       = 40014  // malformed token
	ErrCodeInvalidAppID       = 40013  // token fetch: unknown appid
	ErrCodeInvalidSecret      = 40125  // token fetch: wrong appsecret
	ErrCodeIPNotWhitelisted   = 40164  // token fetch: caller IP not on the API IP allowlist
	ErrCodeDailyLimit         = 45009  // daily API call limit reached
	ErrCodeMinuteLimit        = 45011  // per-minute frequency limit reached: retry next minute
	ErrCodeAPIUnauthorized    = 48001  // the account has no permission for this API
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

// minuteLimitWait is the Retry-After for 45011, whose errmsg says "retry next minute": a full
// minute is past the next minute boundary whether WeChat counts by clock minute or by a
// sliding window.
const minuteLimitWait = 60 * time.Second

// meaning is one row of the errcode table: the application error a code becomes and the
// message the caller gets, which says what the operator has to fix where there is something
// to fix. Whether it is retryable is the application code's rule (apperr), never per row, so
// that README's table holds for every errcode.
type meaning struct {
	code apperr.Code
	msg  string
}

const (
	msgCredentials = "WeChat refused the function's appid or appsecret: check WX_APPID and WX_APPSECRET " +
		"against the Mini Program's development settings (mp.weixin.qq.com), and unfreeze the appsecret if it is frozen"
	msgIPAllowlist = "WeChat refused the call because the function's outbound IP is not on the Mini Program's " +
		"API IP allowlist: add the function's fixed egress IP under Development settings > IP allowlist " +
		"(mp.weixin.qq.com), or use TOKEN_SOURCE=cloudbase / none, which need no allowlist"
	msgPermission = "WeChat says this Mini Program may not call the ID-card OCR API: enable the OCR service " +
		"for the appid (WeChat service market, verified account) and check that WX_APPID is the account " +
		"that bought it and that the token is that account's own"
	msgThirdParty = "WeChat says the API is not authorised to the third-party platform: the Mini Program's " +
		"administrator must grant the platform the OCR permission set, or call with the Mini Program's own token"
	msgForbidden = "WeChat has disabled this API or account for rule violations: see the notice in the " +
		"Mini Program console (mp.weixin.qq.com)"
	msgTokenRejected = "WeChat rejected the access token and a replacement was not accepted yet; try again"
	msgNoTokenSent   = "WeChat received no access token: with TOKEN_SOURCE=none, enable Cloud Hosting's open " +
		"interface service and add /cv/ocr/idcard (and /tcb/batchdownloadfile) to its API allowlist"
	msgOurRequest = "WeChat could not parse the function's request"
)

// errcodes is the one table of WeChat errcodes. Sources (docs/wechat-errors.md): WeChat's
// global return codes (developers.weixin.qq.com/doc/store/API/basics/commErrCode.html,
// .../doc/oplatform/developers/troubleshooting), the cv/ocr/idcard, getAccessToken and
// getStableAccessToken reference pages, and the CloudBase batchDownloadFile page.
var errcodes = map[int]meaning{
	// Transient on WeChat's side.
	ErrCodeSystemBusy:  {apperr.UpstreamUnavailable, "WeChat is busy; try again"},
	ErrCodeMinuteLimit: {apperr.UpstreamUnavailable, "WeChat's per-minute call limit for the account is reached; retry after the minute"},

	// The token. The client refreshes it and calls once more; a code here reached the caller
	// because the refreshed token was rejected too, or a forced refresh is not allowed yet.
	ErrCodeInvalidCredential: {apperr.UpstreamUnavailable, msgTokenRejected},
	ErrCodeTokenExpired:      {apperr.UpstreamUnavailable, msgTokenRejected},
	ErrCodeInvalidToken:      {apperr.UpstreamUnavailable, msgTokenRejected},
	41001:                    {apperr.UpstreamAuth, msgNoTokenSent}, // access_token missing

	// The credentials and where the function calls from: the operator has to act.
	ErrCodeInvalidAppID:       {apperr.UpstreamAuth, msgCredentials},
	41002:                     {apperr.UpstreamAuth, msgCredentials}, // appid missing
	ErrCodeInvalidSecret:      {apperr.UpstreamAuth, msgCredentials},
	41004:                     {apperr.UpstreamAuth, msgCredentials}, // appsecret missing
	40243:                     {apperr.UpstreamAuth, msgCredentials}, // appsecret frozen
	ErrCodeIPNotWhitelisted:   {apperr.UpstreamAuth, msgIPAllowlist},
	61004:                     {apperr.UpstreamAuth, msgIPAllowlist}, // client IP not registered
	ErrCodeAPIUnauthorized:    {apperr.UpstreamAuth, msgPermission},
	ErrCodeThirdPartyNotAuthd: {apperr.UpstreamAuth, msgThirdParty},
	48004:                     {apperr.UpstreamAuth, msgForbidden}, // api forbidden for irregularities
	50002:                     {apperr.UpstreamAuth, msgForbidden}, // user (account) limited
	ErrCodeCloudNotEnabled: {apperr.UpstreamAuth, "WeChat says cloud development is not enabled for the appid: " +
		"open CloudBase for the Mini Program, and set WX_CLOUD_ENV to one of its environments"},

	// Quotas that reset at midnight Beijing time or when more is bought.
	ErrCodeDailyLimit:     {apperr.QuotaExhausted, "WeChat's daily call limit for the account is used up; it resets at midnight Beijing time"},
	ErrCodeQuotaExhausted: {apperr.QuotaExhausted, "the WeChat OCR quota is exhausted; buy more in the WeChat service market"},

	// The image.
	ErrCodeInvalidImageURL:   {apperr.ImageFetchFailed, "WeChat could not fetch the image URL"},
	ErrCodeCardNotFound:      {apperr.NoCardFound, "no ID card was found in the image"},
	ErrCodeImageDecodeFailed: {apperr.ImageUnreadable, "WeChat could not decode the image"},
	45002:                    {apperr.ImageTooLarge, "WeChat refused the image as too large"}, // content size out of limit

	// Our own request was malformed: a bug here, which retrying cannot fix.
	40002: {apperr.Internal, msgOurRequest}, // invalid grant_type
	40066: {apperr.Internal, msgOurRequest}, // invalid url
	40097: {apperr.Internal, msgOurRequest}, // invalid args
	41005: {apperr.Internal, msgOurRequest}, // media data missing
	43001: {apperr.Internal, msgOurRequest}, // require GET
	43002: {apperr.Internal, msgOurRequest}, // require POST
	43003: {apperr.Internal, msgOurRequest}, // require https
	44002: {apperr.Internal, msgOurRequest}, // empty post data
	47001: {apperr.Internal, msgOurRequest}, // data format error
}

// tokenEndpointErrcodes overrides errcodes on the token endpoints, where 40001 means the
// appsecret is wrong, not that a token was rejected.
var tokenEndpointErrcodes = map[int]meaning{
	ErrCodeInvalidCredential: {apperr.UpstreamAuth, msgCredentials},
}

// isTokenEndpoint reports whether endpoint is one of the access-token APIs.
func isTokenEndpoint(endpoint string) bool {
	return endpoint == "/cgi-bin/stable_token" || endpoint == "/cgi-bin/token"
}

// unknownErrcode is the rule for an errcode not in the table, and for a non-2xx answer with
// none: UPSTREAM_UNAVAILABLE, retryable like every UPSTREAM_UNAVAILABLE. WeChat adds codes
// over time; a caller that retries a new permanent one later wastes a call, while one that
// gives up on a new transient one loses a card, and the upstream code in the answer lets an
// operator see which it was.
var unknownErrcode = meaning{apperr.UpstreamUnavailable, "WeChat answered with an unexpected error"}

// lookup returns the table's row for code on endpoint.
func lookup(endpoint string, code int) (meaning, bool) {
	if isTokenEndpoint(endpoint) {
		if m, ok := tokenEndpointErrcodes[code]; ok {
			return m, true
		}
	}
	m, ok := errcodes[code]
	return m, ok
}

// AppError is e as the application's error: the table's code and message, retryable as that
// code always is, Retry-After when WeChat or the token source says when to retry, and
// WeChat's code and errmsg as the upstream detail. e stays the internal cause.
func (e *APIError) AppError() *apperr.Error {
	m, ok := lookup(e.Endpoint, e.ErrCode)
	switch {
	case ok:
	case e.ErrCode == 0 && e.HTTPStatus >= 500:
		m = meaning{apperr.UpstreamUnavailable, "WeChat is unavailable; try again"}
	default:
		m = unknownErrcode
	}
	ae := apperr.Wrap(m.code, e, "%s", m.msg)
	ae.RetryAfter = e.RetryAfter
	if ae.RetryAfter == 0 && e.ErrCode == ErrCodeMinuteLimit {
		ae.RetryAfter = minuteLimitWait
	}
	code := strconv.Itoa(e.ErrCode)
	if e.ErrCode == 0 {
		code = "http_" + strconv.Itoa(e.HTTPStatus)
	}
	// errmsg keeps WeChat's "rid: …" suffix: support can trace a call with it (and 40164's
	// names the refused IP, which is what the operator must add).
	ae.Upstream = &apperr.Upstream{Provider: Provider, Code: code, Message: e.ErrMsg}
	return ae
}

// Provider names WeChat in upstream error details.
const Provider = "wechat"

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
	// RetryAfter, when not 0, is how long until the same call can succeed: set when a
	// rejected token cannot be replaced before then (a forced refresh is rate-limited).
	RetryAfter time.Duration
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
