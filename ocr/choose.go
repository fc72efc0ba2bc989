package ocr

import (
	"context"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// Quotas remembers which provider's quota is spent and counts each provider's daily budget,
// shared by every instance (*quota.Book). Errors mean the store could not answer; the service
// then calls the provider (a budget store that is down falls back to counting per instance
// inside Quotas, never to unlimited).
type Quotas interface {
	// Blocked returns until when provider must not be called, or the zero time.
	Blocked(ctx context.Context, provider string) (time.Time, error)
	// Exhausted records that provider's quota is spent until the time until.
	Exhausted(ctx context.Context, provider string, until time.Time) error
	// Spend takes one call from provider's daily budget; false (and when the budget comes
	// back) when it is spent.
	Spend(ctx context.Context, provider string) (bool, time.Time, error)
}

// Reasons a provider answered, reported in Result.ProviderReason.
const (
	ReasonConfigured  = "configured"      // OCR_PROVIDER's (first) choice
	ReasonStrict      = "strict_checks"   // auto: the request asked for fraud signals
	ReasonQuota       = "quota_exhausted" // auto: the preferred provider's quota is spent
	ReasonBudget      = "budget_spent"    // auto: the preferred provider's daily budget is spent
	ReasonUnavailable = "unavailable"     // auto: the preferred provider failed past its retries
)

// callOpts are a request's options that reach each image's call.
type callOpts struct {
	mode     string // WeChat's type parameter
	strict   bool   // the caller wants fraud signals
	portrait bool   // the caller wants the portrait crop
}

// order lists the providers to try for a request and why the first is chosen.
func (s *Service) order(strict bool) ([]Provider, string) {
	if !s.auto {
		return s.providers[:1], ReasonConfigured
	}
	if strict {
		for i, p := range s.providers {
			if fs, ok := p.(FraudSignaller); ok && fs.FraudSignals() {
				if i == 0 {
					return s.providers, ReasonStrict
				}
				out := append([]Provider{p}, s.providers[:i]...)
				return append(out, s.providers[i+1:]...), ReasonStrict
			}
		}
	}
	return s.providers, ReasonConfigured
}

// call reads in with the first provider that may be called and answers. Without Auto a
// provider whose quota or budget is spent is answered QUOTA_EXHAUSTED at once, with
// Retry-After; with Auto the next provider is tried, and the reading says why.
func (s *Service) call(ctx context.Context, in Input, o callOpts) (*Reading, error) {
	order, reason := s.order(o.strict)
	var lastErr *apperr.Error
	for i, p := range order {
		if i > 0 {
			s.log.InfoContext(ctx, "failing over to the next OCR provider",
				"from", order[i-1].Name(), "to", p.Name(), "reason", reason, "code", string(lastErr.Code))
		}
		if err, why := s.admit(ctx, p); err != nil {
			lastErr, reason = soonest(lastErr, err), why
			continue
		}
		rd, err := s.callProvider(ctx, p, in)
		if err == nil {
			rd.reason = reason
			return rd, nil
		}
		ae := apperr.AsError(err)
		switch {
		case ae.Code == apperr.QuotaExhausted:
			until := s.resetOf(p)
			if qerr := s.exhausted(ctx, p.Name(), until); qerr != nil {
				s.log.WarnContext(ctx, "could not record the exhausted quota", "provider", p.Name(), "err", qerr)
			}
			s.log.WarnContext(ctx, "OCR provider quota exhausted; not calling it until it resets",
				"provider", p.Name(), "until", until.UTC().Format(time.RFC3339), "upstream", upstreamCode(ae))
			lastErr, reason = soonest(lastErr, withRetryAfter(ae, until.Sub(s.now()))), ReasonQuota
		case s.auto && unavailable(ctx, ae):
			lastErr, reason = ae, ReasonUnavailable
		default:
			return nil, err
		}
	}
	return nil, lastErr
}

// admit checks that p may be called now (its quota is not known to be spent) and takes one
// call from its daily budget. The error is QUOTA_EXHAUSTED with Retry-After.
func (s *Service) admit(ctx context.Context, p Provider) (*apperr.Error, string) {
	if s.quotas == nil {
		return nil, ""
	}
	name := p.Name()
	until, err := s.quotas.Blocked(ctx, name)
	if err != nil {
		s.log.WarnContext(ctx, "could not read the provider quota; calling it", "provider", name, "err", err)
	} else if !until.IsZero() {
		e := apperr.Errorf(apperr.QuotaExhausted, "the %s OCR quota is exhausted until %s", name, until.UTC().Format(time.RFC3339))
		return withRetryAfter(e, until.Sub(s.now())), ReasonQuota
	}
	ok, until, err := s.quotas.Spend(ctx, name)
	if err != nil {
		s.log.WarnContext(ctx, "could not count the provider budget", "provider", name, "err", err)
		return nil, ""
	}
	if !ok {
		s.log.WarnContext(ctx, "OCR provider daily budget spent", "provider", name, "until", until.UTC().Format(time.RFC3339))
		e := apperr.Errorf(apperr.QuotaExhausted, "the daily %s OCR budget is spent until %s", name, until.UTC().Format(time.RFC3339))
		return withRetryAfter(e, until.Sub(s.now())), ReasonBudget
	}
	return nil, ""
}

func (s *Service) exhausted(ctx context.Context, provider string, until time.Time) error {
	if s.quotas == nil {
		return nil
	}
	return s.quotas.Exhausted(ctx, provider, until)
}

// resetOf is when p's exhausted quota comes back.
func (s *Service) resetOf(p Provider) time.Time {
	now := s.now()
	if r, ok := p.(QuotaResetter); ok {
		if t := r.QuotaReset(now); t.After(now) {
			return t
		}
	}
	return now.Add(DefaultQuotaPause)
}

// unavailable reports a failure worth another provider: the provider is down or busy past
// its own retries, or its call ran out of time while the request still has some.
func unavailable(ctx context.Context, e *apperr.Error) bool {
	switch e.Code {
	case apperr.UpstreamUnavailable:
		return true
	case apperr.Timeout:
		return ctx.Err() == nil
	}
	return false
}

// withRetryAfter returns a copy of e telling the caller when to come back (whole seconds, at
// least one).
func withRetryAfter(e *apperr.Error, d time.Duration) *apperr.Error {
	cp := *e
	cp.RetryAfter = max(d.Round(time.Second), time.Second)
	return &cp
}

// soonest keeps, of two QUOTA_EXHAUSTED errors, the one that comes back first: the caller's
// Retry-After is when some provider may answer again.
func soonest(a, b *apperr.Error) *apperr.Error {
	if a == nil || a.Code != apperr.QuotaExhausted || (b.RetryAfter > 0 && b.RetryAfter < a.RetryAfter) {
		return b
	}
	return a
}
