// Package ocr is the recognition service: it turns one image reference (a cloud fileID, a
// URL, base64 text or uploaded bytes), or a front and back pair, into a WeChat cv/ocr/idcard
// call, maps every upstream failure onto the application's error codes, and runs the
// ID-card examination on what was read.
package ocr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/internal/redact"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// Files resolves cloud-storage fileIDs to download URLs (*wechat.Client).
type Files interface {
	BatchDownloadFile(ctx context.Context, env string, fileIDs []string, maxAge time.Duration) ([]wechat.FileURL, error)
}

// WeChat is the part of *wechat.Client the service calls: file IDs and, unless Providers
// says otherwise, the WeChat provider.
type WeChat interface {
	Files
	WeChatOCR
}

// ImageFetcher downloads an image URL ourselves (*imagesrc.Fetcher): the fallback when a
// provider could not fetch a URL (ErrURLUnreachable, e.g. WeChat's 101000).
type ImageFetcher interface {
	Fetch(ctx context.Context, rawURL string) (data []byte, contentType string, err error)
}

// downloadMaxAge is how long a cloud-storage download URL stays valid: WeChat fetches it
// within the call, so a short life limits what a leaked URL exposes.
const downloadMaxAge = 10 * time.Minute

// Options configures a Service. WeChat is required.
type Options struct {
	// WeChat is the API client: it resolves fileIDs, and is the provider when Providers is
	// empty.
	WeChat WeChat
	// Providers read the images, in order of preference; empty means the WeChat provider on
	// WeChat.
	Providers []Provider
	// Images fetches URLs for the 101000 fallback; nil means imagesrc.NewFetcher(URLPolicy)
	// with MaxBytes set to MaxImageBytes.
	Images ImageFetcher
	// URLPolicy decides which imageUrl values are accepted.
	URLPolicy imagesrc.Policy
	// MaxImageBytes bounds decoded and uploaded images (default imagesrc.DefaultMaxBytes).
	MaxImageBytes int64
	// CloudEnv is the cloud environment for fileIDs; "" takes it from each fileID.
	CloudEnv string
	// Now is the clock for the examination's date checks (default time.Now).
	Now func() time.Time
	// Logger receives fallback and failure details (default: discard).
	Logger *slog.Logger
}

// Service recognises ID cards. It is safe for concurrent use.
type Service struct {
	files     Files
	providers []Provider
	images    ImageFetcher
	policy    imagesrc.Policy
	maxBytes  int64
	cloudEnv  string
	now       func() time.Time
	log       *slog.Logger
}

