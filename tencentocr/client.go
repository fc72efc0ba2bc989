// Package tencentocr is the Tencent Cloud OCR provider: it calls IDCardOCR (API 3.0, service
// ocr, version 2018-11-19) through tencentcloud-sdk-go's common client, which signs each call
// with TC3-HMAC-SHA256, and decodes the answer into our own typed Result. The ocr module of the
// SDK is not used (the module proxy here does not serve it); the common client sends any
// action given its name.
//
// What is sent: the image as ImageBase64 or ImageUrl, CardSide when the side is known, Config
// with every warning Tencent offers turned on (CropPortrait only when the caller asks), and
// EnableRecognitionRectify=false: left on, Tencent silently "corrects" the number, birth date
// and sex to agree with each other, which would hide exactly the inconsistencies the idcard
// package checks.
//
// Credentials come from a CredentialSource per call (see InvocationCredentials for SCF's
// rotating role keys); they are never logged. Error codes map onto the application's codes in
// one table (errors.go); warnings map onto checks in another (warnings.go).
package tencentocr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/wxocr/scf-idcard-ocr/internal/redact"
)

// The API this package calls.
const (
	Service = "ocr"
	Version = "2018-11-19"
	Action  = "IDCardOCR"
)

// Defaults.
const (
	DefaultRegion   = "ap-guangzhou"
	DefaultEndpoint = "ocr.tencentcloudapi.com"
	DefaultTimeout  = 10 * time.Second
	// DefaultMaxResponseBytes bounds an answer: fields are a few hundred bytes, a portrait
	// crop tens of kilobytes.
	DefaultMaxResponseBytes = 4 << 20
	// MaxImageBase64Bytes is Tencent's limit on ImageBase64 (10 MB of base64 text).
	MaxImageBase64Bytes = 10 << 20
	// maxAttempts bounds calls for one image: a transient answer (Tencent answered, nothing
	// was recognised, nothing billed) is retried once.
	maxAttempts = 2
)

// Card sides as CardSide spells them.
const (
	SideFront = "FRONT"
	SideBack  = "BACK"
)

// Options configure a Client. Credentials is required.
type Options struct {
	// Region is the API region (default DefaultRegion).
	Region string
	// Endpoint is the API host (default DefaultEndpoint), or a base URL
	// http://host:port for the emulator.
	Endpoint string
	// Credentials yields the key pair for each call.
	Credentials CredentialSource
	// Timeout bounds one call when the context has no earlier deadline (default DefaultTimeout).
	Timeout time.Duration
	// Transport carries the calls (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// MaxResponseBytes bounds an answer (default DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// Logger receives retries and failures, never keys, images or card fields (default: discard).
	Logger *slog.Logger
}

