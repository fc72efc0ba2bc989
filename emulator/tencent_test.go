package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// roundTripFunc lets a test alter a signed request on its way out.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sdkCall sends IDCardOCR through tencentcloud-sdk-go's common client (a real TC3 signer),
// optionally altering the request after signing, and returns the error code ("" on success)
// and the answer.
func sdkCall(t *testing.T, url string, params map[string]any, alter func(*http.Request)) (string, map[string]any) {
	t.Helper()
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = strings.TrimPrefix(url, "http://")
	prof.HttpProfile.Scheme = "HTTP"
	c := common.NewCommonClient(common.NewCredential(DefaultTencentSecretID, DefaultTencentSecretKey), "ap-guangzhou", prof)
	c.WithHttpTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if alter != nil {
			alter(r)
		}
		return http.DefaultTransport.RoundTrip(r)
	}))
	req := tchttp.NewCommonRequest("ocr", "2018-11-19", "IDCardOCR")
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	err := c.Send(req, resp)
	if err == nil {
		var out map[string]any
		_ = json.Unmarshal(resp.GetBody(), &out)
		return "", out
	}
	if se, ok := err.(interface{ GetCode() string }); ok {
		return se.GetCode(), nil
	}
	t.Fatalf("send: %v", err)
	return "", nil
}

func TestTencentIDCardOCRSignedBySDK(t *testing.T) {
	srv := httptest.NewServer(New(Options{}).Handler())
	defer srv.Close()
	img := EncodeCardPNG(map[string]string{"type": "Back", "valid_date": "20080618-长期", "authority": "北京市公安局朝阳分局"})
	params := map[string]any{"ImageBase64": b64(img), "Config": `{"CopyWarn":true}`, "EnableRecognitionRectify": false}
	code, out := sdkCall(t, srv.URL, params, nil)
	if code != "" {
		t.Fatalf("code %s", code)
	}
	r := out["Response"].(map[string]any)
	if r["Authority"] != "北京市公安局朝阳分局" || r["ValidDate"] != "2008.06.18-长期" || r["Name"] != "" || r["AdvancedInfo"] != `{"WarnInfos":[]}` || r["RequestId"] == "" {
		t.Fatalf("answer %v", r)
	}
}

func TestTencentSignatureCoversBodyAndHeaders(t *testing.T) {
	srv := httptest.NewServer(New(Options{}).Handler())
	defer srv.Close()
	params := map[string]any{"ImageBase64": b64(EncodePlainPNG())}
	cases := []struct {
		name  string
		alter func(*http.Request)
		want  string
	}{
		{"body changed after signing", func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			b = bytes.Replace(b, []byte(`"ImageBase64"`), []byte(`"ImageBase64" `), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		}, "AuthFailure.SignatureFailure"},
		{"content type changed", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, "AuthFailure.SignatureFailure"},
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, "AuthFailure.InvalidAuthorization"},
		{"other algorithm", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "TC3-HMAC-SHA256", "TC3-HMAC-SHA1", 1))
		}, "AuthFailure.InvalidAuthorization"},
		{"other action", func(r *http.Request) { r.Header.Set("X-TC-Action", "GeneralBasicOCR") }, "InvalidAction"},
		{"untouched (a blank image)", nil, "FailedOperation.ImageNoIdCard"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := sdkCall(t, srv.URL, params, tc.alter); code != tc.want {
				t.Fatalf("code %q, want %q", code, tc.want)
			}
		})
	}
}

func TestTencentRequestChecks(t *testing.T) {
	srv := httptest.NewServer(New(Options{}).Handler())
	defer srv.Close()
	front := b64(EncodeCardPNG(map[string]string{"type": "Front", "id": "440305199505132561"}))
	cases := []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{}, "MissingParameter"},
		{map[string]any{"ImageBase64": front, "Config": "{"}, "InvalidParameter.ConfigFormatError"},
		{map[string]any{"ImageBase64": front, "CardSide": "SIDEWAYS"}, "InvalidParameterValue.InvalidParameterValueLimit"},
		{map[string]any{"ImageBase64": front, "CardSide": "BACK"}, "FailedOperation.CardSideError"},
		{map[string]any{"ImageBase64": "%%%"}, "FailedOperation.ImageDecodeFailed"},
		{map[string]any{"ImageUrl": "ftp://x/y"}, "FailedOperation.DownLoadError"},
	}
	for _, tc := range cases {
		if code, _ := sdkCall(t, srv.URL, tc.params, nil); code != tc.want {
			t.Errorf("%v: code %q, want %q", tc.params, code, tc.want)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzParseTC3Auth: any Authorization header either parses into a complete credential (id,
// scope date and service, signed headers, signature) or is refused; never a panic.
func FuzzParseTC3Auth(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=AKIDx/2026-11-29/ocr/tc3_request, SignedHeaders=content-type;host, Signature=abc")
	f.Add("TC3-HMAC-SHA256 Credential=/2026/ocr/tc3_request, SignedHeaders=, Signature=")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, ok := parseTC3Auth(h)
		if ok && (a.secretID == "" || len(a.signedHeaders) == 0 || a.signature == "") {
			t.Fatalf("accepted an incomplete header: %+v", a)
		}
	})
}

// A quota fault set over the control endpoint answers Tencent's envelope for its count, then
// the call is served again: what a failover test needs.
func TestTencentFaultOverControlEndpoint(t *testing.T) {
	h := newHarness(t, Options{Now: time.Now}) // the SDK signs with the real clock
	code, m := h.control(http.MethodPost, PathFaults, `{"endpoint":"/","count":2,"tencentCode":"ResourceUnavailable.ResourcePackageRunOut"}`)
	if code != http.StatusOK {
		t.Fatalf("POST faults: %d %v", code, m)
	}
	_, listed := h.control(http.MethodGet, PathFaults, "")
	if !strings.Contains(fmt.Sprint(listed), "ResourcePackageRunOut") {
		t.Fatalf("pending faults %v", listed)
	}
	params := map[string]any{"ImageBase64": b64(EncodeCardPNG(map[string]string{"type": "Front", "id": "440305199505132561"}))}
	for i := range 2 {
		if code, _ := sdkCall(t, h.srv.URL, params, nil); code != "ResourceUnavailable.ResourcePackageRunOut" {
			t.Fatalf("call %d: %q", i+1, code)
		}
	}
	if code, out := sdkCall(t, h.srv.URL, params, nil); code != "" || out["Response"].(map[string]any)["IdNum"] != "440305199505132561" {
		t.Fatalf("after the fault: %q %v", code, out)
	}
	if n := h.e.Stats().Calls[PathTencentCloud]; n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}
