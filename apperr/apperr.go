// Package apperr is the one application error type: a short list of stable codes, each with
// one HTTP status, shared by every layer and mapped to responses at the edge.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is a stable, documented error code returned to callers.
type Code string

// The error codes. Their HTTP statuses are in Status; README.md documents both.
const (
	InvalidRequest      Code = "INVALID_REQUEST"
	NotFound            Code = "NOT_FOUND"
	MethodNotAllowed    Code = "METHOD_NOT_ALLOWED"
	Unauthorized        Code = "UNAUTHORIZED"
	ImageURLRejected    Code = "IMAGE_URL_REJECTED"
	ImageTooLarge       Code = "IMAGE_TOO_LARGE"
	ImageUnreadable     Code = "IMAGE_UNREADABLE"
	ImageFetchFailed    Code = "IMAGE_FETCH_FAILED"
	NoCardFound         Code = "NO_CARD_FOUND"
	RateLimited         Code = "RATE_LIMITED"
	QuotaExhausted      Code = "QUOTA_EXHAUSTED"
	UpstreamAuth        Code = "UPSTREAM_AUTH"
	UpstreamUnavailable Code = "UPSTREAM_UNAVAILABLE"
	Overloaded          Code = "OVERLOADED"
	Timeout             Code = "TIMEOUT"
	Internal            Code = "INTERNAL"
	// ClientClosed is logged, never seen: the caller went away before the answer (nginx's 499).
	ClientClosed Code = "CLIENT_CLOSED"
)

// statuses is the one table of HTTP statuses per code.
var statuses = map[Code]int{
	InvalidRequest:      400,
	NotFound:            404,
	MethodNotAllowed:    405,
	Unauthorized:        401,
	ImageURLRejected:    400,
	ImageTooLarge:       413,
	ImageUnreadable:     422,
	ImageFetchFailed:    422,
	NoCardFound:         422,
	RateLimited:         429,
	QuotaExhausted:      429,
	UpstreamAuth:        502,
	UpstreamUnavailable: 503,
	Overloaded:          503,
	Timeout:             504,
	Internal:            500,
	ClientClosed:        499,
}

// retryable lists the codes a caller may retry unchanged.
var retryable = map[Code]bool{
	RateLimited:         true,
	UpstreamUnavailable: true,
	Overloaded:          true,
	Timeout:             true,
	ImageFetchFailed:    true,
}

// Codes returns every code in documentation order.
func Codes() []Code {
	return []Code{InvalidRequest, NotFound, MethodNotAllowed, Unauthorized, ImageURLRejected, ImageTooLarge,
		ImageUnreadable, ImageFetchFailed, NoCardFound, RateLimited,
		QuotaExhausted, UpstreamAuth, UpstreamUnavailable, Overloaded, Timeout, Internal, ClientClosed}
}

// Status is the HTTP status for a code; unknown codes map to 500.
func (c Code) Status() int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return 500
}

// Upstream describes the provider error behind an Error, when there was one.
type Upstream struct {
	Provider string `json:"provider"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Error is the one application error type. Message is safe to return to callers; Err holds
// internal detail that is logged, never returned.
type Error struct {
	Code      Code      `json:"code"`
	Message   string    `json:"message"`
	Retryable bool      `json:"retryable"`
	Upstream  *Upstream `json:"upstream,omitempty"`
	// RetryAfter, when not 0, is when a retry can succeed; the HTTP edge sends it as
	// Retry-After (whole seconds, rounded up).
	RetryAfter time.Duration `json:"-"`
	Err        error         `json:"-"`
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up; 0 when unset.
func (e *Error) RetryAfterSeconds() int64 {
	if e.RetryAfter <= 0 {
		return 0
	}
	return int64((e.RetryAfter + time.Second - 1) / time.Second)
}

// Retryable reports whether callers may retry code unchanged: the README's "retry?" column.
func (c Code) Retryable() bool { return retryable[c] }

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with the code's default retryability.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Retryable: retryable[code]}
}

// Wrap builds an *Error that keeps err as internal detail.
func Wrap(code Code, err error, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Err = err
	return e
}

// AsError returns err as an *Error: a deadline becomes TIMEOUT, a cancellation CLIENT_CLOSED,
// anything else INTERNAL.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Wrap(Timeout, err, "the request ran out of time")
	}
	if errors.Is(err, context.Canceled) {
		return Wrap(ClientClosed, err, "the client closed the request before the answer")
	}
	return Wrap(Internal, err, "internal error")
}
