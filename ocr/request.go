package ocr

import (
	"strings"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/idcard"
)

// Side names which side of the card an image shows, or which sides a result covers.
type Side string

// The sides. A request asks for SideFront, SideBack or SideAuto; a result reports SideFront,
// SideBack or SideBoth.
const (
	SideAuto  Side = "auto"
	SideFront Side = "front"
	SideBack  Side = "back"
	SideBoth  Side = "both"
)

// ParseSide accepts "", "auto", "front" and "back" (case as given: the API is lower-case).
func ParseSide(s string) (Side, error) {
	switch Side(s) {
	case "", SideAuto:
		return SideAuto, nil
	case SideFront, SideBack:
		return Side(s), nil
	}
	return "", apperr.Errorf(apperr.InvalidRequest, "side must be front, back or auto")
}

// ParseMode accepts "", "photo" and "scan", WeChat's optional type parameter.
func ParseMode(s string) (string, error) {
	switch s {
	case "", "photo", "scan":
		return s, nil
	}
	return "", apperr.Errorf(apperr.InvalidRequest, "mode must be photo or scan")
}

// Image is one image reference. Exactly one source is set: FileID, URL or Bytes. A non-nil
// empty Bytes is a present but empty image (IMAGE_UNREADABLE).
type Image struct {
	// FileID is a cloud storage file ID, cloud://<env>.<bucket>/<path>.
	FileID string
	// URL is an image URL that WeChat downloads (https, or a host on the allow-lists).
	URL string
	// Bytes is the image itself: an upload, or an imageBase64 the edge has decoded. The
	// service reads it and never modifies or retains it.
	Bytes []byte
}

// sources counts how many sources are set.
func (im *Image) sources() int {
	n := 0
	if im.FileID != "" {
		n++
	}
	if im.URL != "" {
		n++
	}
	if im.Bytes != nil {
		n++
	}
	return n
}

// Source names the image's source for logs: fileId, imageUrl, upload or none.
func (im *Image) Source() string {
	switch {
	case im.FileID != "":
		return "fileId"
	case im.URL != "":
		return "imageUrl"
	case im.Bytes != nil:
		return "upload"
	}
	return "none"
}

// Request is one recognition: either a single Image with the expected Side, or Front and
// Back images that are recognised concurrently and examined together.
type Request struct {
	// Image is the single image; leave it zero when Front or Back is set.
	Image Image
	// Side is what the single image must show; "" means auto.
	Side Side
	// Mode is WeChat's type parameter: "", "photo" or "scan".
	Mode string
	// Front and Back are a both-sides request; each image must show its side. Setting only
	// one of them is a single-image request for that side.
	Front, Back *Image
	// Portrait asks for the holder's photo cropped from the front (a face match needs it),
	// from a provider that can (Tencent's CropPortrait). It is personal data: returned only
	// when asked, never logged.
	Portrait bool
	// Checks is "" or "standard", or "strict": the caller wants fraud signals (photocopy,
	// reshoot, edit), which with OCR_PROVIDER=auto sends the image to a provider that
	// reports them.
	Checks string
}

// Check levels a request may ask for.
const (
	ChecksStandard = "standard"
	ChecksStrict   = "strict"
)

// ParseChecks accepts "", "standard" and "strict"; it reports whether strict was asked.
func ParseChecks(s string) (bool, error) {
	switch s {
	case "", ChecksStandard:
		return false, nil
	case ChecksStrict:
		return true, nil
	}
	return false, apperr.Errorf(apperr.InvalidRequest, "checks must be standard or strict")
}

// Validate checks the request's shape: the mode, one image or a front and back (not both),
// the side (front, back or auto for one image; omitted or both for a pair), and exactly one
// non-blank source in each image. These rules live here only: every edge (JSON, multipart,
// raw body, cloud call) builds a Request and Recognize calls Validate before anything else.
func (r *Request) Validate() error {
	if _, err := ParseMode(r.Mode); err != nil {
		return err
	}
	if _, err := ParseChecks(r.Checks); err != nil {
		return err
	}
	if r.Front == nil && r.Back == nil {
		if _, err := ParseSide(string(r.Side)); err != nil {
			return err
		}
		return r.Image.validate("")
	}
	if r.Image.sources() > 0 {
		return apperr.Errorf(apperr.InvalidRequest, "give either one image or front and back, not both")
	}
	switch r.Side {
	case "", SideAuto, SideBoth:
	default:
		return apperr.Errorf(apperr.InvalidRequest, "side must be omitted (or both) when front and back are given")
	}
	if r.Front != nil {
		if err := r.Front.validate("front: "); err != nil {
			return err
		}
	}
	if r.Back != nil {
		return r.Back.validate("back: ")
	}
	return nil
}

// validate checks one image; what names it in messages ("" for a single image).
func (im *Image) validate(what string) error {
	switch im.sources() {
	case 0:
		return apperr.Errorf(apperr.InvalidRequest, "%sno image: give one of fileId, imageUrl or imageBase64", what)
	case 1:
	default:
		return apperr.Errorf(apperr.InvalidRequest, "%sgive exactly one of fileId, imageUrl or imageBase64", what)
	}
	switch {
	case im.FileID != "" && strings.TrimSpace(im.FileID) == "":
		return apperr.Errorf(apperr.InvalidRequest, "%sfileId is blank", what)
	case im.URL != "" && strings.TrimSpace(im.URL) == "":
		return apperr.Errorf(apperr.InvalidRequest, "%simageUrl is blank", what)
	}
	return nil
}

// Result is a successful recognition: what was read and what the examination found. The
// transport's envelope (ok, requestId) is the handler's, not the service's.
type Result struct {
	// Provider is who read the card ("wechat", "tencent"; "wechat,tencent" when the two
	// sides of a pair were read by different providers).
	Provider string `json:"provider"`
	// ProviderReason says why that provider answered: configured (OCR_PROVIDER's first
	// choice), strict_checks, quota_exhausted, budget_spent or unavailable (auto failed over).
	ProviderReason string `json:"providerReason"`
	// Cached is true when every image's reading came from the result cache: no provider
	// was called.
	Cached bool `json:"cached"`

	Side     Side           `json:"side"`
	Card     idcard.Card    `json:"card"`
	Checks   []idcard.Check `json:"checks"`
	Verdict  idcard.Verdict `json:"verdict"`
	Warnings []string       `json:"warnings"`
	// Portrait is the base64 image of the holder's photo, only when Request.Portrait asked
	// for it and the provider returned one.
	Portrait string `json:"portrait,omitempty"`
}
