package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/keyhash"
	"github.com/wxocr/scf-idcard-ocr/internal/sideredis"
)

// window is the span of one Redis counter: PerMinute requests per caller per window.
const window = time.Minute

// DefaultRedisTimeout bounds one Redis round trip of Allow: past it the request is limited
// in memory instead, so that a slow Redis costs each request at most this once before the
// breaker opens.
const DefaultRedisTimeout = 150 * time.Millisecond

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	// PerMinute is each caller's budget per minute (at least 1).
	PerMinute int
	// KeyPrefix prefixes the counter keys (default DefaultKeyPrefix).
	KeyPrefix string
	// Timeout bounds one Allow (default DefaultRedisTimeout).
	Timeout time.Duration
	// Secret, when set, keys the digest of each caller (HMAC-SHA-256): without it a key's
	// plain SHA-256 of a client IP can be reversed by trying every address.
	Secret []byte
}

// Redis counts each caller's requests in a fixed window shared by every instance: the first
// request of a caller starts a one-minute counter, the PerMinute+1st within it is refused
// until the counter expires. The counter key is the prefix and a digest of the caller (keyed,
// HMAC-SHA-256, when RedisOptions.Secret is set), so that no openid, API key or address is
// stored in Redis. One round trip per request.
type Redis struct {
	c       *redis.Client
	own     bool
	prefix  string
	limit   int64
	timeout time.Duration
	secret  []byte
}

// redisCount increments the caller's counter and returns it with the milliseconds left in the
// window. The expiry is set when the key has none (new, or one that lost it), so a counter
// never outlives its window and the window is not extended by refused requests.
var redisCount = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`)

// NewRedis returns a limiter on an existing client, which the caller keeps and closes.
func NewRedis(c *redis.Client, o RedisOptions) *Redis {
	r := &Redis{c: c, prefix: o.KeyPrefix, limit: int64(max(o.PerMinute, 1)), timeout: o.Timeout}
	if len(o.Secret) > 0 {
		r.secret = append([]byte(nil), o.Secret...)
	}
	if r.prefix == "" {
		r.prefix = DefaultKeyPrefix
	}
	if r.timeout <= 0 {
		r.timeout = DefaultRedisTimeout
	}
	return r
}

// OpenRedis returns a limiter with its own small client for rawURL (redis:// or rediss://,
// with user, password and db). Close closes the client. Nothing is dialled until the first
// Allow.
func OpenRedis(rawURL string, o RedisOptions) (*Redis, error) {
	r := NewRedis(nil, o)
	c, err := sideredis.Open(rawURL, "rate limit", r.timeout)
	if err != nil {
		return nil, err
	}
	r.c, r.own = c, true
	return r, nil
}

// Key returns the Redis key that counts caller's requests.
func (r *Redis) Key(caller string) string {
	if r.secret != nil {
		return r.prefix + keyhash.Sum(r.secret, caller)
	}
	d := sha256.Sum256([]byte(caller))
	return r.prefix + hex.EncodeToString(d[:16])
}

// Allow implements Limiter in one round trip (EVALSHA; EVAL once after a Redis restart).
func (r *Redis) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := redisCount.Run(ctx, r.c, []string{r.Key(key)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: redis: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("rate limit: redis script answered %d values, want 2", len(res))
	}
	if res[0] <= r.limit {
		return true, 0, nil
	}
	wait := time.Duration(res[1]) * time.Millisecond
	if wait <= 0 {
		wait = time.Millisecond
	}
	return false, wait, nil
}

// Close closes the client if OpenRedis made it.
func (r *Redis) Close() error {
	if r.own {
		return r.c.Close()
	}
	return nil
}
