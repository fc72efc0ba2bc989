package sideredis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/redistest"
)

func TestOpenSettings(t *testing.T) {
	c, err := Open("redis://user:pw@127.0.0.1:6379/3", "quota", 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	// go-redis stores MaxRetries -1 ("no retries") as 0.
	if o.DB != 3 || o.Username != "user" || o.Password != "pw" || o.PoolSize != 2 || o.MaxIdleConns != 2 ||
		o.MaxRetries != 0 || o.ReadTimeout != 150*time.Millisecond || o.WriteTimeout != 150*time.Millisecond ||
		o.PoolTimeout != 150*time.Millisecond || o.DialTimeout != 200*time.Millisecond ||
		!o.ContextTimeoutEnabled || !o.DisableIdentity {
		t.Fatalf("options = %+v", o)
	}
}

// A URL that does not parse is refused without quoting it: it may carry a password.
func TestOpenInvalidURLHidesIt(t *testing.T) {
	_, err := Open("redis://user:s3cret@[::1/", "rate limit", time.Second)
	if err == nil {
		t.Fatal("no error for an invalid URL")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.HasPrefix(msg, "rate limit: ") {
		t.Fatalf("error = %q", msg)
	}
}

func TestOpenTalksToRedis(t *testing.T) {
	srv := redistest.Start(t)
	c, err := Open(srv.URL, "quota", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestIsRedis(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"rediss://user:pw@redis.example:6380/1", true},
		{"REDIS://127.0.0.1:6379", true},
		{"file:///tmp/idcard-ocr/token.json", false},
		{"memory://", false},
		{"", false},
		{"redis://[::1", false},
	} {
		if got := IsRedis(tt.url); got != tt.want {
			t.Errorf("IsRedis(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
