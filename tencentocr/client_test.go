package tencentocr

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// samples are the emulator's sample cards, generated once: generating them is the slowest
// part of these tests (the wire test sends about 60 calls).
var samples = sync.OnceValue(emulator.SampleFiles)

var sandboxKeys = Credential{SecretID: emulator.DefaultTencentSecretID, SecretKey: emulator.DefaultTencentSecretKey}

// startEmulator serves the emulator over loopback HTTP, as Tencent Cloud would be reached.
func startEmulator(t *testing.T, o emulator.Options) (*emulator.Emulator, *httptest.Server) {
	t.Helper()
	if o.Files == nil {
		o.Files = samples()
	}
	emu := emulator.New(o)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return emu, srv
}

func newClient(t *testing.T, endpoint string, creds CredentialSource) *Client {
	t.Helper()
	c, err := New(Options{Endpoint: endpoint, Credentials: creds, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) bool { return true }
	return c
}

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(samples(), "cards/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestIDCardFrontAllFields(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png"), Side: SideFront})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Name: "张三", Sex: "女", Nation: "汉", Birth: "1995/5/13",
		Address: "广东省深圳市南山区粤海街道科技园路1号", IDNumber: "440305199505132561"}
	if r.Name != want.Name || r.Sex != want.Sex || r.Nation != want.Nation || r.Birth != want.Birth ||
		r.Address != want.Address || r.IDNumber != want.IDNumber || r.Authority != "" || r.ValidDate != "" {
		t.Fatalf("fields = %+v", r)
	}
	if r.Side() != SideFront || r.RequestID == "" || len(r.Warnings) != 0 || r.Portrait != "" {
		t.Fatalf("side %q, request id %q, warnings %v, portrait %d bytes", r.Side(), r.RequestID, r.Warnings, len(r.Portrait))
	}
	if r.Quality == nil || r.BorderCodeValue == nil {
		t.Fatal("Quality and BorderCodeValue were asked for (Config) but not decoded")
	}
}

func TestIDCardBack(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "back.png")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Authority != "深圳市公安局南山分局" || r.ValidDate != "2019.03.08-2029.03.08" || r.Side() != SideBack || r.Name != "" {
		t.Fatalf("back = %+v", r)
	}
}

func TestIDCardPortraitOnlyWhenAsked(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png"), Portrait: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(r.Portrait)
	if err != nil {
		t.Fatalf("portrait is not base64: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("portrait is not an image: %v", err)
	}
}

// Every warning the emulator's card carries comes back, which it only does when the matching
// Config flag is on: the request turns every warning on.
func TestIDCardEveryWarningRequested(t *testing.T) {
	all := "-9101,-9102,-9103,-9104,-9105,-9106,-9107,-9108,-9109,-9110,-9111"
	img := emulator.EncodeCardPNG(map[string]string{"type": "Front", "id": "440305199505132561", "warnings": all})
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageBase64: base64.StdEncoding.EncodeToString(img)})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{-9101, -9102, -9103, -9104, -9105, -9106, -9107, -9108, -9109, -9110, -9111}
	if !slices.Equal(r.Warnings, want) {
		t.Fatalf("warnings = %v, want %v", r.Warnings, want)
	}
}

// With rectification on, the emulator (like Tencent) rewrites the printed birth date to agree
// with the number; the client turns it off, so a mismatch stays visible.
func TestIDCardRectificationOff(t *testing.T) {
	img := emulator.EncodeCardPNG(map[string]string{"type": "Front", "id": "440305199505132561", "birth": "1995/6/13"})
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageBase64: base64.StdEncoding.EncodeToString(img)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Birth != "1995/6/13" {
		t.Fatalf("Birth = %q: the printed date was rectified", r.Birth)
	}
}

