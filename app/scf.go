package app

import (
	"context"
	"fmt"

	"github.com/wxocr/scf-idcard-ocr/internal/scfrt"
)

// cmdSCF serves SCF invocations over the Go1 runtime's RPC on _LAMBDA_SERVER_PORT
// (internal/scfrt: the protocol of scf-go-lib's cloudfunction, without net/rpc's reflection).
// The handler gets the raw event bytes and the invocation's deadline as its context.
func cmdSCF(env Env) int {
	in, code := openInstance(context.Background(), "scf", env, false)
	if in == nil {
		return code
	}
	defer in.Close()
	err := scfrt.ListenAndServe(env.Getenv, func(ctx context.Context, payload []byte) ([]byte, error) {
		return in.Main.Handler.Invoke(ctx, payload)
	})
	fmt.Fprintf(env.Stderr, "scf: %v\n", err)
	return 1
}