// Client calls IDCardOCR. It is safe for concurrent use.
type Client struct {
	region    string
	host      string
	scheme    string
	creds     CredentialSource
	timeout   time.Duration
	transport http.RoundTripper
	log       *slog.Logger
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// New checks the options and builds a Client.
func New(o Options) (*Client, error) {
	if o.Credentials == nil {
		return nil, errors.New("tencentocr: Options.Credentials is required")
	}
	c := &Client{
		region:  strings.TrimSpace(o.Region),
		creds:   o.Credentials,
		timeout: o.Timeout,
		log:     o.Logger,
		sleep:   sleepCtx,
	}
	if c.region == "" {
		c.region = DefaultRegion
	}
	var err error
	if c.scheme, c.host, err = parseEndpoint(o.Endpoint); err != nil {
		return nil, err
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	limit := o.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	c.transport = limitedTransport{rt: rt, max: limit}
	return c, nil
}

// parseEndpoint accepts a host[:port] (https) or an http(s)://host[:port] URL without a path.
func parseEndpoint(s string) (scheme, host string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "HTTPS", DefaultEndpoint, nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("tencentocr: endpoint must be a host or http(s)://host[:port], got %q", s)
	}
	switch u.Scheme {
	case "https":
		return "HTTPS", u.Host, nil
	case "http":
		return "HTTP", u.Host, nil
	}
	return "", "", fmt.Errorf("tencentocr: endpoint scheme must be http or https, got %q", u.Scheme)
}

// Request is one image to read. Exactly one of ImageBase64 and ImageURL is set.
type Request struct {
	// ImageBase64 is the image as standard base64 (no data: prefix).
	ImageBase64 string
	// ImageURL is an image URL Tencent downloads. It may carry a signature and is never logged.
	ImageURL string
	// Side is SideFront, SideBack or "" (Tencent decides).
	Side string
	// Portrait asks for the holder's photo cropped from the front (CropPortrait).
	Portrait bool
}

// Result is what IDCardOCR read. The other side's fields are "".
type Result struct {
	Name, Sex, Nation, Birth, Address, IDNumber string // front
	Authority, ValidDate                        string // back
	// Warnings are AdvancedInfo.WarnInfos codes, e.g. -9102 for a photocopy.
	Warnings []int
	// Quality (0-100, low = blurred) and BorderCodeValue (0-100, high = border likely
	// covered) are set when Tencent returned them.
	Quality, BorderCodeValue *float64
	// Portrait is the base64 JPEG of the holder's photo when Request.Portrait asked for it.
	// It is personal data: never log it.
	Portrait string
	// RequestID is Tencent's id of the call, for support.
	RequestID string
}

// Side reports the side the fields come from: SideFront, SideBack or "" when nothing was read.
func (r *Result) Side() string {
	switch {
	case r.IDNumber != "" || r.Name != "" || r.Address != "" || r.Birth != "":
		return SideFront
	case r.Authority != "" || r.ValidDate != "":
		return SideBack
	}
	return ""
}

// config is IDCardOCR's Config parameter, sent as a JSON string.
type config struct {
	CropPortrait    bool `json:"CropPortrait,omitempty"`
	CopyWarn        bool `json:"CopyWarn"`
	BorderCheckWarn bool `json:"BorderCheckWarn"`
	ReshootWarn     bool `json:"ReshootWarn"`
	DetectPsWarn    bool `json:"DetectPsWarn"`
	TempIdWarn      bool `json:"TempIdWarn"`
	InvalidDateWarn bool `json:"InvalidDateWarn"`
	Quality         bool `json:"Quality"`
	ReflectWarn     bool `json:"ReflectWarn"`
}

// Params builds the action parameters for req: every warning on, rectification off.
func Params(req Request) (map[string]any, error) {
	switch {
	case (req.ImageBase64 == "") == (req.ImageURL == ""):
		return nil, errors.New("tencentocr: give exactly one of ImageBase64 and ImageURL")
	case len(req.ImageBase64) > MaxImageBase64Bytes:
		return nil, fmt.Errorf("tencentocr: ImageBase64 is %d bytes, more than Tencent's %d", len(req.ImageBase64), MaxImageBase64Bytes)
	}
	cfg, err := json.Marshal(config{
		CropPortrait: req.Portrait, CopyWarn: true, BorderCheckWarn: true, ReshootWarn: true,
		DetectPsWarn: true, TempIdWarn: true, InvalidDateWarn: true, Quality: true, ReflectWarn: true,
	})
	if err != nil {
		return nil, err
	}
	p := map[string]any{"Config": string(cfg), "EnableRecognitionRectify": false}
	if req.ImageURL != "" {
		p["ImageUrl"] = req.ImageURL
	} else {
		p["ImageBase64"] = req.ImageBase64
	}
	switch req.Side {
	case "":
	case SideFront, SideBack:
		p["CardSide"] = req.Side
	default:
		return nil, fmt.Errorf("tencentocr: Side must be FRONT, BACK or empty, got %q", req.Side)
	}
	return p, nil
}

// IDCard reads one image. Errors are *APIError for Tencent's and the SDK's error codes,
// ErrNoCredentials, or the context's error.
func (c *Client) IDCard(ctx context.Context, req Request) (*Result, error) {
	params, err := Params(req)
	if err != nil {
		return nil, err
	}
	// An earlier deadline of the caller's (the request's) still wins.
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		res, err := c.call(ctx, params)
		var api *APIError
		if err == nil || attempt >= maxAttempts || !errors.As(err, &api) || !transient(api.Code) {
			return res, err
		}
		wait := 100*time.Millisecond + rand.N(200*time.Millisecond)
		c.log.InfoContext(ctx, "Tencent Cloud OCR answered a transient error; retrying",
			"code", api.Code, "request_id", api.RequestID, "attempt", attempt, "wait", wait)
		if !c.sleep(ctx, wait) {
			return nil, err
		}
	}
}

