package token

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestInvocationTokenComesFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cloudbase_access_token")
	if err := os.WriteFile(file, []byte("pushed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := New(context.Background(), Config{Source: SourceCloudBase, CloudBaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	if ctx := WithInvocationToken(context.Background(), ""); InvocationToken(ctx) != "" {
		t.Fatal("an empty value was stored")
	}
	inv := WithInvocationToken(context.Background(), "per-invocation")
	tok, err := svc.Token(inv)
	if err != nil || tok.Value != "per-invocation" || tok.QueryParam() != CloudBaseParam {
		t.Fatalf("with an invocation token: %+v %v", tok, err)
	}
	if tok, err := svc.Token(context.Background()); err != nil || tok.Value != "pushed" {
		t.Fatalf("without one: %+v %v, want the pushed file", tok, err)
	}

	// WeChat refuses the invocation token: the retry gets the file's, and that value is not
	// marked as rejected in the file source.
	if err := svc.Invalidate(inv, "per-invocation"); err != nil {
		t.Fatal(err)
	}
	if tok, err := svc.Token(inv); err != nil || tok.Value != "pushed" {
		t.Fatalf("after rejecting the invocation token: %+v %v, want the pushed file", tok, err)
	}
	// The next invocation's token is served again.
	if tok, _ := svc.Token(WithInvocationToken(context.Background(), "next")); tok.Value != "next" {
		t.Fatalf("a new invocation token: %q", tok.Value)
	}
	// A rejected file token goes to the file source: with nothing newer it is not served.
	if err := svc.Invalidate(context.Background(), "pushed"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Token(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("rejected file token served again: %v", err)
	}
	// And an invocation token still works meanwhile.
	if tok, err := svc.Token(WithInvocationToken(context.Background(), "third")); err != nil || tok.Value != "third" {
		t.Fatalf("%+v %v", tok, err)
	}
}

// Only the cloudbase source honours invocation tokens: with stable or none, a token in the
// context changes nothing.
func TestInvocationTokenIgnoredByOtherSources(t *testing.T) {
	svc, err := New(context.Background(), Config{Source: SourceNone})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := svc.Token(WithInvocationToken(context.Background(), "x")); tok.Value != "" {
		t.Fatalf("none source served %q", tok.Value)
	}
}
