package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func (h *harness) control(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func TestFaultErrcodeCountThenRecovers(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	code, m := h.control(http.MethodPost, PathFaults, `{"endpoint":"/cv/ocr/idcard","count":2,"errcode":-1}`)
	if code != http.StatusOK {
		t.Fatalf("POST faults: %d %v", code, m)
	}
	front := sample(t, "front.png")
	wantCode(t, "faulted 1", h.ocrUpload(tok, "img", front), CodeSystemBusy)
	wantCode(t, "faulted 2", h.ocrUpload(tok, "img", front), CodeSystemBusy)
	wantFront(t, h.ocrUpload(tok, "img", front))
	if got := h.e.Stats().Calls[PathOCRIDCard]; got != 3 {
		t.Fatalf("calls = %d, want 3 (faulted calls count)", got)
	}
	// Other endpoints were never affected.
	if h.token() != tok {
		t.Fatal("token changed")
	}
}

func TestFaultHTTPStatus(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	if err := h.e.AddFault(Fault{Endpoint: PathStableToken, Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.AddFault(Fault{Endpoint: PathStableToken, Status: http.StatusBadGateway, ErrCode: CodeSystemBusy}); err != nil {
		t.Fatal(err)
	}
	post := func() (*http.Response, string) {
		resp, err := http.Post(h.srv.URL+PathStableToken, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post()
	if resp.StatusCode != 503 || strings.Contains(body, "errcode") {
		t.Fatalf("status-only fault: %d %q", resp.StatusCode, body)
	}
	resp, body = post()
	if resp.StatusCode != 502 || !strings.Contains(body, `"errcode":-1`) || !ridRE.MatchString(strings.TrimSuffix(strings.TrimSpace(body), `"}`)) {
		t.Fatalf("status+errcode fault: %d %q", resp.StatusCode, body)
	}
	if h.token() != tok {
		t.Fatal("faults were not used up in order")
	}
}

func TestFaultReset(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	code, _ := h.control(http.MethodPost, PathFaults, `{"endpoint":"/tcb/batchdownloadfile","reset":true}`)
	if code != http.StatusOK {
		t.Fatal(code)
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+PathBatchDL+"?access_token="+url.QueryEscape(tok), strings.NewReader(`{}`))
	resp, err := h.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	}
	wantCode(t, "after reset", h.batch(tok, "e", "cloud://e.b/cards/front.png"), 0)
}

func TestFaultDelayThenServed(t *testing.T) {
	h := newHarness(t, Options{})
	sleeps := h.recordSleeps()
	code, _ := h.control(http.MethodPost, PathFaults, `{"endpoint":"/cgi-bin/stable_token","count":1,"delayMs":200}`)
	if code != http.StatusOK {
		t.Fatal(code)
	}
	if h.token() == "" {
		t.Fatal("delay-only fault did not serve the call")
	}
	h.token()
	if slept := sleeps(); len(slept) != 1 || slept[0] != 200*time.Millisecond {
		t.Fatalf("slept %v, want one 200ms delay", slept)
	}
}

func TestFaultDelayOutlastsClient(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	if err := h.e.AddFault(Fault{Endpoint: PathOCRIDCard, Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+PathOCRIDCard+"?access_token="+url.QueryEscape(tok), nil)
	resp, err := h.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a minute's delay answered %d within the client's deadline", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want deadline exceeded", err)
	}
	// The server abandons the sleep with the request, so Close (in Cleanup) does not hang a minute.
}

func TestFaultsControlEndpoint(t *testing.T) {
	h := newHarness(t, Options{})
	bad := []string{
		`{"endpoint":"cv/ocr/idcard"}`,
		`{"endpoint":"/cv/ocr/idcard","count":-1}`,
		`{"endpoint":"/cv/ocr/idcard","delayMs":-5}`,
		`{"endpoint":"/cv/ocr/idcard","status":42}`,
		`{"endpoint":"/cv/ocr/idcard","delay":200}`,
		`{"endpoint":"/_emulator/stats"}`,
		`not json`,
	}
	for _, b := range bad {
		if code, m := h.control(http.MethodPost, PathFaults, b); code != http.StatusBadRequest || m["error"] == nil {
			t.Errorf("POST %s: %d %v, want 400 with error", b, code, m)
		}
	}
	h.control(http.MethodPost, PathFaults, `{"endpoint":"/cv/ocr/idcard","count":3,"errcode":101003}`)
	h.control(http.MethodPost, PathFaults, `{"endpoint":"/cgi-bin/token","errcode":45009}`)
	_, m := h.control(http.MethodGet, PathFaults, "")
	if list, _ := m["faults"].([]any); len(list) != 2 {
		t.Fatalf("pending faults %v", m)
	}
	if code, _ := h.control(http.MethodDelete, PathFaults, ""); code != http.StatusOK {
		t.Fatal(code)
	}
	if len(h.e.PendingFaults()) != 0 {
		t.Fatal("DELETE did not clear faults")
	}
	wantFront(t, h.ocrUpload(h.token(), "img", sample(t, "front.png")))
	if code, _ := h.control(http.MethodPut, PathFaults, ""); code != http.StatusMethodNotAllowed {
		t.Fatal(code)
	}
	if err := h.e.AddFault(Fault{Endpoint: "nope"}); err == nil {
		t.Fatal("AddFault accepted a non-path endpoint")
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	f := Fault{Endpoint: PathOCRIDCard, Count: 2, ErrCode: -1, Status: 503, Delay: 250 * time.Millisecond, Reset: true}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delayMs":250`) {
		t.Fatalf("%s", b)
	}
	var g Fault
	if err := json.Unmarshal(b, &g); err != nil || g != f {
		t.Fatalf("round trip %+v, %v", g, err)
	}
}

func TestStatsEndpoint(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	h.token()
	h.legacy()
	u := h.downloadURL(tok, "cards/front.png")
	h.ocrURL(tok, u)
	code, m := h.control(http.MethodGet, PathStats, "")
	if code != http.StatusOK {
		t.Fatal(code)
	}
	raw, _ := json.Marshal(m)
	var s Stats
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{PathStableToken: 2, PathToken: 1, PathBatchDL: 1, PathOCRIDCard: 1, PathFiles: 1}
	for k, v := range want {
		if s.Calls[k] != v {
			t.Errorf("calls[%s] = %d, want %d (all: %v)", k, s.Calls[k], v, s.Calls)
		}
	}
	if s.TokensIssued != 2 {
		t.Errorf("tokensIssued = %d, want 2", s.TokensIssued)
	}
	if _, ok := s.Calls[PathStats]; ok {
		t.Error("stats counts itself")
	}
	if code, _ := h.control(http.MethodPost, PathStats, ""); code != http.StatusMethodNotAllowed {
		t.Fatal(code)
	}
}
