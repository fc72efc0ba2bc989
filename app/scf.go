package app

import (
	"context"
	"fmt"

	"github.com/tencentyun/scf-go-lib/cloudfunction"
)

// cmdSCF serves SCF invocations over scf-go-lib's RPC on _LAMBDA_SERVER_PORT. The handler gets
// the raw event bytes (no reflection round trip) and the invocation's deadline as its context.
func cmdSCF(env Env) int {
	logger := newLogger(env.Stderr, env.Getenv("LOG_LEVEL"))
	cfg, ok := loadConfig(env.Getenv, env.Stderr)
	if !ok {
		return 2
	}
	m, err := NewMain(context.Background(), cfg, logger, false)
	if err != nil {
		fmt.Fprintf(env.Stderr, "scf: %v\n", err)
		return 1
	}
	defer m.Close()
	cloudfunction.StartHandler(scfHandler{m})
	return 0 // StartHandler never returns
}

// scfHandler adapts the handler to scf-go-lib's byte-level Handler interface.
type scfHandler struct{ m *Main }

func (h scfHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.m.Handler.Invoke(ctx, payload)
}