func TestIDCardByURL(t *testing.T) {
	img, _ := base64.StdEncoding.DecodeString(sample(t, "front.png"))
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/card.png" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(img)
	}))
	defer files.Close()
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	r, err := c.IDCard(context.Background(), Request{ImageURL: files.URL + "/card.png?sign=abc"})
	if err != nil {
		t.Fatal(err)
	}
	if r.IDNumber != "440305199505132561" {
		t.Fatalf("IdNum = %q", r.IDNumber)
	}
	_, err = c.IDCard(context.Background(), Request{ImageURL: files.URL + "/missing.png"})
	if !errors.Is(err, ErrURLUnreachable) {
		t.Fatalf("missing URL: err = %v, want ErrURLUnreachable", err)
	}
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.ImageFetchFailed || ae.Upstream.Code != "FailedOperation.DownLoadError" {
		t.Fatalf("missing URL maps to %+v", ae)
	}
}

func TestIDCardSideMismatch(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "back.png"), Side: SideFront})
	var api *APIError
	if !errors.As(err, &api) || api.Code != "FailedOperation.CardSideError" || api.RequestID == "" {
		t.Fatalf("err = %v", err)
	}
}

func TestIDCardNoCard(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "blank.png")})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.NoCardFound {
		t.Fatalf("blank card: %v", err)
	}
	_, err = c.IDCard(context.Background(), Request{ImageBase64: base64.StdEncoding.EncodeToString([]byte("not an image"))})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.ImageUnreadable {
		t.Fatalf("not an image: %v", err)
	}
}

// Signature verification: wrong secret key, unknown key id, a clock more than five minutes
// apart, temporary keys without their token. Each is refused by the emulator and maps to
// UPSTREAM_AUTH.
func TestIDCardAuthFailures(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		opts  emulator.Options
		creds Credential
		code  string
	}{
		{"wrong secret key", emulator.Options{}, Credential{SecretID: emulator.DefaultTencentSecretID, SecretKey: "wrong-key"}, "AuthFailure.SignatureFailure"},
		{"unknown secret id", emulator.Options{}, Credential{SecretID: "AKIDunknown", SecretKey: emulator.DefaultTencentSecretKey}, "AuthFailure.SecretIdNotFound"},
		{"clock 6 minutes ahead", emulator.Options{Now: func() time.Time { return now.Add(6 * time.Minute) }}, sandboxKeys, "AuthFailure.SignatureExpire"},
		{"clock 6 minutes behind", emulator.Options{Now: func() time.Time { return now.Add(-6 * time.Minute) }}, sandboxKeys, "AuthFailure.SignatureExpire"},
		{"token missing", emulator.Options{TencentToken: "session-token-1"}, sandboxKeys, "AuthFailure.TokenFailure"},
		{"token wrong", emulator.Options{TencentToken: "session-token-1"}, Credential{SecretID: sandboxKeys.SecretID, SecretKey: sandboxKeys.SecretKey, Token: "session-token-0"}, "AuthFailure.TokenFailure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu, srv := startEmulator(t, tc.opts)
			c := newClient(t, srv.URL, StaticCredentials(tc.creds))
			_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
			var api *APIError
			if !errors.As(err, &api) || api.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			ae := apperr.AsError(AppError(err))
			if ae.Code != apperr.UpstreamAuth || ae.Retryable || ae.Upstream.Provider != "tencent" || ae.Upstream.Code != tc.code {
				t.Fatalf("mapped to %+v", ae)
			}
			if n := emu.Stats().Calls[emulator.PathTencentCloud]; n != 1 {
				t.Fatalf("%d calls: an auth failure must not be retried", n)
			}
		})
	}
	t.Run("right token", func(t *testing.T) {
		_, srv := startEmulator(t, emulator.Options{TencentToken: "session-token-1"})
		c := newClient(t, srv.URL, StaticCredentials(Credential{SecretID: sandboxKeys.SecretID, SecretKey: sandboxKeys.SecretKey, Token: "session-token-1"}))
		if _, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")}); err != nil {
			t.Fatal(err)
		}
	})
}