// transient reports whether a call that failed with code may be repeated: Tencent answered,
// recognised nothing and billed nothing. Network failures are not repeated (the first call
// may have been recognised and billed), nor is DownLoadError (the caller fetches the image).
func transient(code string) bool {
	switch code {
	case "ClientError.NetworkError", "ClientError.IOError", "FailedOperation.DownLoadError":
		return false
	}
	_, retry, _ := Mapping(code)
	return retry
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// call makes one signed call. A new SDK client per call binds this call's credentials without
// shared mutable state; it shares c.transport, so connections are reused.
func (c *Client) call(ctx context.Context, params map[string]any) (*Result, error) {
	cred, err := c.creds.Credential(ctx)
	if err != nil {
		return nil, err
	}
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = c.host
	prof.HttpProfile.Scheme = c.scheme
	prof.HttpProfile.ReqTimeout = int((c.timeout + time.Second - 1) / time.Second)
	prof.Language = "en-US"
	// Retries are ours (bounded, jittered, context-aware); the SDK's sleep ignores the context.
	prof.NetworkFailureMaxRetries = 0
	prof.RateLimitExceededMaxRetries = 0
	sc := sdkCredential(cred)
	client := common.NewCommonClient(&sc, c.region, prof).WithHttpTransport(c.transport)

	req := tchttp.NewCommonRequest(Service, Version, Action)
	req.SetContext(ctx)
	if err := req.SetActionParameters(params); err != nil {
		return nil, fmt.Errorf("tencentocr: set parameters: %w", err)
	}
	resp := &response{}
	if err := client.Send(req, resp); err != nil {
		return nil, fromSDK(ctx, err)
	}
	return decode(resp.raw)
}

// fromSDK turns the SDK's error into an *APIError, or the context's error when the call ran
// out of time or was cancelled.
func fromSDK(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("tencentocr: %w", ctx.Err())
	}
	var st *statusError
	if errors.As(err, &st) {
		_, _, msg := Mapping("ClientError.HttpStatusCodeError")
		return &APIError{Code: "ClientError.HttpStatusCodeError", Message: msg, err: err}
	}
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) {
		return &APIError{Code: "ClientError.NetworkError", Message: "Tencent Cloud could not be reached", err: err}
	}
	// Tencent's message may quote the ImageUrl it could not download, signature and all.
	e := &APIError{Code: se.Code, Message: redact.Text(se.Message), RequestID: se.RequestId}
	if strings.HasPrefix(se.Code, "ClientError.") {
		// The SDK's messages for these quote the response body (the card's fields).
		_, _, e.Message = Mapping(se.Code)
		e.err = errors.Unwrap(se)
	}
	if se.Code == "FailedOperation.DownLoadError" {
		e.err = ErrURLUnreachable
	}
	return e
}

// response receives the SDK's successful body. The SDK checks Response.Error before
// unmarshalling, so raw is an answer without an error.
type response struct {
	tchttp.BaseResponse
	raw []byte
}

// UnmarshalJSON keeps the body for decode.
func (r *response) UnmarshalJSON(b []byte) error {
	r.raw = append(r.raw[:0], b...)
	return nil
}

