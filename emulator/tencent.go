package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Tencent Cloud side of the emulator: IDCardOCR (API 3.0, service ocr, version 2018-11-19), as
// Tencent answers it, with the same recognition contract as cv/ocr/idcard.

// Default Tencent Cloud credentials accepted when Options leaves them empty (the sandbox's).
const (
	DefaultTencentSecretID  = "AKIDsandbox00000000000000000000000001"
	DefaultTencentSecretKey = "sandbox-tencent-secret-key-not-for-production"
)

// PathTencentCloud is where API 3.0 requests go (POST / with X-TC-Action); the key of its
// calls in Stats and of its faults.
const PathTencentCloud = "/"

// MaxTencentImageBase64 is Tencent's limit on ImageBase64 (10 MB of base64 text).
const MaxTencentImageBase64 = 10 << 20

// maxTencentBody bounds the JSON body read (the image plus a little).
const maxTencentBody = MaxTencentImageBase64 + 64<<10

// tencentMessages are the Error.Message texts the emulator answers (Tencent's English ones).
var tencentMessages = map[string]string{
	"AuthFailure.InvalidAuthorization":                 "Authorization in the request header is invalid.",
	"AuthFailure.SecretIdNotFound":                     "The SecretId is not found, please ensure that your SecretId is correct.",
	"AuthFailure.SignatureExpire":                      "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
	"AuthFailure.SignatureFailure":                     "The provided credentials could not be validated. Please check your signature is correct.",
	"AuthFailure.TokenFailure":                         "Token error.",
	"InvalidAction":                                    "The requested action does not exist.",
	"NoSuchVersion":                                    "The requested version does not exist.",
	"InvalidParameter":                                 "The request body is not valid JSON.",
	"InvalidParameter.ConfigFormatError":               "Config is not valid JSON.",
	"InvalidParameterValue.InvalidParameterValueLimit": "Parameter value error.",
	"MissingParameter":                                 "ImageBase64 or ImageUrl is required.",
	"FailedOperation.CardSideError":                    "The image does not show the requested CardSide.",
	"FailedOperation.DownLoadError":                    "File download failed.",
	"FailedOperation.ImageDecodeFailed":                "Image decoding failed.",
	"FailedOperation.ImageNoIdCard":                    "No ID card was detected in the image.",
	"FailedOperation.EmptyImageError":                  "The image is empty.",
	"LimitExceeded.TooLargeFileError":                  "The file is too large.",
	"ResourceUnavailable.ResourcePackageRunOut":        "The account's resource package is used up.",
	"ResourceUnavailable.InArrears":                    "The account is in arrears.",
	"ResourcesSoldOut.ChargeStatusException":           "Abnormal billing status.",
	"RequestLimitExceeded":                             "Your current request times exceeds the limit.",
	"InternalError":                                    "Internal error.",
}

// tcEnvelope is the API 3.0 answer.
type tcEnvelope struct {
	Response any `json:"Response"`
}

type tcError struct {
	Error struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
	RequestID string `json:"RequestId"`
}

// tcIDCard is IDCardOCR's answer: every field present, the other side's ones "".
type tcIDCard struct {
	Name         string `json:"Name"`
	Sex          string `json:"Sex"`
	Nation       string `json:"Nation"`
	Birth        string `json:"Birth"`
	Address      string `json:"Address"`
	IdNum        string `json:"IdNum"`
	Authority    string `json:"Authority"`
	ValidDate    string `json:"ValidDate"`
	AdvancedInfo string `json:"AdvancedInfo"`
	RequestID    string `json:"RequestId"`
}

// tcRequest is IDCardOCR's input.
type tcRequest struct {
	ImageBase64              string `json:"ImageBase64"`
	ImageURL                 string `json:"ImageUrl"`
	CardSide                 string `json:"CardSide"`
	Config                   string `json:"Config"`
	EnableRecognitionRectify *bool  `json:"EnableRecognitionRectify"`
}

