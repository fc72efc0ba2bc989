package wechat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetries(t *testing.T) {
	front := `{"errcode":0,"type":"Front","name":"张三"}`
	cases := []struct {
		name      string
		answers   []func(w http.ResponseWriter)
		wantCalls int
		wantCode  int // 0: success expected
		wantHTTP  int
	}{
		{"-1 retried twice", rep(3, status(200, `{"errcode":-1,"errmsg":"system error"}`)), 3, -1, 200},
		{"-1 as string", rep(3, status(200, `{"errcode":"-1","errmsg":"system error"}`)), 3, -1, 200},
		{"5xx retried twice", rep(3, status(502, `<html>bad gateway</html>`)), 3, 0, 502},
		{"503 with errcode", rep(3, status(503, `{"errcode":-1,"errmsg":"busy"}`)), 3, -1, 503},
		{"-1 then ok", []func(http.ResponseWriter){status(200, `{"errcode":-1}`), status(200, front)}, 2, 0, 0},
		{"500 then ok", []func(http.ResponseWriter){status(500, ``), status(200, front)}, 2, 0, 0},
		{"4xx not retried", rep(3, status(404, `not found`)), 1, 0, 404},
		{"101001 not retried", rep(3, status(200, `{"errcode":101001,"errmsg":"certificate not found"}`)), 1, 101001, 200},
		{"101002 not retried", rep(3, status(200, `{"errcode":"101002","errmsg":"decode image failed"}`)), 1, 101002, 200},
		{"45009 not retried", rep(3, status(200, `{"errcode":45009,"errmsg":"reach max api daily quota limit"}`)), 1, 45009, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tokens("T"))
			calls := &counter{}
			e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
				n := calls.inc()
				tc.answers[min(n, len(tc.answers))-1](w)
			})
			card, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
			if got := calls.get(); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantCode == 0 && tc.wantHTTP == 0 {
				if err != nil || card.Name != "张三" {
					t.Fatalf("card %v, err %v", card, err)
				}
				if !strings.Contains(e.logs.String(), "wechat: retrying") {
					t.Error("retry not logged")
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v, want *APIError", err, err)
			}
			if ae.ErrCode != tc.wantCode || ae.HTTPStatus != tc.wantHTTP {
				t.Errorf("APIError %+v, want code %d HTTP %d", *ae, tc.wantCode, tc.wantHTTP)
			}
			if strings.Contains(ae.ErrMsg, "<html>") {
				t.Errorf("HTML body echoed into ErrMsg: %q", ae.ErrMsg)
			}
			if retries := strings.Count(e.logs.String(), "wechat: retrying"); retries != tc.wantCalls-1 {
				t.Errorf("%d retries logged, want %d", retries, tc.wantCalls-1)
			}
		})
	}
}

func rep(n int, f func(http.ResponseWriter)) []func(http.ResponseWriter) {
	out := make([]func(http.ResponseWriter), n)
	for i := range out {
		out[i] = f
	}
	return out
}

func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeJSON(w, code, []byte(body)) }
}

