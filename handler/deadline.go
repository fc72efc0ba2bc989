package handler

import (
	"context"
	"errors"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// DefaultRequestTimeout is the deadline of one request when Options.RequestTimeout is zero.
const DefaultRequestTimeout = 10 * time.Second

// invokeMargin is how long before the platform's own deadline an invocation answers TIMEOUT:
// SCF kills an invocation at its limit without a word to the caller, so the answer must be
// out before it. It shrinks for very short limits (a quarter of what is left).
const invokeMargin = time.Second

// withDeadline gives one request its one deadline, shared by the body upload, every upstream
// call and every retry: RequestTimeout from now and, for an invocation, no later than the
// platform's deadline (ctx's) less the margin.
func (h *Handler) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	now := time.Now()
	deadline := now.Add(h.requestTimeout)
	if platform, ok := ctx.Deadline(); ok {
		margin := min(invokeMargin, platform.Sub(now)/4)
		if d := platform.Add(-margin); d.Before(deadline) {
			deadline = d
		}
	}
	return context.WithDeadline(ctx, deadline)
}

// ctxError names why ctx ended, when it has, in place of err (whatever failed because of
// it): TIMEOUT when the deadline passed, CLIENT_CLOSED when the caller went away. A caller
// that hangs up is not a slow upstream, and neither the log line nor any breaker may count
// it as one. err is returned unchanged while ctx is live.
func ctxError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() == nil:
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code == apperr.Timeout {
			return err
		}
		return apperr.Wrap(apperr.Timeout, err, "the request ran out of time")
	default:
		return apperr.Wrap(apperr.ClientClosed, err, "the client closed the request before the answer")
	}
}