// On SCF the role's keys come with each invocation: they win over the start-up keys, and a
// rotation between invocations is picked up by the next call.
func TestInvocationCredentialsSignEachCallWithTheInvocationsKeys(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{TencentToken: "token-B"})
	stale := Credential{SecretID: sandboxKeys.SecretID, SecretKey: sandboxKeys.SecretKey, Token: "token-A"}
	c := newClient(t, srv.URL, InvocationCredentials{Fallback: stale})
	req := Request{ImageBase64: sample(t, "front.png")}

	if _, err := c.IDCard(context.Background(), req); err == nil {
		t.Fatal("the stale start-up token was accepted")
	}
	ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{
		Environment: map[string]string{
			EnvSecretID: sandboxKeys.SecretID, EnvSecretKey: sandboxKeys.SecretKey, EnvSessionToken: "token-B",
		},
	})
	if _, err := c.IDCard(ctx, req); err != nil {
		t.Fatalf("with the invocation's keys: %v", err)
	}
}

func TestInvocationCredentials(t *testing.T) {
	fb := Credential{SecretID: "AKIDfallback", SecretKey: "fallback-key"}
	inv := func(env map[string]string) context.Context {
		return functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{Environment: env})
	}
	cases := []struct {
		name string
		src  InvocationCredentials
		ctx  context.Context
		want Credential
		err  error
	}{
		{"invocation wins", InvocationCredentials{Fallback: fb}, inv(map[string]string{EnvSecretID: "AKIDrole", EnvSecretKey: "role-key", EnvSessionToken: "tok"}), Credential{"AKIDrole", "role-key", "tok"}, nil},
		{"half a pair falls back", InvocationCredentials{Fallback: fb}, inv(map[string]string{EnvSecretID: "AKIDrole"}), fb, nil},
		{"no function context", InvocationCredentials{Fallback: fb}, context.Background(), fb, nil},
		{"nothing at all", InvocationCredentials{}, inv(nil), Credential{}, ErrNoCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.src.Credential(tc.ctx)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %v (%s/%s/%s), %v", got, got.SecretID, got.SecretKey, got.Token, err)
			}
		})
	}
	if _, err := (StaticCredentials{SecretID: "x"}).Credential(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("half a static pair: %v", err)
	}
	if s := (Credential{SecretID: "AKIDsecret", SecretKey: "verysecret"}).String(); bytes.Contains([]byte(s), []byte("secret")) && s != "tencentocr.Credential(redacted)" {
		t.Fatalf("String leaks: %s", s)
	}
}

func TestNoCredentialsIsUpstreamAuth(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, InvocationCredentials{})
	_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.UpstreamAuth {
		t.Fatalf("err = %v", err)
	}
}

// A transient answer is retried once; a second one is returned. Quota answers are not retried.
func TestIDCardRetriesTransientOnce(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	req := Request{ImageBase64: sample(t, "front.png")}
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, TencentCode: "InternalError"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IDCard(context.Background(), req); err != nil {
		t.Fatalf("after one InternalError: %v", err)
	}
	if n := emu.Stats().Calls[emulator.PathTencentCloud]; n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, TencentCode: "RequestLimitExceeded", Count: 5}); err != nil {
		t.Fatal(err)
	}
	_, err := c.IDCard(context.Background(), req)
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.UpstreamUnavailable || !ae.Retryable {
		t.Fatalf("err = %v", err)
	}
	if n := emu.Stats().Calls[emulator.PathTencentCloud]; n != 4 {
		t.Fatalf("calls = %d, want 4 (2 + 2 bounded attempts)", n)
	}
	emu.ClearFaults()
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, TencentCode: "ResourceUnavailable.ResourcePackageRunOut"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.IDCard(context.Background(), req)
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.QuotaExhausted {
		t.Fatalf("err = %v", err)
	}
	if n := emu.Stats().Calls[emulator.PathTencentCloud]; n != 5 {
		t.Fatalf("calls = %d, want 5: quota exhaustion must not be retried", n)
	}
}

