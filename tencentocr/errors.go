package tencentocr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// APIError is an error answer from Tencent Cloud (Response.Error) or a failure of the SDK
// around the call (codes starting "ClientError."). Message is Tencent's text for API errors;
// for client errors it is a fixed description, because the SDK's own messages can quote the
// response body, which holds the card's fields.
type APIError struct {
	Code      string
	Message   string
	RequestID string
	err       error // the cause, for errors.Is (ErrURLUnreachable, a network error)
}

// Unwrap returns the cause.
func (e *APIError) Unwrap() error { return e.err }

func (e *APIError) Error() string {
	if e.RequestID != "" {
		return fmt.Sprintf("tencent cloud %s: %s (RequestId %s)", e.Code, e.Message, e.RequestID)
	}
	return fmt.Sprintf("tencent cloud %s: %s", e.Code, e.Message)
}

// ErrURLUnreachable is wrapped by the error for FailedOperation.DownLoadError: Tencent could
// not download ImageUrl, so the caller may fetch the image itself and send the bytes.
var ErrURLUnreachable = errors.New("tencentocr: Tencent could not download the image URL")

// mapping is one row of the error table.
type mapping struct {
	code      apperr.Code
	retryable bool
	message   string // safe for callers
}

// errorTable maps every error code IDCardOCR documents (its own list, then Tencent Cloud API
// 3.0's common codes, then the SDK's client-side codes) to the application's codes. Sources:
// tencentcloud-sdk-go ocr/v20181119 client.go (IDCardOCR's "error code that may be returned")
// and https://cloud.tencent.com/document/api/866/33528 (common error codes).
var errorTable = map[string]mapping{
	// IDCardOCR's own codes.
	"FailedOperation.CardSideError":                    {apperr.InvalidRequest, false, "the image does not show the requested side of the card"},
	"FailedOperation.DownLoadError":                    {apperr.ImageFetchFailed, true, "Tencent Cloud could not download the image URL"},
	"FailedOperation.EmptyImageError":                  {apperr.ImageUnreadable, false, "the image is empty"},
	"FailedOperation.IdCardInfoIllegal":                {apperr.NoCardFound, false, "Tencent Cloud read no valid ID card fields from the image"},
	"FailedOperation.IdCardTooSmall":                   {apperr.ImageUnreadable, false, "the card is too small in the image"},
	"FailedOperation.ImageBlur":                        {apperr.ImageUnreadable, false, "the image is too blurred"},
	"FailedOperation.ImageDecodeFailed":                {apperr.ImageUnreadable, false, "Tencent Cloud could not decode the image"},
	"FailedOperation.ImageNoIdCard":                    {apperr.NoCardFound, false, "no ID card was found in the image"},
	"FailedOperation.ImageSizeTooLarge":                {apperr.ImageTooLarge, false, "the image is too large for Tencent Cloud OCR"},
	"FailedOperation.MultiCardError":                   {apperr.ImageUnreadable, false, "the image shows more than one card"},
	"FailedOperation.OcrFailed":                        {apperr.ImageUnreadable, false, "Tencent Cloud could not recognise the card"},
	"FailedOperation.UnKnowError":                      {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR failed; try again"},
	"FailedOperation.UnOpenError":                      {apperr.UpstreamAuth, false, "Tencent Cloud OCR is not enabled for this account"},
	"InvalidParameter.ConfigFormatError":               {apperr.Internal, false, "internal error"},
	"InvalidParameterValue.InvalidParameterValueLimit": {apperr.InvalidRequest, false, "Tencent Cloud refused the image parameters"},
	"LimitExceeded.TooLargeFileError":                  {apperr.ImageTooLarge, false, "the image is too large for Tencent Cloud OCR"},
	"ResourceUnavailable.InArrears":                    {apperr.QuotaExhausted, false, "the Tencent Cloud account is in arrears"},
	"ResourceUnavailable.ResourcePackageRunOut":        {apperr.QuotaExhausted, false, "the Tencent Cloud OCR resource package is used up"},
	"ResourcesSoldOut.ChargeStatusException":           {apperr.QuotaExhausted, false, "Tencent Cloud OCR billing is suspended"},

	// Common codes of every API 3.0 action.
	"ActionOffline":                     {apperr.Internal, false, "internal error"},
	"AuthFailure":                       {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"}, // the family, for codes Tencent adds
	"AuthFailure.InvalidAuthorization":  {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"},
	"AuthFailure.InvalidSecretId":       {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"},
	"AuthFailure.MFAFailure":            {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"},
	"AuthFailure.SecretIdNotFound":      {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"},
	"AuthFailure.SignatureExpire":       {apperr.UpstreamAuth, false, "Tencent Cloud refused the request's signature as expired (check the clock)"},
	"AuthFailure.SignatureFailure":      {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's credentials"},
	"AuthFailure.TokenFailure":          {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's session token"},
	"AuthFailure.UnauthorizedOperation": {apperr.UpstreamAuth, false, "the function's role may not call Tencent Cloud OCR"},
	"DryRunOperation":                   {apperr.Internal, false, "internal error"},
	"FailedOperation":                   {apperr.UpstreamUnavailable, false, "Tencent Cloud OCR failed"},
	"InternalError":                     {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR failed; try again"},
	"InvalidAction":                     {apperr.Internal, false, "internal error"},
	"InvalidParameter":                  {apperr.Internal, false, "internal error"},
	"InvalidParameterValue":             {apperr.InvalidRequest, false, "Tencent Cloud refused the image parameters"},
	"InvalidRequest":                    {apperr.Internal, false, "internal error"},
	"IpInBlacklist":                     {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's address"},
	"IpNotInWhitelist":                  {apperr.UpstreamAuth, false, "Tencent Cloud refused the function's address"},
	"LimitExceeded":                     {apperr.QuotaExhausted, false, "a Tencent Cloud quota is exhausted"},
	"MissingParameter":                  {apperr.Internal, false, "internal error"},
	"NoSuchProduct":                     {apperr.Internal, false, "internal error"},
	"NoSuchVersion":                     {apperr.Internal, false, "internal error"},
	"RequestLimitExceeded":              {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"RequestLimitExceeded.GlobalRegionUinLimitExceeded": {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"RequestLimitExceeded.IPLimitExceeded":              {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"RequestLimitExceeded.UinLimitExceeded":             {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"RequestSizeLimitExceeded":                          {apperr.ImageTooLarge, false, "the image is too large for Tencent Cloud OCR"},
	"ResourceInUse":                                     {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"ResourceInsufficient":                              {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is busy; try again"},
	"ResourceNotFound":                                  {apperr.Internal, false, "internal error"},
	"ResourceUnavailable":                               {apperr.UpstreamUnavailable, false, "Tencent Cloud OCR is unavailable for this account"},
	"ResponseSizeLimitExceeded":                         {apperr.Internal, false, "internal error"},
	"ServiceUnavailable":                                {apperr.UpstreamUnavailable, true, "Tencent Cloud OCR is unavailable; try again"},
	"UnauthorizedOperation":                             {apperr.UpstreamAuth, false, "the function's role may not call Tencent Cloud OCR"},
	"UnknownParameter":                                  {apperr.Internal, false, "internal error"},
	"UnsupportedOperation":                              {apperr.Internal, false, "internal error"},
	"UnsupportedProtocol":                               {apperr.Internal, false, "internal error"},
	"UnsupportedRegion":                                 {apperr.Internal, false, "internal error"},

	// The SDK's client-side codes (no answer, or one it could not read).
	"ClientError.NetworkError":        {apperr.UpstreamUnavailable, true, "Tencent Cloud could not be reached"},
	"ClientError.HttpStatusCodeError": {apperr.UpstreamUnavailable, true, "Tencent Cloud answered with an HTTP error"},
	"ClientError.ParseJsonError":      {apperr.UpstreamUnavailable, false, "Tencent Cloud's answer could not be read"},
	"ClientError.IOError":             {apperr.UpstreamUnavailable, true, "Tencent Cloud's answer could not be read"},
}

// Mapping returns the application code, retryability and caller-safe message for a Tencent
// error code. A code not in the table (Tencent adds codes) counts as the upstream failing in
// a way a retry is unlikely to fix; its family (the part before the first dot) is tried first,
// so a new AuthFailure.X is still UPSTREAM_AUTH.
func Mapping(code string) (apperr.Code, bool, string) {
	if m, ok := errorTable[code]; ok {
		return m.code, m.retryable, m.message
	}
	if family, _, ok := strings.Cut(code, "."); ok {
		if m, ok := errorTable[family]; ok {
			return m.code, m.retryable, m.message
		}
	}
	return apperr.UpstreamUnavailable, false, "Tencent Cloud OCR answered with an unexpected error"
}

// Codes lists every code in the error table (for documentation and tests).
func Codes() []string {
	out := make([]string, 0, len(errorTable))
	for c := range errorTable {
		out = append(out, c)
	}
	return out
}

// ProviderName names Tencent Cloud OCR in results, logs and upstream errors.
const ProviderName = "tencent"

// AppError turns an error of Client.IDCard into the application's *apperr.Error: API and SDK
// codes through the error table (Upstream names the code and Tencent's message, which never
// holds card fields), missing credentials as UPSTREAM_AUTH, a deadline as TIMEOUT. The
// original error stays reachable with errors.Is/As (ErrURLUnreachable for a failed download).
func AppError(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	var api *APIError
	switch {
	case errors.As(err, &api):
		code, retry, msg := Mapping(api.Code)
		e := apperr.Wrap(code, err, "%s", msg)
		e.Retryable = retry
		e.Upstream = &apperr.Upstream{Provider: ProviderName, Code: api.Code, Message: api.Message}
		return e
	case errors.Is(err, ErrNoCredentials):
		return apperr.Wrap(apperr.UpstreamAuth, err, "no Tencent Cloud credentials are configured")
	case errors.Is(err, context.DeadlineExceeded):
		return apperr.Wrap(apperr.Timeout, err, "Tencent Cloud OCR did not answer in time")
	case errors.Is(err, context.Canceled):
		return apperr.Wrap(apperr.Timeout, err, "the request was cancelled")
	}
	return apperr.Wrap(apperr.Internal, err, "internal error")
}
