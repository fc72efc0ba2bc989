package scfrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction"
	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"
	"github.com/tencentyun/scf-go-lib/functioncontext"
)

// The runtime side of the protocol is Go's net/rpc client, so the tests drive the server with
// it, and compare the answers with those of scf-go-lib's own cloudfunction.Function served by
// net/rpc (the implementation this package replaces) for the same requests.

func serve(t *testing.T, h Handler) *rpc.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { _ = Serve(ln, h) }()
	c, err := rpc.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The reference: scf-go-lib's cloudfunction.StartHandler, which registers on net/rpc's default
// server (once per process) and listens on _LAMBDA_SERVER_PORT. It serves whichever handler
// the running test put in refHandler; the tests that use it do not run in parallel.
var (
	refOnce    sync.Once
	refAddr    string
	refMu      sync.Mutex
	refHandler Handler
)

type refFunc struct{}

func (refFunc) Invoke(ctx context.Context, p []byte) ([]byte, error) {
	refMu.Lock()
	h := refHandler
	refMu.Unlock()
	return h(ctx, p)
}

func serveReference(t *testing.T, h Handler) *rpc.Client {
	t.Helper()
	refMu.Lock()
	refHandler = h
	refMu.Unlock()
	refOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		_ = ln.Close()
		// StartHandler reads the port from the environment, listens on every interface and
		// never returns.
		if err := os.Setenv("_LAMBDA_SERVER_PORT", port); err != nil {
			t.Fatal(err)
		}
		go cloudfunction.StartHandler(refFunc{})
		refAddr = "127.0.0.1:" + port
	})
	var c *rpc.Client
	var err error
	for i := 0; i < 200; i++ { // until StartHandler listens
		if c, err = rpc.Dial("tcp", refAddr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func request(payload, env string, deadline time.Time) *messages.InvokeRequest {
	return &messages.InvokeRequest{
		Payload:            []byte(payload),
		RequestId:          "5f1c3a4e-0000-4000-8000-000000000001",
		Deadline:           messages.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
		FunctionName:       "idcard-ocr",
		FunctionVersion:    "$LATEST",
		Namespace:          "default",
		MemoryLimitInMb:    128,
		TimeLimitInMs:      3000,
		TencentcloudRegion: "ap-guangzhou",
		Environment:        env,
		ClientContext:      []byte(`{"custom":{"k":"v"}}`),
	}
}

func TestInvokeCarriesTheInvocation(t *testing.T) {
	deadline := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	type seen struct {
		Deadline time.Time
		FC       functioncontext.FunctionContext
		Env      string
	}
	h := func(ctx context.Context, p []byte) ([]byte, error) {
		dl, _ := ctx.Deadline()
		fc, ok := functioncontext.FromContext(ctx)
		if !ok {
			return nil, errors.New("no function context")
		}
		out, err := json.Marshal(seen{Deadline: dl, FC: *fc, Env: os.Getenv("SCFRT_TEST_VAR")})
		return append(append(out, ' '), p...), err
	}
	t.Cleanup(func() { _ = os.Unsetenv("SCFRT_TEST_VAR") })
	req := request(`{"event":1}`, `{"SCFRT_TEST_VAR":"from-invocation","WX_OPENID":"o1"}`, deadline)
	var got, want messages.InvokeResponse
	if err := serve(t, h).Call("Function.Invoke", req, &got); err != nil {
		t.Fatal(err)
	}
	_ = os.Unsetenv("SCFRT_TEST_VAR")
	if err := serveReference(t, h).Call("Function.Invoke", req, &want); err != nil {
		t.Fatal(err)
	}
	if got.Error != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("answer differs from scf-go-lib's:\n got %s %+v\nwant %s %+v", got.Payload, got.Error, want.Payload, want.Error)
	}
	js, _, _ := strings.Cut(string(got.Payload), " ")
	var s seen
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Deadline.Equal(deadline) || s.FC.RequestID != req.RequestId || s.FC.FunctionName != "idcard-ocr" ||
		s.FC.Environment["WX_OPENID"] != "o1" || s.FC.ClientContext.Custom["k"] != "v" || s.Env != "from-invocation" {
		t.Fatalf("handler saw %+v", s)
	}
	if !strings.HasSuffix(string(got.Payload), ` {"event":1}`) {
		t.Fatalf("payload %q", got.Payload)
	}
}

func TestErrorsAnswerAsScfGoLibDoes(t *testing.T) {
	cases := []struct {
		name string
		h    Handler
		req  *messages.InvokeRequest
	}{
		{"handler error", func(context.Context, []byte) ([]byte, error) { return nil, errors.New("bad event") }, request(`{}`, "", time.Now().Add(time.Minute))},
		{"typed error", func(context.Context, []byte) ([]byte, error) { return nil, &json.SyntaxError{} }, request(`{}`, "", time.Now().Add(time.Minute))},
		{"bad environment", func(context.Context, []byte) ([]byte, error) { return []byte("{}"), nil }, request(`{}`, `not json`, time.Now().Add(time.Minute))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got, want messages.InvokeResponse
			if err := serve(t, tc.h).Call("Function.Invoke", tc.req, &got); err != nil {
				t.Fatal(err)
			}
			if err := serveReference(t, tc.h).Call("Function.Invoke", tc.req, &want); err != nil {
				t.Fatal(err)
			}
			if got.Error == nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, scf-go-lib answers %+v", got.Error, want.Error)
			}
		})
	}
}

