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
	// WeChat. Only the first is called unless Auto is set.
	Providers []Provider
	// Auto fails over (OCR_PROVIDER=auto): to the next provider when one's quota or budget
	// is spent or it is unavailable past its retries, and to a FraudSignaller first when a
	// request asks for strict checks.
	Auto bool
	// Quotas remembers quota exhaustion and counts daily budgets (a *quota.Book); nil
	// remembers nothing.
	Quotas Quotas
	// Cache keeps recent readings (a *resultcache.Cache); nil turns caching off.
	Cache Cache
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
	auto      bool
	quotas    Quotas
	cache     Cache
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
		auto:      o.Auto,
		quotas:    o.Quotas,
		cache:     o.Cache,
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
	strict, _ := ParseChecks(req.Checks) // Validate checked it
	o := callOpts{mode: req.Mode, strict: strict, portrait: req.Portrait}
	switch {
	case req.Front != nil && req.Back != nil:
		return s.recognizeBoth(ctx, *req.Front, *req.Back, o)
	case req.Front != nil:
		return s.recognizeSingle(ctx, *req.Front, SideFront, o)
	case req.Back != nil:
		return s.recognizeSingle(ctx, *req.Back, SideBack, o)
	}
	side := req.Side
	if side == "" {
		side = SideAuto
	}
	return s.recognizeSingle(ctx, req.Image, side, o)
}

func (s *Service) recognizeSingle(ctx context.Context, im Image, want Side, o callOpts) (*Result, error) {
	rd, err := s.recognizeOne(ctx, im, want, o)
	if err != nil {
		return nil, err
	}
	var rep idcard.Report
	if rd.Side == SideFront {
		rep = idcard.Examine(rd.Front, nil, s.now())
	} else {
		rep = idcard.Examine(nil, rd.Back, s.now())
	}
	r := result(rd, rd.Side, rep, rd.Checks)
	if o.portrait && rd.Side == SideFront {
		r.Portrait = rd.Portrait
	}
	return r, nil
}

// recognizeBoth reads both sides at once; the first failure cancels the other call, which
// may save a quota unit, and is the error returned.
func (s *Service) recognizeBoth(ctx context.Context, front, back Image, o callOpts) (*Result, error) {
	var fr, br *Reading
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		r, err := s.recognizeOne(gctx, front, SideFront, o)
		if err != nil {
			return prefixed(err, "front image: ")
		}
		fr = r
		return nil
	})
	g.Go(func() error {
		ob := o
		ob.portrait = false // the portrait is on the front
		r, err := s.recognizeOne(gctx, back, SideBack, ob)
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
	both := &Reading{provider: fr.provider, reason: fr.reason, cached: fr.cached && br.cached}
	if br.provider != fr.provider {
		both.provider += "," + br.provider
	}
	if br.reason != fr.reason {
		both.reason += "," + br.reason
	}
	r := result(both, SideBoth, rep, mergeChecks(fr.Checks, br.Checks))
	if o.portrait {
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

// severity orders check statuses for mergeChecks: the worse one is kept.
var severity = map[idcard.Status]int{idcard.StatusSkip: 0, idcard.StatusPass: 1, idcard.StatusWarn: 2, idcard.StatusFail: 3}

// mergeChecks combines the provider's checks of the front and the back image: a signal
// reported for both images (Tencent reports every warning for each) appears once, with the
// worse status, and its message says which image raised it.
func mergeChecks(front, back []idcard.Check) []idcard.Check {
	out := make([]idcard.Check, 0, len(front)+len(back))
	at := make(map[string]int, len(front))
	for _, c := range front {
		at[c.Name] = len(out)
		out = append(out, c)
	}
	for _, c := range back {
		i, ok := at[c.Name]
		if !ok {
			out = append(out, c)
			continue
		}
		f := out[i]
		switch {
		case severity[c.Status] > severity[f.Status]:
			c.Message = "back image: " + c.Message
			out[i] = c
		case severity[f.Status] > severity[c.Status]:
			out[i].Message = "front image: " + f.Message
		case f.Status == idcard.StatusFail || f.Status == idcard.StatusWarn:
			out[i].Message = "both images: " + f.Message
		}
	}
	return out
}

// result shapes the report and the provider's own checks as the API's success body; the
// provider's checks count in the verdict like the examination's.
func result(who *Reading, side Side, rep idcard.Report, extra []idcard.Check) *Result {
	rep.Add(extra...)
	r := &Result{
		Provider:       who.provider,
		ProviderReason: who.reason,
		Cached:         who.cached,
		Side:           side,
		Card:           rep.Card,
		Checks:         rep.Checks,
		Verdict:        rep.Verdict,
		Warnings:       rep.Warnings,
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

// recognizeOne reads one image, from the result cache when it was read recently, and checks
// that it shows the wanted side (auto: either). The Reading returned has its Side set.
func (s *Service) recognizeOne(ctx context.Context, im Image, want Side, o callOpts) (*Reading, error) {
	in, ref, err := s.input(im)
	if err != nil {
		return nil, err
	}
	in.Side, in.Mode, in.Portrait = want, o.mode, o.portrait
	var key []byte
	if s.cache != nil {
		key = cacheRef(ref, o)
	}
	rd := s.cached(ctx, key)
	if rd == nil {
		if im.FileID != "" {
			if in.URL, err = s.downloadURL(ctx, strings.TrimSpace(im.FileID)); err != nil {
				return nil, err
			}
		}
		if rd, err = s.call(ctx, in, o); err != nil {
			return nil, err
		}
		s.remember(ctx, key, rd)
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

// input turns an image reference into what a provider takes, without any network call:
// checked bytes, or a URL that passed the policy (a fileID is resolved to its download URL
// only after a cache miss). ref identifies the image for the result cache: its bytes, or
// the fileID or URL. Everything rejected here costs no quota.
func (s *Service) input(im Image) (in Input, ref []byte, err error) {
	switch {
	case im.FileID != "":
		id := strings.TrimSpace(im.FileID)
		if !strings.HasPrefix(id, "cloud://") {
			return Input{}, nil, apperr.Errorf(apperr.InvalidRequest, "fileId must be a cloud storage file ID (cloud://<env>.<bucket>/<path>)")
		}
		return Input{}, []byte("fileId\x00" + id), nil
	case im.URL != "":
		u, err := s.policy.CheckURL(strings.TrimSpace(im.URL))
		if err != nil {
			return Input{}, nil, err
		}
		return Input{URL: u.String()}, []byte("imageUrl\x00" + u.String()), nil
	default:
		in, err = s.bytesInput(im.Bytes)
		return in, im.Bytes, err
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

// callProvider asks p to read in. When p could not download a URL (WeChat answers 101000
// on non-standard ports and intermittently) we fetch the image ourselves with the SSRF-safe
// fetcher and send the bytes.
func (s *Service) callProvider(ctx context.Context, p Provider, in Input) (*Reading, error) {
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
