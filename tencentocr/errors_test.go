package tencentocr

import (
	"errors"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// The expected mapping of every code, written out independently of the table: a row changed
// by mistake, added or dropped fails here.
var wantMapping = map[string]struct {
	code  apperr.Code
	retry bool
}{
	"FailedOperation.CardSideError":                     {apperr.InvalidRequest, false},
	"FailedOperation.DownLoadError":                     {apperr.ImageFetchFailed, true},
	"FailedOperation.EmptyImageError":                   {apperr.ImageUnreadable, false},
	"FailedOperation.IdCardInfoIllegal":                 {apperr.NoCardFound, false},
	"FailedOperation.IdCardTooSmall":                    {apperr.ImageUnreadable, false},
	"FailedOperation.ImageBlur":                         {apperr.ImageUnreadable, false},
	"FailedOperation.ImageDecodeFailed":                 {apperr.ImageUnreadable, false},
	"FailedOperation.ImageNoIdCard":                     {apperr.NoCardFound, false},
	"FailedOperation.ImageSizeTooLarge":                 {apperr.ImageTooLarge, false},
	"FailedOperation.MultiCardError":                    {apperr.ImageUnreadable, false},
	"FailedOperation.OcrFailed":                         {apperr.ImageUnreadable, false},
	"FailedOperation.UnKnowError":                       {apperr.UpstreamUnavailable, true},
	"FailedOperation.UnOpenError":                       {apperr.UpstreamAuth, false},
	"InvalidParameter.ConfigFormatError":                {apperr.Internal, false},
	"InvalidParameterValue.InvalidParameterValueLimit":  {apperr.InvalidRequest, false},
	"LimitExceeded.TooLargeFileError":                   {apperr.ImageTooLarge, false},
	"ResourceUnavailable.InArrears":                     {apperr.QuotaExhausted, false},
	"ResourceUnavailable.ResourcePackageRunOut":         {apperr.QuotaExhausted, false},
	"ResourcesSoldOut.ChargeStatusException":            {apperr.QuotaExhausted, false},
	"ActionOffline":                                     {apperr.Internal, false},
	"AuthFailure":                                       {apperr.UpstreamAuth, false},
	"AuthFailure.InvalidAuthorization":                  {apperr.UpstreamAuth, false},
	"AuthFailure.InvalidSecretId":                       {apperr.UpstreamAuth, false},
	"AuthFailure.MFAFailure":                            {apperr.UpstreamAuth, false},
	"AuthFailure.SecretIdNotFound":                      {apperr.UpstreamAuth, false},
	"AuthFailure.SignatureExpire":                       {apperr.UpstreamAuth, false},
	"AuthFailure.SignatureFailure":                      {apperr.UpstreamAuth, false},
	"AuthFailure.TokenFailure":                          {apperr.UpstreamAuth, false},
	"AuthFailure.UnauthorizedOperation":                 {apperr.UpstreamAuth, false},
	"DryRunOperation":                                   {apperr.Internal, false},
	"FailedOperation":                                   {apperr.UpstreamUnavailable, false},
	"InternalError":                                     {apperr.UpstreamUnavailable, true},
	"InvalidAction":                                     {apperr.Internal, false},
	"InvalidParameter":                                  {apperr.Internal, false},
	"InvalidParameterValue":                             {apperr.InvalidRequest, false},
	"InvalidRequest":                                    {apperr.Internal, false},
	"IpInBlacklist":                                     {apperr.UpstreamAuth, false},
	"IpNotInWhitelist":                                  {apperr.UpstreamAuth, false},
	"LimitExceeded":                                     {apperr.QuotaExhausted, false},
	"MissingParameter":                                  {apperr.Internal, false},
	"NoSuchProduct":                                     {apperr.Internal, false},
	"NoSuchVersion":                                     {apperr.Internal, false},
	"RequestLimitExceeded":                              {apperr.UpstreamUnavailable, true},
	"RequestLimitExceeded.GlobalRegionUinLimitExceeded": {apperr.UpstreamUnavailable, true},
	"RequestLimitExceeded.IPLimitExceeded":              {apperr.UpstreamUnavailable, true},
	"RequestLimitExceeded.UinLimitExceeded":             {apperr.UpstreamUnavailable, true},
	"RequestSizeLimitExceeded":                          {apperr.ImageTooLarge, false},
	"ResourceInUse":                                     {apperr.UpstreamUnavailable, true},
	"ResourceInsufficient":                              {apperr.UpstreamUnavailable, true},
	"ResourceNotFound":                                  {apperr.Internal, false},
	"ResourceUnavailable":                               {apperr.UpstreamUnavailable, false},
	"ResponseSizeLimitExceeded":                         {apperr.Internal, false},
	"ServiceUnavailable":                                {apperr.UpstreamUnavailable, true},
	"UnauthorizedOperation":                             {apperr.UpstreamAuth, false},
	"UnknownParameter":                                  {apperr.Internal, false},
	"UnsupportedOperation":                              {apperr.Internal, false},
	"UnsupportedProtocol":                               {apperr.Internal, false},
	"UnsupportedRegion":                                 {apperr.Internal, false},
	"ClientError.NetworkError":                          {apperr.UpstreamUnavailable, true},
	"ClientError.HttpStatusCodeError":                   {apperr.UpstreamUnavailable, true},
	"ClientError.ParseJsonError":                        {apperr.UpstreamUnavailable, false},
	"ClientError.IOError":                               {apperr.UpstreamUnavailable, true},
}

func TestErrorTableEntryByEntry(t *testing.T) {
	if len(Codes()) != len(wantMapping) {
		t.Errorf("table has %d codes, the test expects %d", len(Codes()), len(wantMapping))
	}
	for _, code := range Codes() {
		if _, ok := wantMapping[code]; !ok {
			t.Errorf("%s is in the table but not in the test", code)
		}
	}
	for code, want := range wantMapping {
		t.Run(code, func(t *testing.T) {
			got, retry, msg := Mapping(code)
			if got != want.code || retry != want.retry || msg == "" {
				t.Fatalf("Mapping = %s retry=%v %q, want %s retry=%v", got, retry, msg, want.code, want.retry)
			}
			err := AppError(&APIError{Code: code, Message: "m", RequestID: "r"})
			ae := apperr.AsError(err)
			if ae.Code != want.code || ae.Retryable != want.retry || ae.Upstream.Code != code || ae.Upstream.Provider != "tencent" || ae.Upstream.Message != "m" {
				t.Fatalf("AppError = %+v", ae)
			}
		})
	}
}

// Every code IDCardOCR documents (tencentcloud-sdk-go ocr/v20181119 client.go) has its own
// row, not only a family fallback.
func TestIDCardOCRDocumentedCodesHaveRows(t *testing.T) {
	documented := []string{
		"FailedOperation.CardSideError", "FailedOperation.DownLoadError", "FailedOperation.EmptyImageError",
		"FailedOperation.IdCardInfoIllegal", "FailedOperation.IdCardTooSmall", "FailedOperation.ImageBlur",
		"FailedOperation.ImageDecodeFailed", "FailedOperation.ImageNoIdCard", "FailedOperation.ImageSizeTooLarge",
		"FailedOperation.MultiCardError", "FailedOperation.OcrFailed", "FailedOperation.UnKnowError",
		"FailedOperation.UnOpenError", "InvalidParameter.ConfigFormatError",
		"InvalidParameterValue.InvalidParameterValueLimit", "LimitExceeded.TooLargeFileError",
		"ResourceUnavailable.InArrears", "ResourceUnavailable.ResourcePackageRunOut",
		"ResourcesSoldOut.ChargeStatusException",
	}
	for _, c := range documented {
		if _, ok := errorTable[c]; !ok {
			t.Errorf("%s has no row", c)
		}
	}
}

func TestMappingFallbacks(t *testing.T) {
	if c, _, _ := Mapping("AuthFailure.SomethingNew"); c != apperr.UpstreamAuth {
		t.Errorf("new AuthFailure code maps to %s", c)
	}
	if c, r, _ := Mapping("Totally.Unknown"); c != apperr.UpstreamUnavailable || r {
		t.Errorf("unknown code maps to %s retry=%v", c, r)
	}
	if !errors.Is(AppError(ErrNoCredentials), ErrNoCredentials) {
		t.Error("AppError lost the cause")
	}
	if AppError(nil) != nil {
		t.Error("AppError(nil) != nil")
	}
}

// Tencent's error message may quote the ImageUrl it could not download; the signature must
// not reach the error, which is logged and returned as upstream.message.
func TestErrorMessageQuotingImageURLIsRedacted(t *testing.T) {
	body := []byte(`{"Response":{"Error":{"Code":"FailedOperation.DownLoadError","Message":"download failed: https://dl.example.com/a.jpg?sign=5b0f9d8f&t=1700000000"},"RequestId":"r-1"}}`)
	_, err := Decode(body)
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "sign=") || !strings.Contains(err.Error(), "https://dl.example.com/a.jpg") {
		t.Errorf("error %q", err)
	}
}
