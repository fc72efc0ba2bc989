package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// fakeWeChat answers from functions and counts calls.
type fakeWeChat struct {
	byURL   func(ctx context.Context, u string) (*wechat.IDCard, error)
	byImage func(ctx context.Context, img []byte) (*wechat.IDCard, error)
	files   func(env string, ids []string) ([]wechat.FileURL, error)

	urlCalls, imageCalls, fileCalls atomic.Int32
	mu                              sync.Mutex
	lastEnv, lastMode, lastCT       string
}

func (f *fakeWeChat) BatchDownloadFile(_ context.Context, env string, ids []string, _ time.Duration) ([]wechat.FileURL, error) {
	f.fileCalls.Add(1)
	f.mu.Lock()
	f.lastEnv = env
	f.mu.Unlock()
	if f.files != nil {
		return f.files(env, ids)
	}
	return []wechat.FileURL{{FileID: ids[0], DownloadURL: "https://dl.example.com/" + ids[0][len("cloud://"):]}}, nil
}

func (f *fakeWeChat) IDCardByURL(ctx context.Context, u, mode string) (*wechat.IDCard, error) {
	f.urlCalls.Add(1)
	f.mu.Lock()
	f.lastMode = mode
	f.mu.Unlock()
	return f.byURL(ctx, u)
}

func (f *fakeWeChat) IDCardByImage(ctx context.Context, img []byte, ct, mode string) (*wechat.IDCard, error) {
	f.imageCalls.Add(1)
	f.mu.Lock()
	f.lastCT, f.lastMode = ct, mode
	f.mu.Unlock()
	return f.byImage(ctx, img)
}

var (
	front = &wechat.IDCard{Type: "Front", Name: "张三", ID: "440305199505132561", Gender: "女", Nationality: "汉", Addr: "广东省深圳市南山区粤海街道科技园路1号"}
	back  = &wechat.IDCard{Type: "Back", ValidDate: "20190308-20290308"}
	png   = emulator.EncodePlainPNG()
	now   = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
)

type fakeFetcher struct {
	data  []byte
	err   error
	calls atomic.Int32
}

func (f *fakeFetcher) Fetch(context.Context, string) ([]byte, string, error) {
	f.calls.Add(1)
	return f.data, "image/png", f.err
}