// New checks the options and builds a Service.
func New(o Options) (*Service, error) {
	if o.WeChat == nil {
		return nil, errors.New("ocr: Options.WeChat is required")
	}
	if o.MaxImageBytes < 0 {
		return nil, fmt.Errorf("ocr: MaxImageBytes must be >= 0, got %d", o.MaxImageBytes)
	}
	s := &Service{
		files:     o.WeChat,
		providers: o.Providers,
		images:    o.Images,
		policy:    o.URLPolicy,
		maxBytes:  o.MaxImageBytes,
		cloudEnv:  strings.TrimSpace(o.CloudEnv),
		now:       o.Now,
		log:       o.Logger,
	}
	if len(s.providers) == 0 {
		s.providers = []Provider{NewWeChatProvider(o.WeChat)}
	}
	for i, p := range s.providers {
		if p == nil {
			return nil, fmt.Errorf("ocr: Options.Providers[%d] is nil", i)
		}
	}
	if s.maxBytes == 0 {
		s.maxBytes = imagesrc.DefaultMaxBytes
	}
	if s.policy.MaxBytes == 0 || s.policy.MaxBytes > s.maxBytes {
		s.policy.MaxBytes = s.maxBytes
	}
	if s.images == nil {
		s.images = imagesrc.NewFetcher(s.policy)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Recognize reads one image, or a front and back pair concurrently, and examines the card.
// Every error is an *apperr.Error.
func (s *Service) Recognize(ctx context.Context, req Request) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	switch {
	case req.Front != nil && req.Back != nil:
		return s.recognizeBoth(ctx, *req.Front, *req.Back, call{mode: req.Mode, portrait: req.Portrait})
	case req.Front != nil:
		return s.recognizeSingle(ctx, *req.Front, SideFront, call{mode: req.Mode, portrait: req.Portrait})
	case req.Back != nil:
		return s.recognizeSingle(ctx, *req.Back, SideBack, call{mode: req.Mode, portrait: req.Portrait})
	}
	side := req.Side
	if side == "" {
		side = SideAuto
	}
	return s.recognizeSingle(ctx, req.Image, side, call{mode: req.Mode, portrait: req.Portrait})
}

// call holds the per-request options every provider call of a request shares.
type call struct {
	mode     string // WeChat's type parameter
	portrait bool   // the caller wants the portrait crop
}

func (s *Service) recognizeSingle(ctx context.Context, im Image, want Side, c call) (*Result, error) {
	rd, err := s.recognizeOne(ctx, im, want, c)
	if err != nil {
		return nil, err
	}
	var rep idcard.Report
	if rd.Side == SideFront {
		rep = idcard.Examine(rd.Front, nil, s.now())
	} else {
		rep = idcard.Examine(nil, rd.Back, s.now())
	}
	r := result(rd.provider, rd.Side, rep, rd.Checks)
	if c.portrait && rd.Side == SideFront {
		r.Portrait = rd.Portrait
	}
	return r, nil
}

// recognizeBoth reads both sides at once; the first failure cancels the other call, which
// may save a quota unit, and is the error returned.
func (s *Service) recognizeBoth(ctx context.Context, front, back Image, c call) (*Result, error) {
	var fr, br *Reading
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		r, err := s.recognizeOne(gctx, front, SideFront, c)
		if err != nil {
			return prefixed(err, "front image: ")
		}
		fr = r
		return nil
	})
	g.Go(func() error {
		r, err := s.recognizeOne(gctx, back, SideBack, call{mode: c.mode})
		if err != nil {
			return prefixed(err, "back image: ")
		}
		br = r
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rep := idcard.Examine(fr.Front, br.Back, s.now())
	provider := fr.provider
	if br.provider != provider {
		provider += "," + br.provider
	}
	r := result(provider, SideBoth, rep, append(fr.Checks, br.Checks...))
	if c.portrait {
		r.Portrait = fr.Portrait
	}
	return r, nil
}

// prefixed returns a copy of err's *apperr.Error with its message prefixed, so the caller
// learns which image of a pair failed.
func prefixed(err error, prefix string) error {
	ae := apperr.AsError(err)
	cp := *ae
	cp.Message = prefix + cp.Message
	return &cp
}

// result shapes the report and the provider's own checks as the API's success body; the
// provider's checks count in the verdict like the examination's.
func result(provider string, side Side, rep idcard.Report, extra []idcard.Check) *Result {
	rep.Add(extra...)
	r := &Result{
		Provider: provider,
		Side:     side,
		Card:     rep.Card,
		Checks:   rep.Checks,
		Verdict:  rep.Verdict,
		Warnings: rep.Warnings,
	}
	// Empty lists are [] in JSON, never null: clients iterate them without a check.
	if r.Checks == nil {
		r.Checks = []idcard.Check{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	return r
}

// recognizeOne reads one image and checks that it shows the wanted side (auto: either). The
// Reading returned has its Side set.
func (s *Service) recognizeOne(ctx context.Context, im Image, want Side, c call) (*Reading, error) {
	in, err := s.input(ctx, im)
	if err != nil {
		return nil, err
	}
	in.Side, in.Mode, in.Portrait = want, c.mode, c.portrait
	rd, err := s.call(ctx, in)
	if err != nil {
		return nil, err
	}
	got, err := sideOf(rd)
	if err != nil {
		return nil, err
	}
	if want != SideAuto && got != want {
		return nil, apperr.Errorf(apperr.InvalidRequest, "expected the %s side, got the %s", want, got)
	}
	rd.Side = got
	return rd, nil
}

// input turns an image reference into what a provider takes: checked bytes, a URL that
// passed the policy, or a fileID's download URL. Everything rejected here costs no quota.
func (s *Service) input(ctx context.Context, im Image) (Input, error) {
	switch {
	case im.FileID != "":
		u, err := s.downloadURL(ctx, strings.TrimSpace(im.FileID))
		return Input{URL: u}, err
	case im.URL != "":
		u, err := s.policy.CheckURL(strings.TrimSpace(im.URL))
		if err != nil {
			return Input{}, err
		}
		return Input{URL: u.String()}, nil
	default:
		return s.bytesInput(im.Bytes)
	}
}

// bytesInput checks an image locally, so that an oversized or non-image upload spends no
// quota.
func (s *Service) bytesInput(data []byte) (Input, error) {
	format, err := imagesrc.Check(data, s.maxBytes)
	if err != nil {
		return Input{}, err
	}
	return Input{Bytes: data, ContentType: format.ContentType()}, nil
}

// sideOf takes the provider's side, falling back on which fields are filled in.
func sideOf(r *Reading) (Side, error) {
	switch {
	case r.Side == SideFront || r.Side == SideBack:
		return r.Side, nil
	case r.Front != nil && (r.Front.IDNumber != "" || r.Front.Name != ""):
		return SideFront, nil
	case r.Back != nil && r.Back.ValidDate != "":
		return SideBack, nil
	}
	return "", apperr.Errorf(apperr.NoCardFound, "no ID card was recognised in the image")
}

// call asks the provider to read in. When the provider could not download a URL (WeChat
// answers 101000 on non-standard ports and intermittently) we fetch the image ourselves with
// the SSRF-safe fetcher and send the bytes.
func (s *Service) call(ctx context.Context, in Input) (*Reading, error) {
	p := s.providers[0]
	rd, err := p.Recognize(ctx, in)
	if err == nil {
		if rd == nil {
			return nil, apperr.Errorf(apperr.Internal, "internal error")
		}
		rd.provider = p.Name()
		return rd, nil
	}
	if in.URL == "" || !errors.Is(err, ErrURLUnreachable) {
		return nil, err
	}
	pe := apperr.AsError(err)
	s.log.InfoContext(ctx, "the provider could not fetch the image URL; fetching it ourselves",
		"provider", p.Name(), "url", redact.URL(in.URL), "upstream", upstreamCode(pe))
	data, _, ferr := s.images.Fetch(ctx, in.URL)
	if ferr != nil {
		ae := apperr.AsError(ferr)
		if ae.Code == apperr.Internal {
			ae = apperr.Wrap(apperr.ImageFetchFailed, ferr, "the image URL could not be fetched")
		}
		cp := *ae
		if cp.Upstream == nil {
			cp.Upstream = pe.Upstream
		}
		s.log.InfoContext(ctx, "image URL fallback failed", "url", redact.URL(in.URL), "code", string(cp.Code), "err", redact.Text(ferr.Error()))
		return nil, &cp
	}
	bin, err := s.bytesInput(data)
	if err != nil {
		return nil, err
	}
	bin.Side, bin.Mode, bin.Portrait = in.Side, in.Mode, in.Portrait
	rd, err = p.Recognize(ctx, bin)
	if err != nil {
		return nil, err
	}
	if rd == nil {
		return nil, apperr.Errorf(apperr.Internal, "internal error")
	}
	rd.provider = p.Name()
	return rd, nil
}

func upstreamCode(e *apperr.Error) string {
	if e.Upstream == nil {
		return ""
	}
	return e.Upstream.Code
}

// downloadURL resolves a cloud-storage fileID. The download URL comes from WeChat, so it
// skips the caller URL policy; the fallback fetch still applies it, together with the
// fetcher's address checks.
func (s *Service) downloadURL(ctx context.Context, fileID string) (string, error) {
	if !strings.HasPrefix(fileID, "cloud://") {
		return "", apperr.Errorf(apperr.InvalidRequest, "fileId must be a cloud storage file ID (cloud://<env>.<bucket>/<path>)")
	}
	env := s.cloudEnv
	if env == "" {
		e, err := wechat.EnvFromFileID(fileID)
		if err != nil {
			return "", apperr.Wrap(apperr.InvalidRequest, err, "fileId must be a cloud storage file ID (cloud://<env>.<bucket>/<path>)")
		}
		env = e
	}
	files, err := s.files.BatchDownloadFile(ctx, env, []string{fileID}, downloadMaxAge)
	if err != nil {
		return "", mapError(ctx, err)
	}
	var f *wechat.FileURL
	for i := range files {
		if files[i].FileID == fileID || len(files) == 1 {
			f = &files[i]
			break
		}
	}
	switch {
	case f == nil:
		return "", apperr.Errorf(apperr.ImageFetchFailed, "cloud storage returned no download URL for the fileId")
	case f.Status != 0:
		e := apperr.Errorf(apperr.ImageFetchFailed, "cloud storage could not provide the file: %s", f.ErrMsg)
		e.Retryable = false // a missing or foreign file stays missing
		e.Upstream = &apperr.Upstream{Provider: ProviderWeChat, Code: strconv.Itoa(f.Status), Message: f.ErrMsg}
		return "", e
	case f.DownloadURL == "":
		return "", apperr.Errorf(apperr.ImageFetchFailed, "cloud storage returned an empty download URL for the fileId")
	}
	return f.DownloadURL, nil
}

// mapError turns a WeChat client or token failure into the application's error codes.
func mapError(ctx context.Context, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	// WeChat's errcodes are mapped by wechat's one table.
	var api *wechat.APIError
	if errors.As(err, &api) {
		ae := api.AppError()
		ae.Err = err // the whole chain, for the log
		return ae
	}
	if errors.Is(err, wechat.ErrNoToken) {
		return apperr.Wrap(apperr.UpstreamAuth, err, "no usable WeChat access token")
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return apperr.Wrap(apperr.Timeout, err, "WeChat did not answer in time")
	}
	if errors.Is(err, context.Canceled) {
		// The caller went away; WeChat is not to blame.
		return apperr.Wrap(apperr.ClientClosed, err, "the client closed the request before the answer")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return apperr.Wrap(apperr.Timeout, err, "WeChat did not answer in time")
	}
	return apperr.Wrap(apperr.UpstreamUnavailable, err, "WeChat could not be reached")
}