// tcConfig is the Config string's object; absent flags are false.
type tcConfig struct {
	CropIdCard, CropPortrait, CopyWarn, BorderCheckWarn, ReshootWarn, DetectPsWarn bool
	TempIdWarn, InvalidDateWarn, Quality, MultiCardDetect, ReflectWarn             bool
}

// warnFlag says which Config flag enables a WarnInfos code; codes not listed (-9110
// electronic card, -9111 watermark) are always reported, as Tencent documents no flag for them.
func warnEnabled(code int, c tcConfig) bool {
	switch code {
	case -9102, -9108:
		return c.CopyWarn
	case -9101, -9105:
		return c.BorderCheckWarn
	case -9103:
		return c.ReshootWarn
	case -9106:
		return c.DetectPsWarn
	case -9104:
		return c.TempIdWarn
	case -9100, -9109:
		return c.InvalidDateWarn
	case -9107:
		return c.ReflectWarn
	}
	return true
}

// requestID mimics Tencent's RequestId, a UUID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// tcFail answers Tencent's error envelope; like Tencent it is sent with HTTP 200.
func tcFail(w http.ResponseWriter, code string) {
	var body tcError
	body.Error.Code = code
	body.Error.Message = tencentMessages[code]
	if body.Error.Message == "" {
		body.Error.Message = code
	}
	body.RequestID = requestID()
	writeJSON(w, http.StatusOK, tcEnvelope{Response: body})
}

// serveTencent is POST / for Tencent Cloud API 3.0: the signature is verified, then the
// action is answered. Only IDCardOCR exists here.
func (e *Emulator) serveTencent(w http.ResponseWriter, r *http.Request) {
	defer func() { _, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrainBytes)) }()
	if r.Method != http.MethodPost {
		tcFail(w, "UnsupportedProtocol")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTencentBody+1))
	if err != nil {
		tcFail(w, "InvalidRequest")
		return
	}
	if len(body) > maxTencentBody {
		tcFail(w, "LimitExceeded.TooLargeFileError")
		return
	}
	if code := e.verifyTC3(r, body); code != "" {
		tcFail(w, code)
		return
	}
	switch {
	case r.Header.Get("X-TC-Action") != "IDCardOCR":
		tcFail(w, "InvalidAction")
		return
	case r.Header.Get("X-TC-Version") != "2018-11-19":
		tcFail(w, "NoSuchVersion")
		return
	}
	var req tcRequest
	if err := json.Unmarshal(body, &req); err != nil {
		tcFail(w, "InvalidParameter")
		return
	}
	var cfg tcConfig
	if req.Config != "" {
		if err := json.Unmarshal([]byte(req.Config), &cfg); err != nil {
			tcFail(w, "InvalidParameter.ConfigFormatError")
			return
		}
	}
	if req.CardSide != "" && req.CardSide != "FRONT" && req.CardSide != "BACK" {
		tcFail(w, "InvalidParameterValue.InvalidParameterValueLimit")
		return
	}
	var img []byte
	switch {
	case req.ImageURL != "": // Tencent uses ImageUrl when both are given
		data, code := e.fetchImage(r.Context(), req.ImageURL)
		if code != 0 {
			tcFail(w, "FailedOperation.DownLoadError")
			return
		}
		img = data
	case req.ImageBase64 != "":
		if len(req.ImageBase64) > MaxTencentImageBase64 {
			tcFail(w, "LimitExceeded.TooLargeFileError")
			return
		}
		data, err := base64.StdEncoding.DecodeString(req.ImageBase64)
		if err != nil {
			tcFail(w, "FailedOperation.ImageDecodeFailed")
			return
		}
		img = data
	default:
		tcFail(w, "MissingParameter")
		return
	}
	resp, code := recogniseTencent(img, req, cfg)
	if code != "" {
		tcFail(w, code)
		return
	}
	resp.RequestID = requestID()
	writeJSON(w, http.StatusOK, tcEnvelope{Response: resp})
}

