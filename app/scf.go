package app

import (
	"context"

	"github.com/tencentyun/scf-go-lib/cloudfunction"
)

// cmdSCF serves SCF invocations over scf-go-lib's RPC on _LAMBDA_SERVER_PORT. The handler gets
// the raw event bytes (no reflection round trip) and the invocation's deadline as its context.
//
// scf-go-lib registers with net/rpc, whose reflective method lookup keeps every exported method
// of every type converted to an interface in the binary (about 8 MB of this one's 20 MB). We
// accept that rather than maintain our own copy of the runtime protocol: see README Benchmarks.
func cmdSCF(env Env) int {
	in, code := openInstance(context.Background(), "scf", env, false)
	if in == nil {
		return code
	}
	defer in.Close()
	cloudfunction.StartHandler(scfHandler{in.Main})
	return 0 // StartHandler never returns
}

// scfHandler adapts the handler to scf-go-lib's byte-level Handler interface.
type scfHandler struct{ m *Main }

func (h scfHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.m.Handler.Invoke(ctx, payload)
}
