package token

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCloudBaseSourceRereadsChangedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cloudbase_access_token")
	if err := os.WriteFile(p, []byte("cb-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewCloudBaseSource(p, "cb-env")
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s.now = clk.Now
	ctx := context.Background()
	tok, err := s.Token(ctx)
	if err != nil || tok.Value != "cb-one" || tok.QueryParam() != "cloudbase_access_token" {
		t.Fatalf("first: %+v %v", tok, err)
	}
	// The platform pushes a new token (different size and mtime).
	if err := os.WriteFile(p, []byte("cb-second"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(p, time.Now(), time.Now().Add(time.Minute))
	if tok, _ := s.Token(ctx); tok.Value != "cb-one" {
		t.Fatalf("file stat'ed again within %v: %q", cloudBaseCheckEvery, tok.Value)
	}
	clk.Add(cloudBaseCheckEvery)
	if tok, _ := s.Token(ctx); tok.Value != "cb-second" {
		t.Fatalf("after the change: %q", tok.Value)
	}
	// Rejected and not yet replaced: no usable token, and the file is checked at once.
	_ = s.Invalidate(ctx, "cb-second")
	if _, err := s.Token(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("rejected: %v", err)
	}
	_ = os.WriteFile(p, []byte("cb-third"), 0o600)
	_ = os.Chtimes(p, time.Now(), time.Now().Add(2*time.Minute))
	rep, err := s.Refresh(ctx, 0)
	if err != nil || !rep.Refreshed || rep.Source != "cloudbase" {
		t.Fatalf("refresh: %+v %v", rep, err)
	}
	// Without the file the environment value serves.
	os.Remove(p)
	clk.Add(cloudBaseCheckEvery)
	if tok, _ := s.Token(ctx); tok.Value != "cb-env" {
		t.Fatalf("env fallback: %q", tok.Value)
	}
}

// A new token of the same length, written in place within the file system's timestamp
// granularity, looks unchanged by size and mtime; after a rejection it must still be read.
func TestCloudBaseSourceRereadsSameSizeTokenAfterRejection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cloudbase_access_token")
	stamp := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	write := func(v string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	write("cb-aaaa")
	s, err := NewCloudBaseSource(p, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if tok, err := s.Token(ctx); err != nil || tok.Value != "cb-aaaa" {
		t.Fatalf("first: %+v %v", tok, err)
	}
	write("cb-bbbb") // same inode, size and mtime
	_ = s.Invalidate(ctx, "cb-aaaa")
	if tok, err := s.Token(ctx); err != nil || tok.Value != "cb-bbbb" {
		t.Fatalf("after rejection: %+v %v", tok, err)
	}
}

func TestNewSelectsSource(t *testing.T) {
	ctx := context.Background()
	none, err := New(ctx, Config{Source: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := none.Token(ctx); err != nil || tok.Value != "" || tok.QueryParam() != "access_token" {
		t.Fatalf("none: %+v %v", tok, err)
	}
	if _, err := New(ctx, Config{Source: "bogus", AppID: "a"}); err == nil {
		t.Fatal("bogus source accepted")
	}
	if _, err := New(ctx, Config{Source: "stable", AppID: "a", StoreURL: "memory://"}); err == nil {
		t.Fatal("stable without a fetcher accepted")
	}
	if _, err := New(ctx, Config{Source: "cloudbase"}); err == nil {
		t.Fatal("cloudbase without file or env accepted")
	}
	f := newFakeFetcher(time.Now)
	svc, err := New(ctx, Config{Source: "legacy", AppID: "a", Fetcher: f,
		StoreURL: "file://" + t.TempDir() + "/t.json", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	rep, err := svc.Refresh(ctx, 30*time.Minute)
	if err != nil || !rep.Refreshed || rep.Source != "legacy" {
		t.Fatalf("legacy refresh: %+v %v", rep, err)
	}
	ro, err := New(ctx, Config{Source: "store", AppID: "a", Fetcher: f, StoreURL: "memory://", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Token(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("store source, empty store: %v", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1 (the store source never fetches)", got)
	}
}