// recogniseTencent applies the recognition contract for IDCardOCR. The carrier's fields are
// WeChat's names plus authority (the back's issuing authority), birth (the printed birth date,
// Tencent's "1995/5/13" form) and warnings (comma-separated WarnInfos codes, e.g. "-9102").
func recogniseTencent(img []byte, req tcRequest, cfg tcConfig) (*tcIDCard, string) {
	if len(img) == 0 {
		return nil, "FailedOperation.EmptyImageError"
	}
	if _, _, err := image.DecodeConfig(bytes.NewReader(img)); err != nil {
		return nil, "FailedOperation.ImageDecodeFailed"
	}
	text, ok := extractCardJSON(img)
	if !ok {
		return nil, "FailedOperation.ImageNoIdCard"
	}
	f, ok := parseCardJSON(text)
	if !ok {
		return nil, "FailedOperation.ImageNoIdCard"
	}
	side := "FRONT"
	if f["type"] == "Back" || (f["type"] == "" && f["valid_date"] != "") {
		side = "BACK"
	}
	if req.CardSide != "" && req.CardSide != side {
		return nil, "FailedOperation.CardSideError"
	}
	out := &tcIDCard{}
	if side == "FRONT" {
		out.Name, out.Sex, out.Nation, out.Address, out.IdNum = f["name"], f["gender"], f["nationality"], f["addr"], f["id"]
		out.Birth = f["birth"]
		// Rectification (on unless turned off) rewrites the birth date to agree with the
		// number, hiding an inconsistency; turned off, the printed date is returned as read.
		if req.EnableRecognitionRectify == nil || *req.EnableRecognitionRectify {
			if b, ok := birthFromID(out.IdNum); ok {
				out.Birth = b
			}
		}
	} else {
		out.Authority = f["authority"]
		out.ValidDate = tencentValidDate(f["valid_date"])
	}
	adv := map[string]any{}
	var warns []int
	for part := range strings.SplitSeq(f["warnings"], ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(part)); err == nil && warnEnabled(n, cfg) {
			warns = append(warns, n)
		}
	}
	if len(warns) > 0 {
		adv["WarnInfos"] = warns
	} else if cfg.CopyWarn || cfg.BorderCheckWarn || cfg.ReshootWarn || cfg.DetectPsWarn || cfg.TempIdWarn || cfg.InvalidDateWarn || cfg.ReflectWarn {
		adv["WarnInfos"] = []int{}
	}
	if cfg.Quality {
		adv["Quality"] = 92
	}
	if cfg.BorderCheckWarn {
		adv["BorderCodeValue"] = 8
	}
	if cfg.CropPortrait && side == "FRONT" {
		adv["Portrait"] = base64.StdEncoding.EncodeToString(portraitPNG())
	}
	a, _ := json.Marshal(adv)
	out.AdvancedInfo = string(a)
	return out, ""
}

// birthFromID formats an 18-character number's birth date the way Tencent prints Birth.
func birthFromID(id string) (string, bool) {
	if len(id) != 18 {
		return "", false
	}
	y, err1 := strconv.Atoi(id[6:10])
	m, err2 := strconv.Atoi(id[10:12])
	d, err3 := strconv.Atoi(id[12:14])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", false
	}
	return fmt.Sprintf("%d/%d/%d", y, m, d), true
}

// tencentValidDate turns WeChat's "20190308-20290308" into Tencent's "2019.03.08-2029.03.08"
// ("…-长期" stays long-term).
func tencentValidDate(s string) string {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return s
	}
	dot := func(d string) string {
		if len(d) == 8 && strings.Trim(d, "0123456789") == "" {
			return d[:4] + "." + d[4:6] + "." + d[6:]
		}
		return d
	}
	return dot(from) + "-" + dot(to)
}

// portraitPNG is the crop the emulator returns for CropPortrait: the photo block of a sample
// card, a small real PNG.
func portraitPNG() []byte {
	img := cardPicture(map[string]string{"type": "Front"})
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(300, 50, 400, 180))
	var buf bytes.Buffer
	if err := png.Encode(&buf, sub); err != nil {
		panic(fmt.Sprintf("emulator: encode portrait: %v", err))
	}
	return buf.Bytes()
}
