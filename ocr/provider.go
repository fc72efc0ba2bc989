package ocr

import (
	"context"
	"errors"
	"time"

	"github.com/wxocr/scf-idcard-ocr/idcard"
)

// Provider reads one ID-card image through an OCR service (WeChat's cv/ocr/idcard, Tencent
// Cloud's IDCardOCR). The service does everything around the call: it resolves a fileId to a
// download URL, checks URLs against the policy and image bytes locally (so a bad image costs
// no quota), chooses the provider, checks the side and examines the card. Implementations
// must be safe for concurrent use.
type Provider interface {
	// Name is the provider's name in results, logs and upstream errors: "wechat", "tencent".
	Name() string
	// Recognize reads one image. Every error is an *apperr.Error with Upstream set where the
	// provider answered. Quota exhaustion (WeChat 45009/101003, Tencent
	// ResourcePackageRunOut, InArrears …) must be apperr.QuotaExhausted: the service then
	// remembers it and stops calling the provider until its quota resets. An image URL the
	// provider could not download must wrap ErrURLUnreachable: the service then fetches the
	// image itself and calls again with the bytes.
	Recognize(ctx context.Context, in Input) (*Reading, error)
}

// Input is one image as a provider receives it: exactly one of Bytes or URL is set.
type Input struct {
	// Bytes is the image, already checked locally (format and size); ContentType is its
	// MIME type. The provider reads Bytes and never modifies or retains them.
	Bytes       []byte
	ContentType string
	// URL is an image URL the provider downloads itself: the caller's URL after the URL
	// policy, or a cloud-storage download URL. It may carry a signature in its query, so it
	// is never logged whole.
	URL string
	// Side is the side the caller expects (SideFront, SideBack or SideAuto). The service
	// checks the answer against it; a provider may pass it on (Tencent's CardSide).
	Side Side
	// Mode is WeChat's optional type parameter: "", "photo" or "scan".
	Mode string
	// Portrait asks for the holder's photo cropped from the front; a provider that cannot
	// crop ignores it.
	Portrait bool
}

// Reading is what a provider read from one image.
type Reading struct {
	// Side is SideFront or SideBack as the provider reported it; "" lets the service decide
	// from which fields are filled in.
	Side Side
	// Front holds the front's fields, Back the back's; the other is nil (or empty).
	Front *idcard.RawFront
	Back  *idcard.RawBack
	// Checks are the provider's own signals (e.g. Tencent's photocopy or reshoot
	// warnings) as checks. They are added to the examination's checks and count in the
	// verdict like them: any fail rejects, any warn sends the card to review.
	Checks []idcard.Check
	// Portrait is the base64 image of the holder's photo when Input.Portrait asked for it;
	// "" otherwise. Personal data: never logged.
	Portrait string

	// Set by the service: who answered, why, and whether from the result cache.
	provider, reason string
	cached           bool
}

// ErrURLUnreachable is wrapped by a provider's error when it could not download an image
// URL (WeChat 101000, which it answers for non-standard ports and intermittently).
var ErrURLUnreachable = errors.New("the provider could not download the image URL")

// QuotaResetter is implemented by a provider that knows when its quota resets after
// exhaustion (WeChat: midnight Asia/Shanghai). For a provider without it the service waits
// DefaultQuotaPause before calling it again.
type QuotaResetter interface {
	// QuotaReset returns when a quota found exhausted at now is available again.
	QuotaReset(now time.Time) time.Time
}

// FraudSignaller is implemented by a provider that reports fraud signals (photocopy, screen
// reshoot, edited image). With OCR_PROVIDER=auto, a request asking for strict checks goes to
// the first provider that reports them.
type FraudSignaller interface {
	// FraudSignals reports whether Recognize returns fraud signals in Reading.Checks.
	FraudSignals() bool
}

// DefaultQuotaPause is how long the service stops calling a provider whose quota ran out when
// the provider does not say when it resets: long enough to stop paying for refusals, short
// enough that a topped-up account is used again soon.
const DefaultQuotaPause = time.Hour