// Every IDCardOCR error code, answered by the emulator over HTTP and read back through the
// SDK, maps to its table entry.
func TestEveryErrorCodeThroughTheWire(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	c.sleep = func(context.Context, time.Duration) bool { return true }
	for code := range errorTable {
		if len(code) > 12 && code[:12] == "ClientError." {
			continue // the SDK's own codes never come over the wire
		}
		emu.ClearFaults()
		if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, TencentCode: code, Count: 2}); err != nil {
			t.Fatal(err)
		}
		_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
		ae := apperr.AsError(AppError(err))
		want, _, _ := Mapping(code)
		if ae.Code != want || ae.Upstream == nil || ae.Upstream.Code != code {
			t.Errorf("%s: got %+v, want %s", code, ae, want)
		}
	}
}

func TestIDCardGatewayAndResetAreUnavailable(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, Status: 502, Count: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.UpstreamUnavailable || ae.Upstream.Code != "ClientError.HttpStatusCodeError" {
		t.Fatalf("502: %+v", ae)
	}
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, Reset: true}); err != nil {
		t.Fatal(err)
	}
	_, err = c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.UpstreamUnavailable || ae.Upstream.Code != "ClientError.NetworkError" {
		t.Fatalf("reset: %+v (%v)", ae, err)
	}
}

func TestIDCardDeadline(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, StaticCredentials(sandboxKeys))
	if err := emu.AddFault(emulator.Fault{Endpoint: emulator.PathTencentCloud, Delay: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.IDCard(ctx, Request{ImageBase64: sample(t, "front.png")})
	if ae := apperr.AsError(AppError(err)); ae.Code != apperr.Timeout {
		t.Fatalf("err = %v", err)
	}
}

func TestResponseBodyBounded(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c, err := New(Options{Endpoint: srv.URL, Credentials: StaticCredentials(sandboxKeys), MaxResponseBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.IDCard(context.Background(), Request{ImageBase64: sample(t, "front.png")})
	var api *APIError
	if !errors.As(err, &api) || api.Code[:12] != "ClientError." {
		t.Fatalf("err = %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("440305")) || bytes.Contains([]byte(api.Message), []byte("张三")) {
		t.Fatalf("the error quotes the card: %v", err)
	}
}

func TestParams(t *testing.T) {
	p, err := Params(Request{ImageURL: "https://x/a.png", Side: SideBack, Portrait: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"CropPortrait":true,"CopyWarn":true,"BorderCheckWarn":true,"ReshootWarn":true,"DetectPsWarn":true,"TempIdWarn":true,"InvalidDateWarn":true,"Quality":true,"ReflectWarn":true}`
	if p["Config"] != want || p["EnableRecognitionRectify"] != false || p["CardSide"] != "BACK" || p["ImageUrl"] != "https://x/a.png" || p["ImageBase64"] != nil {
		t.Fatalf("params = %v", p)
	}
	p, _ = Params(Request{ImageBase64: "aGk="})
	if _, ok := p["CardSide"]; ok || bytes.Contains([]byte(p["Config"].(string)), []byte("CropPortrait")) {
		t.Fatalf("auto side without portrait: %v", p)
	}
	for _, bad := range []Request{{}, {ImageBase64: "a", ImageURL: "b"}, {ImageBase64: "a", Side: "front"}} {
		if _, err := Params(bad); err == nil {
			t.Errorf("Params(%+v) accepted", bad)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	cases := []struct{ in, scheme, host string }{
		{"", "HTTPS", DefaultEndpoint},
		{"ocr.ap-shanghai.tencentcloudapi.com", "HTTPS", "ocr.ap-shanghai.tencentcloudapi.com"},
		{"http://127.0.0.1:8080", "HTTP", "127.0.0.1:8080"},
		{"https://ocr.tencentcloudapi.com/", "HTTPS", "ocr.tencentcloudapi.com"},
	}
	for _, tc := range cases {
		s, h, err := parseEndpoint(tc.in)
		if err != nil || s != tc.scheme || h != tc.host {
			t.Errorf("parseEndpoint(%q) = %q %q %v", tc.in, s, h, err)
		}
	}
	for _, bad := range []string{"ftp://x", "http://x/path", "http://u:p@x", "http://x?q=1"} {
		if _, _, err := parseEndpoint(bad); err == nil {
			t.Errorf("parseEndpoint(%q) accepted", bad)
		}
	}
}
