// Package sideredis opens the Redis client of a side store: one whose caller has an
// in-memory fallback (the rate limiter, the quota book, the result cache), so that a slow or
// dead Redis must cost a request a fraction of a second, never a retry. The token store is
// not one: it has no fallback and keeps its own, more patient client.
package sideredis

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client settings for an SCF instance: one or two connections, and a dial timeout short
// enough that a dead Redis costs a request a fraction of the caller's fallback deadline.
const (
	poolSize    = 2
	dialTimeout = 200 * time.Millisecond
)

// IsRedis reports whether storeURL (TOKEN_STORE) names a Redis, redis:// or rediss://: the
// side stores share it, and keep to the instance's memory for any other store.
func IsRedis(storeURL string) bool {
	u, err := url.Parse(storeURL)
	return err == nil && (strings.EqualFold(u.Scheme, "redis") || strings.EqualFold(u.Scheme, "rediss"))
}

// Open returns a client for rawURL (redis:// or rediss://, with user, password and db) whose
// reads, writes and pool waits each end after timeout. Nothing is dialled until the first
// call. what names the store in the error ("rate limit", "quota", …).
func Open(rawURL, what string, timeout time.Duration) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// ParseURL errors may quote the URL, which can carry a password.
		return nil, errors.New(what + ": redis URL is invalid (want redis://user:pass@host:port/db)")
	}
	opt.PoolSize, opt.MaxIdleConns = poolSize, poolSize
	opt.DialTimeout = dialTimeout
	opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout
	// No retries: a failed call falls back to the caller's in-memory store at once, which is
	// better than making the request wait for a second attempt.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	// CLIENT SETINFO is unknown before Redis 7.2 and costs a round trip per connection.
	opt.DisableIdentity = true
	return redis.NewClient(opt), nil
}
