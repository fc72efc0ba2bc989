package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// cmdRefreshToken refreshes the shared access token when less than --lead remains, as the
// timer trigger does, and prints {refreshed, expiresAt, source}. It never prints the token.
func cmdRefreshToken(args []string, env Env) int {
	fs := newFlagSet("refresh-token", "refresh-token [--lead D] [--sandbox] [--timeout D]", env.Stderr)
	lead := fs.Duration("lead", 0, "refresh when less than this remains (default TOKEN_REFRESH_LEAD)")
	sandboxMode := fs.Bool("sandbox", false, "refresh against the built-in WeChat emulator")
	timeout := fs.Duration("timeout", 15*time.Second, "time limit")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	in, code := openInstance(ctx, "refresh-token", env, *sandboxMode)
	if in == nil {
		return code
	}
	defer in.Close()
	if *lead == 0 {
		*lead = in.Config.TokenRefreshLead
	}
	rep, err := in.Tokens.Refresh(ctx, *lead)
	if err != nil {
		fmt.Fprintf(env.Stderr, "refresh-token: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(rep)
	fmt.Fprintf(env.Stdout, "%s\n", b)
	return 0
}