func TestRetryReasonsAreLogged(t *testing.T) {
	e := newEnv(t, tokens("T"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"errcode":-1}`))
	})
	e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	logs := e.logs.String()
	if !strings.Contains(logs, `reason="errcode -1 (system busy)"`) || !strings.Contains(logs, "endpoint=/cv/ocr/idcard") {
		t.Errorf("retry log lacks reason or endpoint:\n%s", logs)
	}
}

func TestMaxRetriesOption(t *testing.T) {
	e := newEnv(t, tokens("T"), WithMaxRetries(0))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeJSON(w, 500, nil)
	})
	e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	if calls.get() != 1 {
		t.Errorf("%d calls with retries off", calls.get())
	}
}

func TestAttemptTimeoutRetried(t *testing.T) {
	e := newEnv(t, tokens("T"), WithTimeout(30*time.Millisecond))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		<-r.Context().Done() // hang until the client gives up on this attempt
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a deadline error", err)
	}
	if calls.get() != 3 {
		t.Errorf("%d attempts, want 3", calls.get())
	}
	if n := strings.Count(e.logs.String(), `reason="attempt timeout"`); n != 2 {
		t.Errorf("%d timeout retries logged, want 2", n)
	}
}

func TestAttemptTimeoutThenSuccess(t *testing.T) {
	e := newEnv(t, tokens("T"), WithTimeout(30*time.Millisecond))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		if calls.inc() == 1 {
			<-r.Context().Done()
			return
		}
		writeJSON(w, 200, testdata(t, "idcard_front.json"))
	})
	if _, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", ""); err != nil {
		t.Fatal(err)
	}
	if calls.get() != 2 {
		t.Errorf("%d attempts, want 2", calls.get())
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	e := newEnv(t, tokens("T"))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // reset, not a clean close
		conn.Close()
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	if err == nil {
		t.Fatal("no error")
	}
	if calls.get() != 3 {
		t.Errorf("%d attempts, want 3", calls.get())
	}
	if n := strings.Count(e.logs.String(), `reason="connection error"`); n != 2 {
		t.Errorf("%d connection retries logged, want 2", n)
	}
}

func TestNoRetryPastContextDeadline(t *testing.T) {
	// Backoff of at least 5 s against a 3 s deadline: retrying would sleep past it.
	e := newEnv(t, tokens("T"), WithBackoff(10*time.Second, 10*time.Second))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeJSON(w, 200, []byte(`{"errcode":-1,"errmsg":"system error"}`))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := e.client.IDCardByURL(ctx, "https://x.example/a.jpg", "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.ErrCode != -1 {
		t.Fatalf("error %v, want the last APIError -1", err)
	}
	if calls.get() != 1 {
		t.Errorf("%d calls, want 1", calls.get())
	}
	if !strings.Contains(e.logs.String(), "deadline too close") {
		t.Error("giving up before the deadline not logged")
	}
}

func TestNoRetryAfterContextDone(t *testing.T) {
	e := newEnv(t, tokens("T"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		cancel() // the caller gives up while the answer is a retryable -1
		writeJSON(w, 200, []byte(`{"errcode":-1}`))
	})
	e.client.IDCardByURL(ctx, "https://x.example/a.jpg", "")
	if calls.get() != 1 {
		t.Errorf("%d calls after cancel, want 1", calls.get())
	}

	// Already done before the call: no request at all, and the context error is visible.
	_, err := e.client.IDCardByURL(ctx, "https://x.example/a.jpg", "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if calls.get() != 1 {
		t.Errorf("%d calls with a done context", calls.get())
	}
}

func TestCallerDeadlineDuringAttempt(t *testing.T) {
	e := newEnv(t, tokens("T"))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.client.IDCardByURL(ctx, "https://x.example/a.jpg", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	if calls.get() != 1 {
		t.Errorf("%d calls, want 1: the caller's deadline is not a per-attempt timeout", calls.get())
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	tr := &transport{settings: defaultSettings()}
	tr.backoff, tr.maxBackoff = 100*time.Millisecond, 300*time.Millisecond
	tr.jitter = func() float64 { return 1 }
	want := []time.Duration{100, 200, 300, 300, 300}
	for i, w := range want {
		if got := tr.delay(i); got != w*time.Millisecond {
			t.Errorf("delay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	tr.jitter = func() float64 { return 0 }
	if got := tr.delay(1); got != 100*time.Millisecond {
		t.Errorf("delay(1) with zero jitter = %v, want half of 200ms", got)
	}
}

func TestRetryReplaysMultipartBody(t *testing.T) {
	e := newEnv(t, tokens("T"))
	img := []byte("\xff\xd8\xff\xe0 image bytes sent twice")
	var bodies [][]byte
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
		if len(bodies) == 1 {
			writeJSON(w, 503, nil)
			return
		}
		writeJSON(w, 200, testdata(t, "idcard_front.json"))
	})
	if _, err := e.client.IDCardByImage(context.Background(), img, "image/jpeg", ""); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) || !bytes.Contains(bodies[1], img) {
		t.Errorf("bodies not replayed: %q", bodies)
	}
}