// wireResponse is IDCardOCR's answer.
type wireResponse struct {
	Response struct {
		Name         string `json:"Name"`
		Sex          string `json:"Sex"`
		Nation       string `json:"Nation"`
		Birth        string `json:"Birth"`
		Address      string `json:"Address"`
		IdNum        string `json:"IdNum"`
		Authority    string `json:"Authority"`
		ValidDate    string `json:"ValidDate"`
		AdvancedInfo string `json:"AdvancedInfo"`
		RequestId    string `json:"RequestId"`
		Error        *struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
	} `json:"Response"`
}

// advancedInfo is the JSON object inside AdvancedInfo. Numbers are decoded leniently (a
// number or a numeric string) because Tencent documents them only in prose.
type advancedInfo struct {
	WarnInfos       []json.RawMessage `json:"WarnInfos"`
	Quality         json.RawMessage   `json:"Quality"`
	BorderCodeValue json.RawMessage   `json:"BorderCodeValue"`
	Portrait        string            `json:"Portrait"`
}

// Decode reads an IDCardOCR answer body (the whole {"Response": …} envelope). An answer
// carrying Response.Error is an *APIError; a body that is not such an envelope, or whose
// AdvancedInfo cannot be read, is a ClientError.ParseJsonError: the warnings would be lost,
// and a card must not pass for want of them.
func Decode(body []byte) (*Result, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, parseError(err)
	}
	r := w.Response
	if r.Error != nil && r.Error.Code != "" {
		return nil, &APIError{Code: r.Error.Code, Message: redact.Text(r.Error.Message), RequestID: r.RequestId}
	}
	if r.RequestId == "" {
		return nil, parseError(errors.New("no Response.RequestId"))
	}
	return decodeFields(&w)
}

func decode(body []byte) (*Result, error) { return Decode(body) }

func decodeFields(w *wireResponse) (*Result, error) {
	r := w.Response
	res := &Result{
		Name: r.Name, Sex: r.Sex, Nation: r.Nation, Birth: r.Birth, Address: r.Address,
		IDNumber: r.IdNum, Authority: r.Authority, ValidDate: r.ValidDate, RequestID: r.RequestId,
	}
	if strings.TrimSpace(r.AdvancedInfo) == "" {
		return res, nil
	}
	var adv advancedInfo
	if err := json.Unmarshal([]byte(r.AdvancedInfo), &adv); err != nil {
		return nil, parseError(fmt.Errorf("AdvancedInfo: %w", err))
	}
	for _, raw := range adv.WarnInfos {
		n, ok := number(raw)
		if !ok || n != float64(int(n)) {
			return nil, parseError(errors.New("AdvancedInfo.WarnInfos holds a value that is not a code"))
		}
		res.Warnings = append(res.Warnings, int(n))
	}
	if q, ok := number(adv.Quality); ok {
		res.Quality = &q
	}
	if b, ok := number(adv.BorderCodeValue); ok {
		res.BorderCodeValue = &b
	}
	res.Portrait = adv.Portrait
	return res, nil
}

// number reads a JSON number or a string holding one.
func number(raw json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func parseError(err error) error {
	_, _, msg := Mapping("ClientError.ParseJsonError")
	return &APIError{Code: "ClientError.ParseJsonError", Message: msg, err: err}
}

// limitedTransport bounds every response body: the SDK reads bodies whole.
type limitedTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// API 3.0 answers errors with 200; anything else is a gateway's page, which the SDK
		// would report as unparseable JSON. Naming the status keeps it a gateway failure.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &statusError{status: resp.StatusCode}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// statusError is an HTTP status other than 200 from the endpoint.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("tencentocr: HTTP status %d", e.status) }

// errBodyTooLarge is returned once an answer exceeds MaxResponseBytes.
var errBodyTooLarge = errors.New("tencentocr: response body too large")

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
