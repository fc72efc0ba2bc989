package tencentocr

import (
	"context"
	"encoding/base64"
	"io/fs"
	"net/http/httptest"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// BenchmarkSDKClientPerCall is what binding each call's credentials costs: a fresh SDK
// client (it clones http.DefaultTransport in Init; ours replaces it).
func BenchmarkSDKClientPerCall(b *testing.B) {
	c, err := New(Options{Credentials: StaticCredentials(sandboxKeys)})
	if err != nil {
		b.Fatal(err)
	}
	sc := sdkCredential(sandboxKeys)
	b.ReportAllocs()
	for b.Loop() {
		prof := profile.NewClientProfile()
		_ = common.NewCommonClient(&sc, c.region, prof).WithHttpTransport(c.transport)
	}
}

// BenchmarkDecode reads an official example answer.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"Response":{"Name":"李明","Sex":"男","Nation":"汉","Birth":"1987/1/1","Address":"北京市石景山区高新技术园腾讯大楼","IdNum":"440524198701010014","Authority":"","ValidDate":"","AdvancedInfo":"{\"WarnInfos\":[-9104,-9102],\"Quality\":90}","RequestId":"ab2c132e-9e1c-43d3-b0ef-9b4d80f00330"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIDCardLoopback is one signed call to the emulator over loopback HTTP, signing,
// verification and a 1 KB card included.
func BenchmarkIDCardLoopback(b *testing.B) {
	emu := emulator.New(emulator.Options{Files: samples()})
	srv := newBenchServer(emu)
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL, Credentials: StaticCredentials(sandboxKeys)})
	if err != nil {
		b.Fatal(err)
	}
	img := benchSample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.IDCard(context.Background(), Request{ImageBase64: img}); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchServer(emu *emulator.Emulator) *httptest.Server {
	return httptest.NewServer(emu.Handler())
}

func benchSample(b *testing.B) string {
	raw, err := fs.ReadFile(samples(), "cards/front.png")
	if err != nil {
		b.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
