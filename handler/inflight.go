package handler

import (
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// inflight bounds the request bytes held in memory at once by requests served over HTTP, so
// that however many large uploads arrive together, an instance stays inside its memory: a
// request that would pass the bound is answered OVERLOADED (503, Retry-After) before its body
// is read. Event invocations need no bound: SCF hands an event function one event at a time,
// already in memory.
type inflight struct {
	sem   *semaphore.Weighted
	limit int64
}

func newInflight(limit int64) *inflight {
	if limit <= 0 {
		return nil
	}
	return &inflight{sem: semaphore.NewWeighted(limit), limit: limit}
}

// cost is what a request's body may occupy: its declared length, or the most the handler
// reads when the length is unknown (a chunked body); never more than the whole bound, so
// that one request alone is always admitted.
func (f *inflight) cost(r *http.Request, maxImage int64) int64 {
	if f == nil {
		return 0
	}
	// The largest body read: two base64 images and room for the JSON around them.
	bodyLimit := 2*(maxImage*4/3+4) + 64<<10
	n := r.ContentLength
	if n < 0 || n > bodyLimit {
		n = bodyLimit
	}
	return min(max(n, 1), f.limit)
}

// acquire reserves n bytes without waiting: waiting requests would hold their connections
// and bodies anyway. It returns the release function, or an OVERLOADED error.
func (f *inflight) acquire(n int64) (func(), error) {
	if f == nil {
		return func() {}, nil
	}
	if !f.sem.TryAcquire(n) {
		e := apperr.Errorf(apperr.Overloaded, "this instance is receiving too many uploads at once; retry in a second")
		e.RetryAfter = time.Second
		return nil, e
	}
	return func() { f.sem.Release(n) }, nil
}
