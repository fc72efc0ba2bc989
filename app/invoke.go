package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tencentyun/scf-go-lib/functioncontext"
)

// cmdInvoke runs one SCF event through the handler, as SCF would, and prints the payload SCF
// would get back (or its error object). The invocation Environment (caller identity of a cloud
// call: WX_OPENID, WX_APPID, …) comes from --env flags, never from this process's environment.
func cmdInvoke(args []string, env Env) int {
	fs := newFlagSet("invoke", "invoke --event FILE [--sandbox] [--timeout D] [--env KEY=VALUE]...", env.Stderr)
	eventPath := fs.String("event", "", "event JSON file (- for stdin), e.g. testdata/events/callfunction-fileid.json")
	sandboxMode := fs.Bool("sandbox", false, "run against the built-in WeChat emulator with sample cards")
	timeout := fs.Duration("timeout", 15*time.Second, "invocation time limit (SCF's function timeout)")
	invEnv := envList{}
	fs.Var(invEnv, "env", "invocation Environment entry KEY=VALUE (repeatable), e.g. WX_OPENID=o123")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *eventPath == "" {
		fmt.Fprintln(env.Stderr, "invoke: --event is required")
		fs.Usage()
		return 2
	}
	var raw []byte
	var err error
	if *eventPath == "-" {
		raw, err = io.ReadAll(io.LimitReader(env.Stdin, 6<<20+1))
	} else {
		raw, err = os.ReadFile(*eventPath)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "invoke: read event: %v\n", err)
		return 2
	}
	if len(raw) > 6<<20 {
		fmt.Fprintln(env.Stderr, "invoke: the event is over SCF's 6 MB limit")
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	in, code := openInstance(ctx, "invoke", env, *sandboxMode)
	if in == nil {
		return code
	}
	defer in.Close()

	ctx = functioncontext.NewContext(ctx, &functioncontext.FunctionContext{
		RequestID:     newInvocationID(),
		FunctionName:  "idcard-ocr",
		TimeLimitInMs: int32(timeout.Milliseconds()),
		Environment:   invEnv,
	})
	out, err := in.Handler.Invoke(ctx, json.RawMessage(raw))
	if err != nil {
		// SCF reports a handler error as an error object instead of a payload.
		b, _ := json.Marshal(map[string]string{"errorType": fmt.Sprintf("%T", err), "errorMessage": err.Error()})
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return 1
	}
	fmt.Fprintf(env.Stdout, "%s\n", out)
	return 0
}

// newInvocationID makes a request ID shaped like SCF's (a UUID).
func newInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