func newService(t *testing.T, wx WeChat, images ImageFetcher) *Service {
	t.Helper()
	s, err := New(Options{WeChat: wx, Images: images, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func codeOf(err error) apperr.Code {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return "not an apperr"
}

func TestErrcodeMapping(t *testing.T) {
	tests := []struct {
		err       error
		code      apperr.Code
		retryable bool
		upstream  string
	}{
		{&wechat.APIError{ErrCode: 101001, ErrMsg: "certificate not found rid: 1"}, apperr.NoCardFound, false, "101001"},
		{&wechat.APIError{ErrCode: 101002}, apperr.ImageUnreadable, false, "101002"},
		{&wechat.APIError{ErrCode: 101003}, apperr.QuotaExhausted, false, "101003"},
		{&wechat.APIError{ErrCode: 45009}, apperr.QuotaExhausted, false, "45009"},
		{&wechat.APIError{ErrCode: 40001}, apperr.UpstreamUnavailable, true, "40001"},
		{&wechat.APIError{ErrCode: 42001}, apperr.UpstreamUnavailable, true, "42001"},
		{&wechat.APIError{ErrCode: 40014}, apperr.UpstreamUnavailable, true, "40014"},
		{&wechat.APIError{Endpoint: "/cgi-bin/stable_token", ErrCode: 40001}, apperr.UpstreamAuth, false, "40001"},
		{&wechat.APIError{ErrCode: 45011}, apperr.UpstreamUnavailable, true, "45011"},
		{&wechat.APIError{ErrCode: 48001}, apperr.UpstreamAuth, false, "48001"},
		{&wechat.APIError{ErrCode: 40013}, apperr.UpstreamAuth, false, "40013"},
		{&wechat.APIError{ErrCode: 40125}, apperr.UpstreamAuth, false, "40125"},
		{&wechat.APIError{ErrCode: 40164}, apperr.UpstreamAuth, false, "40164"},
		{&wechat.APIError{ErrCode: 61007}, apperr.UpstreamAuth, false, "61007"},
		{&wechat.APIError{ErrCode: 85088}, apperr.UpstreamAuth, false, "85088"},
		{fmt.Errorf("fetch token: %w", &wechat.APIError{ErrCode: 40125}), apperr.UpstreamAuth, false, "40125"},
		{fmt.Errorf("get access token: %w: %w", wechat.ErrNoToken, token.ErrNoToken), apperr.UpstreamAuth, false, ""},
		{&wechat.APIError{ErrCode: -1, ErrMsg: "system error"}, apperr.UpstreamUnavailable, true, "-1"},
		{&wechat.APIError{HTTPStatus: 503, ErrMsg: "Service Unavailable"}, apperr.UpstreamUnavailable, true, "http_503"},
		{&wechat.APIError{ErrCode: 47001}, apperr.Internal, false, "47001"},
		{&wechat.APIError{ErrCode: 99999}, apperr.UpstreamUnavailable, true, "99999"},
		{&wechat.APIError{HTTPStatus: 404, ErrMsg: "Not Found"}, apperr.UpstreamUnavailable, true, "http_404"},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, apperr.UpstreamUnavailable, true, ""},
		{fmt.Errorf("ocr: %w", context.DeadlineExceeded), apperr.Timeout, true, ""},
		{apperr.Errorf(apperr.ImageURLRejected, "x"), apperr.ImageURLRejected, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got := mapError(context.Background(), tt.err)
			var ae *apperr.Error
			if !errors.As(got, &ae) {
				t.Fatalf("not an *apperr.Error: %v", got)
			}
			if ae.Code != tt.code || ae.Retryable != tt.retryable {
				t.Errorf("= %s retryable %v, want %s %v", ae.Code, ae.Retryable, tt.code, tt.retryable)
			}
			up := ""
			if ae.Upstream != nil {
				up = ae.Upstream.Code
				if ae.Upstream.Provider != "wechat" {
					t.Errorf("provider = %q", ae.Upstream.Provider)
				}
			}
			if up != tt.upstream {
				t.Errorf("upstream code = %q, want %q", up, tt.upstream)
			}
		})
	}
}

func TestLocalChecksSpendNoQuota(t *testing.T) {
	wx := &fakeWeChat{byImage: func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil }}
	s := newService(t, wx, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		img  Image
		code apperr.Code
	}{
		{Image{Bytes: []byte{}}, apperr.ImageUnreadable},
		{Image{Bytes: []byte("GIF89a not supported")}, apperr.ImageUnreadable},
		// Lookalikes (issue 11): a PNG signature or JPEG magic followed by junk, and a real
		// PNG cut short before its end.
		{Image{Bytes: append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("junk"), 100)...)}, apperr.ImageUnreadable},
		{Image{Bytes: append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte("junk"), 100)...)}, apperr.ImageUnreadable},
		{Image{Bytes: png[:len(png)-12]}, apperr.ImageUnreadable},
		{Image{Bytes: make([]byte, 3<<20)}, apperr.ImageTooLarge},
		{Image{Bytes: []byte("hello")}, apperr.ImageUnreadable},
		{Image{FileID: " \t"}, apperr.InvalidRequest},
		{Image{URL: " "}, apperr.InvalidRequest},
		{Image{FileID: "cloud://e.b/a.png", Bytes: []byte{}}, apperr.InvalidRequest},
		{Image{URL: "http://example.com/a.png"}, apperr.ImageURLRejected},
		{Image{URL: "https://10.0.0.1/a.png"}, apperr.ImageURLRejected},
		{Image{FileID: "https://x/a.png"}, apperr.InvalidRequest},
		{Image{}, apperr.InvalidRequest},
		{Image{FileID: "cloud://e.b/a.png", URL: "https://example.com/a.png"}, apperr.InvalidRequest},
	} {
		_, err := s.Recognize(ctx, Request{Image: tt.img})
		if codeOf(err) != tt.code {
			t.Errorf("%+.40v: %v, want %s", tt.img, err, tt.code)
		}
	}
	if n := wx.imageCalls.Load() + wx.urlCalls.Load() + wx.fileCalls.Load(); n != 0 {
		t.Errorf("%d upstream calls for locally rejected images", n)
	}
}