func TestPanicAsksTheRuntimeToReplaceTheProcess(t *testing.T) {
	h := func(context.Context, []byte) ([]byte, error) { panic(fmt.Sprintf("boom %d", 7)) }
	var got, want messages.InvokeResponse
	if err := serve(t, h).Call("Function.Invoke", request(`{}`, "", time.Now().Add(time.Minute)), &got); err != nil {
		t.Fatal(err)
	}
	if err := serveReference(t, h).Call("Function.Invoke", request(`{}`, "", time.Now().Add(time.Minute)), &want); err != nil {
		t.Fatal(err)
	}
	if got.Error == nil || want.Error == nil {
		t.Fatalf("got %+v, scf-go-lib %+v", got.Error, want.Error)
	}
	if got.Error.Message != want.Error.Message || got.Error.Type != want.Error.Type || got.Error.ShouldExit != want.Error.ShouldExit || !got.Error.ShouldExit {
		t.Fatalf("got %+v, scf-go-lib answers %+v", got.Error, want.Error)
	}
	if len(got.Error.StackTrace) == 0 || !strings.Contains(got.Error.StackTrace[0].Label+got.Error.StackTrace[1].Label, "TestPanic") {
		var labels []string
		for _, f := range got.Error.StackTrace {
			labels = append(labels, f.Label)
		}
		t.Fatalf("stack does not start at the panic: %v", labels)
	}
}

func TestPingAndUnknownMethods(t *testing.T) {
	c := serve(t, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	ref := serveReference(t, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	if err := c.Call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		t.Fatal(err)
	}
	err := c.Call("Function.Nope", &messages.PingRequest{}, &messages.PingResponse{})
	refErr := ref.Call("Function.Nope", &messages.PingRequest{}, &messages.PingResponse{})
	if err == nil || refErr == nil || err.Error() != refErr.Error() {
		t.Fatalf("unknown method: %v, net/rpc says %v", err, refErr)
	}
	// The connection is still usable.
	if err := c.Call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		t.Fatal(err)
	}
}

// Calls on one connection run concurrently, as with net/rpc, and each answer goes to its call.
func TestConcurrentCallsOnOneConnection(t *testing.T) {
	const n = 8
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	h := func(ctx context.Context, p []byte) ([]byte, error) {
		arrived.Done()
		select {
		case <-all: // every call is in the handler at once
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return p, nil
	}
	c := serve(t, h)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf(`{"i":%d}`, i)
			var resp messages.InvokeResponse
			if err := c.Call("Function.Invoke", request(want, "", time.Now().Add(30*time.Second)), &resp); err != nil {
				errs <- err
				return
			}
			if resp.Error != nil || string(resp.Payload) != want {
				errs <- fmt.Errorf("call %d answered %q %+v", i, resp.Payload, resp.Error)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A stream that is not gob ends the connection: the server neither panics nor keeps serving.
func TestGarbageEndsTheConnection(t *testing.T) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { ServeConn(a, func(context.Context, []byte) ([]byte, error) { return nil, nil }); close(done) }()
	_ = b.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = b.Write([]byte("\x03\xff\xff\xffGET / HTTP/1.1\r\n\r\n"))
	_ = b.Close()
	<-done
}

func TestListenAndServeNeedsThePort(t *testing.T) {
	err := ListenAndServe(func(string) string { return "" }, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	if !errors.Is(err, ErrNoPort) {
		t.Fatalf("err = %v", err)
	}
}
