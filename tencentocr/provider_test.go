package tencentocr

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// replayServer answers every call with one of Tencent's published example bodies.
func replayServer(t *testing.T, file string) *httptest.Server {
	t.Helper()
	body := readFixture(t, file)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func status(checks []idcard.Check, name string) idcard.Status {
	for _, c := range checks {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// Tencent's temporary-card example answers no field at all: the side asked for is the side
// read, and the warning still becomes its check.
func TestProviderReplaysTemporaryExample(t *testing.T) {
	srv := replayServer(t, "idcardocr-temporary-warning.json")
	p := NewProvider(newClient(t, srv.URL, StaticCredentials(sandboxKeys)))
	rd, err := p.Recognize(context.Background(), ocr.Input{URL: "https://example.com/a.jpg", Side: ocr.SideFront})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Side != ocr.SideFront || rd.Front == nil || rd.Front.IDNumber != "" || status(rd.Checks, CheckNotTemporary) != idcard.StatusWarn {
		t.Fatalf("reading %+v", rd)
	}
	rep := idcard.Examine(rd.Front, nil, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	rep.Add(rd.Checks...)
	if rep.Verdict != idcard.VerdictReject { // nothing read: front_complete fails
		t.Fatalf("verdict %s", rep.Verdict)
	}
}

// The front and back examples go through the provider and the examination: the printed
// birth date is compared with the number, the authority is kept.
func TestProviderReplaysFrontAndBackExamples(t *testing.T) {
	front := NewProvider(newClient(t, replayServer(t, "idcardocr-front.json").URL, StaticCredentials(sandboxKeys)))
	back := NewProvider(newClient(t, replayServer(t, "idcardocr-back.json").URL, StaticCredentials(sandboxKeys)))
	fr, err := front.Recognize(context.Background(), ocr.Input{Bytes: []byte("img"), Side: ocr.SideFront})
	if err != nil {
		t.Fatal(err)
	}
	br, err := back.Recognize(context.Background(), ocr.Input{Bytes: []byte("img"), Side: ocr.SideAuto})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Side != ocr.SideFront || br.Side != ocr.SideBack || br.Back.Authority != "赵县公安局" || fr.Front.BirthDate != "1987/1/1" {
		t.Fatalf("front %+v back %+v", fr, br)
	}
	rep := idcard.Examine(fr.Front, br.Back, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	if rep.Card.Authority == nil || *rep.Card.Authority != "赵县公安局" || status(rep.Checks, idcard.CheckBirthConsistent) != idcard.StatusPass {
		t.Fatalf("card %+v checks %+v", rep.Card, rep.Checks)
	}
}

func TestProviderUnreachableURLWrapsOCRSentinel(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	p := NewProvider(newClient(t, srv.URL, StaticCredentials(sandboxKeys)))
	_, err := p.Recognize(context.Background(), ocr.Input{URL: "http://127.0.0.1:1/none.png"})
	if !errors.Is(err, ocr.ErrURLUnreachable) {
		t.Fatalf("err = %v, want ocr.ErrURLUnreachable", err)
	}
	if ae := apperr.AsError(err); ae.Code != apperr.ImageFetchFailed || ae.Upstream.Provider != "tencent" {
		t.Fatalf("%+v", ae)
	}
	if p.Name() != "tencent" || !p.FraudSignals() {
		t.Fatal("name or fraud signals")
	}
}

func TestProviderRefusesOversizeBytesWithoutACall(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	p := NewProvider(newClient(t, srv.URL, StaticCredentials(sandboxKeys)))
	_, err := p.Recognize(context.Background(), ocr.Input{Bytes: make([]byte, MaxImageBase64Bytes/4*3+1)})
	if ae := apperr.AsError(err); ae.Code != apperr.ImageTooLarge {
		t.Fatalf("err = %v", err)
	}
	if n := emu.Stats().Calls[emulator.PathTencentCloud]; n != 0 {
		t.Fatalf("%d calls for an image Tencent would refuse", n)
	}
}