func TestSideMismatch(t *testing.T) {
	wx := &fakeWeChat{byImage: func(context.Context, []byte) (*wechat.IDCard, error) { return back, nil }}
	s := newService(t, wx, nil)
	_, err := s.Recognize(context.Background(), Request{Image: Image{Bytes: png}, Side: SideFront})
	if codeOf(err) != apperr.InvalidRequest || apperr.AsError(err).Message != "expected the front side, got the back" {
		t.Fatalf("err = %v", err)
	}
	res, err := s.Recognize(context.Background(), Request{Image: Image{Bytes: png}, Side: SideAuto, Mode: "scan"})
	if err != nil || res.Side != SideBack || res.Card.ValidTo == nil || *res.Card.ValidTo != "2029-03-08" {
		t.Fatalf("auto: %+v %v", res, err)
	}
	if wx.lastMode != "scan" || wx.lastCT != "image/png" {
		t.Errorf("mode %q content type %q", wx.lastMode, wx.lastCT)
	}
	if res.Checks == nil || res.Warnings == nil {
		t.Error("nil checks or warnings")
	}
}

func TestFileIDFlow(t *testing.T) {
	var gotURL string
	wx := &fakeWeChat{byURL: func(_ context.Context, u string) (*wechat.IDCard, error) { gotURL = u; return front, nil }}
	s := newService(t, wx, nil)
	res, err := s.Recognize(context.Background(), Request{Image: Image{FileID: "cloud://env-a.7465-env-a-1/cards/a.png"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Side != SideFront || *res.Card.IDNumber != front.ID {
		t.Errorf("result %+v", res)
	}
	if wx.lastEnv != "env-a" || gotURL != "https://dl.example.com/env-a.7465-env-a-1/cards/a.png" {
		t.Errorf("env %q url %q", wx.lastEnv, gotURL)
	}
	// A per-file failure is IMAGE_FETCH_FAILED with the status as upstream code, not retryable.
	wx.files = func(string, []string) ([]wechat.FileURL, error) {
		return []wechat.FileURL{{FileID: "cloud://env-a.b/x", Status: -503003, ErrMsg: "STORAGE_FILE_NONEXIST"}}, nil
	}
	_, err = s.Recognize(context.Background(), Request{Image: Image{FileID: "cloud://env-a.b/x"}})
	ae := apperr.AsError(err)
	if ae.Code != apperr.ImageFetchFailed || ae.Retryable || ae.Upstream.Code != "-503003" {
		t.Errorf("err = %+v", ae)
	}
}

func TestURLFallback(t *testing.T) {
	wx := &fakeWeChat{
		byURL: func(context.Context, string) (*wechat.IDCard, error) {
			return nil, &wechat.APIError{ErrCode: 101000, ErrMsg: "invalid image url rid: 9"}
		},
		byImage: func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil },
	}
	images := &fakeFetcher{data: png}
	s := newService(t, wx, images)
	res, err := s.Recognize(context.Background(), Request{Image: Image{URL: "https://images.example.com/a.png"}})
	if err != nil || res.Side != SideFront {
		t.Fatalf("%+v %v", res, err)
	}
	if images.calls.Load() != 1 || wx.imageCalls.Load() != 1 {
		t.Errorf("fetches %d uploads %d", images.calls.Load(), wx.imageCalls.Load())
	}
	// The fetch fails: IMAGE_FETCH_FAILED carrying WeChat's 101000.
	images.err = apperr.Errorf(apperr.ImageFetchFailed, "the image host answered 404")
	_, err = s.Recognize(context.Background(), Request{Image: Image{URL: "https://images.example.com/a.png"}})
	ae := apperr.AsError(err)
	if ae.Code != apperr.ImageFetchFailed || ae.Upstream == nil || ae.Upstream.Code != "101000" || ae.Upstream.Message != "invalid image url rid: 9" {
		t.Errorf("err = %+v", ae)
	}
	// The fetched bytes are checked like an upload: not an image, no upload.
	images.err, images.data = nil, []byte("<html>")
	before := wx.imageCalls.Load()
	if _, err = s.Recognize(context.Background(), Request{Image: Image{URL: "https://images.example.com/a.png"}}); codeOf(err) != apperr.ImageUnreadable {
		t.Errorf("err = %v", err)
	}
	if wx.imageCalls.Load() != before {
		t.Error("uploaded a non-image")
	}
}

func TestBothSides(t *testing.T) {
	// Each side waits for the other to start, which proves they run concurrently.
	var started sync.WaitGroup
	started.Add(2)
	wx := &fakeWeChat{byImage: func(_ context.Context, img []byte) (*wechat.IDCard, error) {
		started.Done()
		started.Wait()
		if len(img) == len(png) {
			return front, nil
		}
		return back, nil
	}}
	s := newService(t, wx, nil)
	backImg := append(append([]byte{}, png...), 0) // a distinct length marks the back
	res, err := s.Recognize(context.Background(), Request{Front: &Image{Bytes: png}, Back: &Image{Bytes: backImg}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Side != SideBoth || res.Card.IDNumber == nil || res.Card.ValidFrom == nil {
		t.Fatalf("result %+v", res)
	}

	// One side fails: the other call is cancelled and the error names the side.
	wx.byImage = func(ctx context.Context, img []byte) (*wechat.IDCard, error) {
		if len(img) == len(png) {
			return nil, &wechat.APIError{ErrCode: 101001}
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	_, err = s.Recognize(context.Background(), Request{Front: &Image{Bytes: png}, Back: &Image{Bytes: backImg}})
	ae := apperr.AsError(err)
	if ae.Code != apperr.NoCardFound || ae.Message != "front image: no ID card was found in the image" {
		t.Errorf("err = %+v", ae)
	}

	// Swapped images: each must be its stated side.
	wx.byImage = func(_ context.Context, img []byte) (*wechat.IDCard, error) {
		if len(img) == len(png) {
			return back, nil
		}
		return front, nil
	}
	_, err = s.Recognize(context.Background(), Request{Front: &Image{Bytes: png}, Back: &Image{Bytes: backImg}})
	if codeOf(err) != apperr.InvalidRequest {
		t.Errorf("swapped: %v", err)
	}
	// Only a front is a single-image request for the front.
	wx.byImage = func(context.Context, []byte) (*wechat.IDCard, error) { return front, nil }
	if res, err := s.Recognize(context.Background(), Request{Front: &Image{Bytes: png}}); err != nil || res.Side != SideFront {
		t.Errorf("front only: %+v %v", res, err)
	}
}

func TestDeadlineIsTimeout(t *testing.T) {
	wx := &fakeWeChat{byImage: func(ctx context.Context, _ []byte) (*wechat.IDCard, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("post: %w", ctx.Err())
	}}
	s := newService(t, wx, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Recognize(ctx, Request{Image: Image{Bytes: png}}); codeOf(err) != apperr.Timeout {
		t.Fatalf("err = %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no WeChat accepted")
	}
	if _, err := New(Options{WeChat: &fakeWeChat{}, MaxImageBytes: -1}); err == nil {
		t.Error("negative MaxImageBytes accepted")
	}
	s, err := New(Options{WeChat: &fakeWeChat{}, MaxImageBytes: 1000, URLPolicy: imagesrc.Policy{MaxBytes: 5000}})
	if err != nil {
		t.Fatal(err)
	}
	if s.policy.MaxBytes != 1000 {
		t.Errorf("fetch limit %d exceeds the image limit", s.policy.MaxBytes)
	}
}

func TestMergeChecks(t *testing.T) {
	chk := func(name string, st idcard.Status) idcard.Check {
		return idcard.Check{Name: name, Status: st, Message: name}
	}
	front := []idcard.Check{chk("a", idcard.StatusPass), chk("b", idcard.StatusFail), chk("c", idcard.StatusWarn), chk("only_front", idcard.StatusPass)}
	back := []idcard.Check{chk("a", idcard.StatusWarn), chk("b", idcard.StatusPass), chk("c", idcard.StatusWarn), chk("only_back", idcard.StatusFail)}
	got := mergeChecks(front, back)
	want := []idcard.Check{
		{Name: "a", Status: idcard.StatusWarn, Message: "back image: a"},
		{Name: "b", Status: idcard.StatusFail, Message: "front image: b"},
		{Name: "c", Status: idcard.StatusWarn, Message: "both images: c"},
		{Name: "only_front", Status: idcard.StatusPass, Message: "only_front"},
		{Name: "only_back", Status: idcard.StatusFail, Message: "only_back"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeChecks =\n%+v\nwant\n%+v", got, want)
	}
}
