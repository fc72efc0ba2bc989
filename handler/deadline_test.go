package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// A hanging WeChat must not hold an invocation until the platform kills it: the answer,
// TIMEOUT, is out while the platform's deadline (the invocation context's) is still ahead.
func TestInvokeAnswersBeforeThePlatformDeadline(t *testing.T) {
	e := newEnv(t)
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := e.invoke(t, ctx, []byte(`{"fileId":"`+fileFront+`"}`), caller)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Errorf("answered only after the platform's deadline: %s", out)
	}
	if r := decodeResponse(t, out); r.code() != "TIMEOUT" {
		t.Errorf("answer %s", out)
	}
}

// The request deadline bounds the whole request over HTTP too, every retry included: the
// caller waiting (here up to 5 s, UPSTREAM_TIMEOUT is 5 s a try with retries) gets TIMEOUT.
func TestServeAnswersAtTheRequestDeadline(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.requestTimeout = 500 * time.Millisecond })
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: time.Minute, Count: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/idcard", strings.NewReader(`{"fileId":"`+fileFront+`"}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("no answer before the caller gave up: %v", err)
	}
	defer resp.Body.Close()
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 504 || r.code() != "TIMEOUT" {
		t.Errorf("status %d code %q err %v", resp.StatusCode, r.code(), err)
	}
}

// provokeClientClosed: a client that hangs up while WeChat is slow is logged as what it is,
// CLIENT_CLOSED (499), not as a TIMEOUT that would page someone about WeChat. The code is
// never answered (nobody is listening), so TestErrorCodes sees it in the log line.
func provokeClientClosed(t *testing.T) {
	e := newEnv(t)
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/idcard", strings.NewReader(`{"fileId":"`+fileFront+`"}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.srv.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// Hang up once the call is waiting on WeChat.
	waitFor(t, func() bool { return e.ocrCalls() > 0 })
	cancel()
	<-done
	var line map[string]any
	waitFor(t, func() bool {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, `"msg":"request"`) {
				line = nil
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	if line["outcome"] != "CLIENT_CLOSED" || line["status"] != float64(499) {
		t.Errorf("log line %v", line)
		return
	}
	codesMu.Lock()
	codesSeen["CLIENT_CLOSED"] = true
	codesMu.Unlock()
}

// provokeOverloaded: with 1 MiB of bodies in flight allowed, a second 700 KB request while the
// first is still being served is refused, retryably, before its body is read.
func provokeOverloaded(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.maxInflight = 1 << 20 })
	e.fault(t, emulator.Fault{Endpoint: emulator.PathOCRIDCard, Delay: time.Minute})
	body := `{"fileId":"` + fileFront + `","pad":"` + strings.Repeat("x", 700<<10) + `"}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/idcard", strings.NewReader(body))
	first.Header.Set("Authorization", "Bearer "+apiKey)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.srv.Client().Do(first); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return e.ocrCalls() > 0 }) // the first holds its bytes
	resp, r := e.postJSON(t, body)
	sawCode(t, r, "OVERLOADED")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !r.Error.Retryable {
		t.Errorf("status %d Retry-After %q retryable %v", resp.StatusCode, resp.Header.Get("Retry-After"), r.Error.Retryable)
	}
	// A small request still fits beside the first.
	e.emu.ClearFaults()
	if _, r := e.postJSON(t, `{"fileId":"`+fileFront+`"}`); !r.OK {
		t.Errorf("a small request was refused: %+v", r.Error)
	}
	cancel()
	<-done
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), `"outcome":"CLIENT_CLOSED"`) })
	// Its bytes are given back: the large request fits again.
	if _, r := e.postJSON(t, body); !r.OK {
		t.Errorf("bytes not released: %+v", r.Error)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached within 10 s")
}
