package emulator

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// A delayed call that carries an upload must notice that the client gave up: net/http only
// cancels the request context once the body has been read.
func TestFaultDelayWithBodyNoticesClientTimeout(t *testing.T) {
	for _, fault := range []Fault{
		{Endpoint: PathOCRIDCard, Delay: time.Minute},                          // served after the delay
		{Endpoint: PathOCRIDCard, Delay: time.Minute, ErrCode: CodeSystemBusy}, // answered with an error
	} {
		e := New(Options{Files: SampleFiles()})
		// The client gives up once the handler is inside the delay, not after a fixed time:
		// on a loaded machine a short client deadline can pass before the request reaches
		// the handler at all, and then nothing is there to notice anything.
		delaying := make(chan struct{}, 1)
		elapsed := make(chan bool, 1)
		e.sleep = func(r *http.Request, d time.Duration) bool {
			delaying <- struct{}{}
			ok := sleepCtx(r, d)
			elapsed <- ok
			return ok
		}
		returned := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.Handler().ServeHTTP(w, r)
			if r.URL.Path == PathOCRIDCard {
				returned <- struct{}{}
			}
		}))
		tok := e.IssueCloudBaseToken(0)
		if err := e.AddFault(fault); err != nil {
			t.Fatal(err)
		}
		body, ct := uploadBody(t, sample(t, "front.png"))
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+PathOCRIDCard+"?"+url.Values{"cloudbase_access_token": {tok}}.Encode(), body)
		req.Header.Set("Content-Type", ct)
		go func() {
			<-delaying
			cancel() // the client times out while the emulator waits
		}()
		resp, err := srv.Client().Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a minute's delay answered %d before the client gave up", resp.StatusCode)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want the client's own cancellation", err)
		}
		// Far below the minute of the delay: the handler must have seen the client go.
		select {
		case <-returned:
		case <-time.After(20 * time.Second):
			t.Fatalf("errcode %d: the handler still waits on the delay after the client gave up", fault.ErrCode)
		}
		if <-elapsed {
			t.Fatalf("errcode %d: the delay ran out instead of ending with the client", fault.ErrCode)
		}
		srv.Close()
	}
}

// A delay-only fault still serves the call with the whole body after reading it early.
func TestFaultDelayWithBodyThenServed(t *testing.T) {
	h := newHarness(t, Options{})
	sleeps := h.recordSleeps()
	tok := h.token()
	if err := h.e.AddFault(Fault{Endpoint: PathOCRIDCard, Delay: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	wantFront(t, h.ocrUpload(tok, "img", sample(t, "front.png")))
	if slept := sleeps(); len(slept) != 1 || slept[0] != 300*time.Millisecond {
		t.Fatalf("slept %v, want one 300ms delay", slept)
	}
}

func TestTakeBodyKeepsEverything(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), maxHeldBody/10+7) // beyond what is held
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big))
	takeBody(r, true)
	var got bytes.Buffer
	if _, err := got.ReadFrom(r.Body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), big) {
		t.Fatalf("kept %d bytes, want %d identical", got.Len(), len(big))
	}
}

func uploadBody(t *testing.T, img []byte) (*bytes.Buffer, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("img", "card.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(img)
	_ = mw.Close()
	return &body, mw.FormDataContentType()
}
