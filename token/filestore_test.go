package token

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileStoreFormatAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "idcard-ocr")
	st, err := OpenStore(context.Background(), "file://"+dir+"/token.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Get(ctx, "wxapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := Token{Value: "abc", ExpiresAt: exp, FetchedAt: exp.Add(-2 * time.Hour)}
	if err := st.Put(ctx, "wxapp", in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v %v, want 0700", fi.Mode().Perm(), err)
	}
	fi, err = os.Stat(filepath.Join(dir, "token.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v, want 0600", fi.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "token.json"))
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"token", "expiresAt", "fetchedAt"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("file lacks %q: %s", k, b)
		}
	}
	got, err := st.Get(ctx, "wxapp")
	if err != nil || got.Value != "abc" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("read back %+v %v", got, err)
	}
	if _, err := st.Get(ctx, "otherapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another appid read %v", err)
	}
	if ok, _ := st.CompareAndDelete(ctx, "wxapp", "zzz"); ok {
		t.Fatal("deleted a token that was not the rejected one")
	}
	if ok, _ := st.CompareAndDelete(ctx, "wxapp", "abc"); !ok {
		t.Fatal("did not delete the rejected token")
	}
	if _, err := st.Get(ctx, "wxapp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	// No temp files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".json" && filepath.Ext(e.Name()) != ".lock" {
			t.Fatalf("stray file %s", e.Name())
		}
	}
}

func TestFileStoreLockIsExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token.json")
	a, _ := NewFileStore(p)
	b, _ := NewFileStore(p)
	ctx := context.Background()
	ua, ok, err := a.TryLock(ctx, "k", time.Second)
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	if _, ok, _ := b.TryLock(ctx, "k", time.Second); ok {
		t.Fatal("second holder got the flock")
	}
	if err := ua(ctx); err != nil {
		t.Fatal(err)
	}
	ub, ok, _ := b.TryLock(ctx, "k", time.Second)
	if !ok {
		t.Fatal("lock not released")
	}
	_ = ub(ctx)
}

func TestOpenStoreURLs(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"ftp://x/y", "file://host/path", "file:relative", "redis://:secretpw@[::1"} {
		_, err := OpenStore(ctx, bad)
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		if bad == "redis://:secretpw@[::1" && containsSecret(err.Error()) {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	a, _ := OpenStore(ctx, "memory://shared")
	b, _ := OpenStore(ctx, "memory://shared")
	if a != b {
		t.Fatal("memory://shared gave two stores")
	}
	c, _ := OpenStore(ctx, "memory://")
	if c == a {
		t.Fatal("memory:// returned the named store")
	}
	r, err := OpenStore(ctx, "redis://user:pw@127.0.0.1:1/3")
	if err != nil {
		t.Fatal(err)
	}
	rs := r.(*RedisStore)
	o := rs.Client().Options()
	if o.DB != 3 || o.Username != "user" || o.Password != "pw" || o.PoolSize != redisPoolSize || o.MaxRetries != 1 {
		t.Fatalf("redis options %+v", o)
	}
	if rs.Key("wxapp") != DefaultKeyPrefix+"wxapp" {
		t.Fatalf("key %q", rs.Key("wxapp"))
	}
	r.Close()
}

func containsSecret(s string) bool { return strings.Contains(s, "secretpw") }
