package ocr

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/idcard"
)

// fakeProvider is a second provider: it answers from a function and counts calls.
type fakeProvider struct {
	name  string
	read  func(in Input) (*Reading, error)
	calls atomic.Int32
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) Recognize(_ context.Context, in Input) (*Reading, error) {
	p.calls.Add(1)
	return p.read(in)
}

var frontReading = func() *Reading {
	return &Reading{Side: SideFront, Front: &idcard.RawFront{Name: "张三", Gender: "女", Ethnicity: "汉",
		Address: "广东省深圳市南山区粤海街道科技园路1号", IDNumber: "440305199505132561", BirthDate: "1995/5/13"}}
}

func TestProviderChecksCountInTheVerdict(t *testing.T) {
	for _, tt := range []struct {
		status  idcard.Status
		verdict idcard.Verdict
	}{
		{idcard.StatusPass, idcard.VerdictPass},
		{idcard.StatusWarn, idcard.VerdictReview},
		{idcard.StatusFail, idcard.VerdictReject},
	} {
		p := &fakeProvider{name: "other", read: func(Input) (*Reading, error) {
			r := frontReading()
			r.Checks = []idcard.Check{{Name: "photocopy", Status: tt.status, Message: "x"}}
			return r, nil
		}}
		s, err := New(Options{WeChat: &fakeWeChat{}, Providers: []Provider{p}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Recognize(context.Background(), Request{Image: Image{Bytes: png}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Provider != "other" || res.Verdict != tt.verdict {
			t.Errorf("%s: provider %q verdict %q, want other %q", tt.status, res.Provider, res.Verdict, tt.verdict)
		}
		last := res.Checks[len(res.Checks)-1]
		if last.Name != "photocopy" {
			t.Errorf("provider check not in the result: %+v", res.Checks)
		}
		warned := len(res.Warnings) > 0 && res.Warnings[len(res.Warnings)-1] == "photocopy"
		if warned != (tt.status == idcard.StatusWarn) {
			t.Errorf("%s: warnings %q", tt.status, res.Warnings)
		}
		// The printed birth date from the provider is checked against the number.
		for _, c := range res.Checks {
			if c.Name == idcard.CheckBirthConsistent && c.Status != idcard.StatusPass {
				t.Errorf("birth check %+v", c)
			}
		}
	}
}

func TestURLFallbackForAnyProvider(t *testing.T) {
	p := &fakeProvider{name: "other", read: func(in Input) (*Reading, error) {
		if in.URL != "" {
			e := apperr.Errorf(apperr.ImageFetchFailed, "could not download")
			e.Err = fmt.Errorf("download: %w", ErrURLUnreachable)
			return nil, e
		}
		if in.ContentType != "image/png" || in.Side != SideFront {
			return nil, fmt.Errorf("bytes arrived as %q side %q", in.ContentType, in.Side)
		}
		return frontReading(), nil
	}}
	images := &fakeFetcher{data: png}
	s, err := New(Options{WeChat: &fakeWeChat{}, Providers: []Provider{p}, Images: images, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Recognize(context.Background(), Request{Image: Image{URL: "https://images.example.com/a.png"}, Side: SideFront})
	if err != nil || res.Provider != "other" {
		t.Fatalf("%+v %v", res, err)
	}
	if p.calls.Load() != 2 || images.calls.Load() != 1 {
		t.Errorf("provider calls %d fetches %d, want 2 and 1", p.calls.Load(), images.calls.Load())
	}
	// Any other failure is returned as is, without a fetch.
	p.read = func(Input) (*Reading, error) { return nil, apperr.Errorf(apperr.NoCardFound, "none") }
	if _, err := s.Recognize(context.Background(), Request{Image: Image{URL: "https://images.example.com/a.png"}}); codeOf(err) != apperr.NoCardFound {
		t.Errorf("err = %v", err)
	}
	if images.calls.Load() != 1 {
		t.Error("fetched after a failure that was not about the URL")
	}
}

func TestNilProviderRefused(t *testing.T) {
	if _, err := New(Options{WeChat: &fakeWeChat{}, Providers: []Provider{nil}}); err == nil {
		t.Fatal("nil provider accepted")
	}
}

func TestWeChatQuotaResetsAtShanghaiMidnight(t *testing.T) {
	p := NewWeChatProvider(nil)
	for _, tt := range []struct{ now, want string }{
		{"2026-11-29T15:59:59Z", "2026-11-29T16:00:00Z"}, // 23:59:59 in Shanghai
		{"2026-11-29T16:00:00Z", "2026-11-30T16:00:00Z"}, // 00:00:00: a new day just began
		{"2026-12-31T17:00:00Z", "2027-01-01T16:00:00Z"},
	} {
		n, _ := time.Parse(time.RFC3339, tt.now)
		if got := p.QuotaReset(n).UTC().Format(time.RFC3339); got != tt.want {
			t.Errorf("QuotaReset(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}
