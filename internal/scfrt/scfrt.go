// Package scfrt serves Tencent SCF's Go1 runtime protocol: the runtime connects to
// _LAMBDA_SERVER_PORT and calls "Function.Ping" and "Function.Invoke" with Go's net/rpc wire
// format (a gob stream of request header, argument, response header, result), the arguments
// being github.com/tencentyun/scf-go-lib/cloudfunction/messages types.
//
// scf-go-lib's cloudfunction.StartHandler does the same through net/rpc's Server. That
// dispatcher finds methods by reflection (reflect.Type.Method in rpc.Register), and a binary
// that can reach such a call keeps every exported method of every type it converts to an
// interface: the linker cannot drop unused ones. For this function that was 8.4 of its 19.0 MB
// (stripped; go-redis alone has 600 command methods). Here the two methods are dispatched by
// name and the wire format stays gob's, so the binary is 10.6 MB and the runtime sees no
// difference (the tests drive it with net/rpc's own client).
//
// Invoke behaves as scf-go-lib's Function.Invoke: the request deadline becomes the context's,
// the invocation's details are in a functioncontext.FunctionContext, its Environment is also
// set in the process environment, a handler error or panic is answered as
// InvokeResponse.Error (a panic with ShouldExit, as the runtime then replaces the process).
package scfrt

import (
	"bufio"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"sync"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"
	"github.com/tencentyun/scf-go-lib/functioncontext"
)

// Handler handles one invocation's raw event and returns the raw response, like the Invoke
// method of scf-go-lib's cloudfunction.Handler.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// requestHeader and responseHeader are net/rpc's Request and Response on the wire: gob
// matches fields by name, so these decode what rpc.Client encodes and the reverse.
type requestHeader struct {
	ServiceMethod string
	Seq           uint64
}

type responseHeader struct {
	ServiceMethod string
	Seq           uint64
	Error         string
}

// Method names the runtime calls.
const (
	methodPing   = "Function.Ping"
	methodInvoke = "Function.Invoke"
)

// Serve accepts runtime connections on ln until it fails, serving each on its own goroutine.
func Serve(ln net.Listener, h Handler) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go ServeConn(conn, h)
	}
}

// ServeConn serves one runtime connection until it closes or sends something undecodable. As
// with net/rpc, calls run concurrently and their answers are written whole, one at a time.
func ServeConn(conn io.ReadWriteCloser, h Handler) {
	defer conn.Close()
	dec := gob.NewDecoder(bufio.NewReader(conn))
	w := bufio.NewWriter(conn)
	c := &codec{w: w, enc: gob.NewEncoder(w), closer: conn}
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		var hdr requestHeader
		if err := dec.Decode(&hdr); err != nil {
			return // EOF when the runtime hangs up; anything else leaves the stream unusable
		}
		switch hdr.ServiceMethod {
		case methodPing:
			var req messages.PingRequest
			if err := dec.Decode(&req); err != nil {
				return
			}
			c.reply(hdr, "", &messages.PingResponse{})
		case methodInvoke:
			req := new(messages.InvokeRequest)
			if err := dec.Decode(req); err != nil {
				return
			}
			calls.Add(1)
			go func() {
				defer calls.Done()
				c.reply(hdr, "", invoke(h, req))
			}()
		default:
			// net/rpc reads and discards the argument, then answers with an error.
			if err := dec.DecodeValue(reflect.Value{}); err != nil { // the zero Value discards
				return
			}
			c.reply(hdr, "rpc: can't find method "+hdr.ServiceMethod, struct{}{})
		}
	}
}

// codec writes answers; one at a time, as a header and a body must not interleave.
type codec struct {
	mu     sync.Mutex
	w      *bufio.Writer
	enc    *gob.Encoder
	closer io.Closer
}

func (c *codec) reply(hdr requestHeader, errMsg string, body any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := responseHeader{ServiceMethod: hdr.ServiceMethod, Seq: hdr.Seq, Error: errMsg}
	err := c.enc.Encode(&resp)
	if err == nil {
		err = c.enc.Encode(body)
	}
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		_ = c.closer.Close() // the reading loop then ends
	}
}

// invoke runs one invocation as scf-go-lib's Function.Invoke does.
func invoke(h Handler, req *messages.InvokeRequest) (resp *messages.InvokeResponse) {
	resp = &messages.InvokeResponse{}
	defer func() {
		if p := recover(); p != nil {
			resp.Payload = nil
			resp.Error = &messages.InvokeResponse_Error{
				Message:    fmt.Sprint(p),
				Type:       typeName(p),
				StackTrace: stack(),
				ShouldExit: true,
			}
		}
	}()
	deadline := time.Unix(req.Deadline.Seconds, req.Deadline.Nanos).UTC()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	fc := &functioncontext.FunctionContext{
		RequestID:             req.RequestId,
		InvokedFunctionUnique: req.InvokedFunctionUnique,
		Namespace:             req.Namespace,
		FunctionName:          req.FunctionName,
		FunctionVersion:       req.FunctionVersion,
		MemoryLimitInMb:       req.MemoryLimitInMb,
		TimeLimitInMs:         req.TimeLimitInMs,
		TencentcloudRegion:    req.TencentcloudRegion,
		TencentcloudAppID:     req.TencentcloudAppID,
		TencentcloudUin:       req.TencentcloudUin,
		FunctionTrace:         req.FunctionTrace,
	}
	if len(req.ClientContext) > 0 {
		if err := json.Unmarshal(req.ClientContext, &fc.ClientContext); err != nil {
			resp.Error = errorOf(err)
			return resp
		}
	}
	if req.Environment != "" {
		if err := json.Unmarshal([]byte(req.Environment), &fc.Environment); err != nil {
			resp.Error = errorOf(err)
			return resp
		}
		for k, v := range fc.Environment {
			_ = os.Setenv(k, v) // as scf-go-lib does; an invalid name is skipped
		}
	}
	payload, err := h(functioncontext.NewContext(ctx, fc), req.Payload)
	if err != nil {
		resp.Error = errorOf(err)
		return resp
	}
	resp.Payload = payload
	return resp
}

func errorOf(err error) *messages.InvokeResponse_Error {
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

// typeName is the name of v's type, through one pointer: "errorString" for errors.New's.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// stack is the panicking goroutine's stack, innermost first, from the panic's caller on (at
// most 32 frames, as scf-go-lib reports).
func stack() []*messages.InvokeResponse_Error_StackFrame {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // runtime.Callers, stack, the deferred function
	frames := runtime.CallersFrames(pcs[:n])
	var out []*messages.InvokeResponse_Error_StackFrame
	for {
		f, more := frames.Next()
		if f.PC != 0 {
			out = append(out, &messages.InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(min(f.Line, 1<<31-1)), Label: f.Function})
		}
		if !more {
			return out
		}
	}
}

// ErrNoPort is returned by ListenAndServe when _LAMBDA_SERVER_PORT is not set.
var ErrNoPort = errors.New("scfrt: _LAMBDA_SERVER_PORT is not set")

// ListenAndServe listens where the runtime expects (0.0.0.0:$_LAMBDA_SERVER_PORT) and serves h.
func ListenAndServe(getenv func(string) string, h Handler) error {
	port := getenv("_LAMBDA_SERVER_PORT")
	if port == "" {
		return ErrNoPort
	}
	ln, err := net.Listen("tcp", "0.0.0.0:"+port)
	if err != nil {
		return err
	}
	return Serve(ln, h)
}
