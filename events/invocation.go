package events

import "strings"

// Invocation is what the platform says about one invocation beside its event: the
// Environment of SCF's function context (scf-go-lib's functioncontext), where CloudBase puts
// the Mini Program caller of a cloud call and the trigger of a timer. It must be read from
// each invocation's context, never from the process environment: scf-go-lib copies every
// invocation's Environment into the process environment and never removes it, so
// os.Getenv would show an earlier invocation's caller.
type Invocation struct {
	// RequestID is the platform's ID of the invocation.
	RequestID string
	// OpenID, AppID and UnionID identify the Mini Program user of a cloud call (WX_OPENID,
	// WX_APPID, WX_UNIONID); FromOpenID is the user when another Mini Program calls through
	// resource sharing (WX_FROM_OPENID).
	OpenID, AppID, UnionID, FromOpenID string
	// ClientIP is the caller's address of a cloud call (WX_CLIENTIP).
	ClientIP string
	// TriggerSource is TRIGGER_SRC: "timer" for a CloudBase timer.
	TriggerSource string
	// ContextKeys lists the WX_* keys the platform put in this invocation (WX_CONTEXT_KEYS);
	// a CloudBase timer has WX_API_TOKEN there and no caller.
	ContextKeys []string
}

// NewInvocation reads an invocation's context: its request ID and Environment.
func NewInvocation(requestID string, env map[string]string) Invocation {
	inv := Invocation{
		RequestID:     requestID,
		OpenID:        env["WX_OPENID"],
		AppID:         env["WX_APPID"],
		UnionID:       env["WX_UNIONID"],
		FromOpenID:    env["WX_FROM_OPENID"],
		ClientIP:      env["WX_CLIENTIP"],
		TriggerSource: env["TRIGGER_SRC"],
	}
	for _, k := range strings.Split(env["WX_CONTEXT_KEYS"], ",") {
		if k = strings.TrimSpace(k); k != "" {
			inv.ContextKeys = append(inv.ContextKeys, k)
		}
	}
	return inv
}

// HasCaller reports whether the invocation carries a Mini Program user: a cloud call. The
// app ID alone is not a caller: it names the Mini Program, not a user, and a platform may set
// it on any invocation of the environment.
func (inv Invocation) HasCaller() bool {
	return inv.OpenID != "" || inv.UnionID != "" || inv.FromOpenID != ""
}

// IsTimer reports whether the platform says a timer triggered the invocation (CloudBase's
// TRIGGER_SRC=timer).
func (inv Invocation) IsTimer() bool {
	return inv.TriggerSource == "timer"
}
