package tencentocr

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tencentyun/scf-go-lib/functioncontext"
)

// Environment names under which SCF hands a function its execution role's temporary keys.
// The same names are read once at start by the config package as the fallback for hosts
// that are not SCF (or SCF runtimes that put the keys in the process environment).
const (
	EnvSecretID     = "TENCENTCLOUD_SECRETID"     //nolint:gosec // a variable's name, not a credential
	EnvSecretKey    = "TENCENTCLOUD_SECRETKEY"    //nolint:gosec // a variable's name, not a credential
	EnvSessionToken = "TENCENTCLOUD_SESSIONTOKEN" //nolint:gosec // a variable's name, not a credential
)

// ErrNoCredentials means neither the invocation nor the configuration holds a key pair.
var ErrNoCredentials = errors.New("tencentocr: no Tencent Cloud credentials (TENCENTCLOUD_SECRETID/TENCENTCLOUD_SECRETKEY)")

// Credential is a Tencent Cloud API key pair; Token is set for temporary (role) keys. It is
// secret: String and LogValue redact it, and nothing in this package logs it.
type Credential struct {
	SecretID  string
	SecretKey string
	Token     string
}

// Complete reports whether the key pair is usable: both halves present.
func (c Credential) Complete() bool { return c.SecretID != "" && c.SecretKey != "" }

// String never shows the keys.
func (c Credential) String() string { return "tencentocr.Credential(redacted)" }

// LogValue never shows the keys.
func (c Credential) LogValue() slog.Value { return slog.StringValue("redacted") }

// CredentialSource yields the key pair to sign one call with. It is consulted for every call
// and must be safe for concurrent use.
type CredentialSource interface {
	Credential(ctx context.Context) (Credential, error)
}

// StaticCredentials is a fixed key pair (a sub-account's keys on a host that is not SCF).
type StaticCredentials Credential

// Credential returns the fixed pair, or ErrNoCredentials when it is incomplete.
func (s StaticCredentials) Credential(context.Context) (Credential, error) {
	c := Credential(s)
	if !c.Complete() {
		return Credential{}, ErrNoCredentials
	}
	return c, nil
}

// InvocationCredentials reads the execution role's temporary keys from the SCF invocation that
// ctx belongs to, and falls back to Fallback (the keys the configuration read at start) when
// the invocation carries none.
//
// Why the invocation first: a Go1 event function does not reliably see the role keys in its
// process environment at start (tencentyun/scf-go-lib#18); the runtime sends them with every
// invocation in its Environment map, which scf-go-lib puts into the function context (and,
// as a side effect, into os.Setenv, which the project never reads outside config). The keys
// rotate; the ones sent with an invocation are valid for that invocation, so reading them per
// call and keeping none means a call is never signed with a key that expired between
// invocations. Web functions, `serve` and other hosts have no function context: they use the
// start-up keys, which the operator must keep valid (a sub-account key pair does not expire).
type InvocationCredentials struct {
	Fallback Credential
}

// Credential returns the invocation's keys when both halves are there, else the fallback.
func (s InvocationCredentials) Credential(ctx context.Context) (Credential, error) {
	if fc, ok := functioncontext.FromContext(ctx); ok && fc != nil && fc.Environment != nil {
		c := Credential{
			SecretID:  fc.Environment[EnvSecretID],
			SecretKey: fc.Environment[EnvSecretKey],
			Token:     fc.Environment[EnvSessionToken],
		}
		if c.Complete() {
			return c, nil
		}
	}
	if s.Fallback.Complete() {
		return s.Fallback, nil
	}
	return Credential{}, ErrNoCredentials
}

// sdkCredential adapts one call's Credential to the SDK's CredentialIface. A fresh one is
// made per call, so concurrent calls signed with different keys never share state.
type sdkCredential Credential

func (c *sdkCredential) GetSecretId() string  { return c.SecretID }
func (c *sdkCredential) GetSecretKey() string { return c.SecretKey }
func (c *sdkCredential) GetToken() string     { return c.Token }
func (c *sdkCredential) GetCredential() (string, string, string) {
	return c.SecretID, c.SecretKey, c.Token
}
