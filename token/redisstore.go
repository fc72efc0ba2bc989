package token

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
)

// Redis client settings suited to SCF: few connections per instance, and timeouts short
// enough that an outage costs a request well under a second before the breaker opens.
const (
	redisPoolSize     = 4
	redisDialTimeout  = 500 * time.Millisecond
	redisIOTimeout    = 300 * time.Millisecond
	redisPoolTimeout  = 500 * time.Millisecond
	redisMaxRetries   = 1 // one retry covers a pooled connection that died with a Redis restart
	redisDialAttempts = 1 // go-redis would otherwise dial 5 times per command
)

// RedisStore is the shared store of production: one key per appid under a prefix, whose JSON
// value carries the token, its expiry and when it was fetched, with a TTL equal to the expiry.
type RedisStore struct {
	c      *redis.Client
	prefix string
}

var (
	// compare-and-delete of the token: only the rejected value is removed.
	redisCADToken = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if ok and type(d) == 'table' and d.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
	// release of the lock: only the holder's own random value is removed.
	redisUnlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
	// force_refresh reservation: at most one per ARGV[1] ms (KEYS[1]) and ARGV[2] per day
	// (KEYS[2], kept two days so that clocks around midnight agree). Returns 0 when reserved,
	// -1 when the day's forces are spent, else the milliseconds left of the interval.
	redisReserveForce = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n >= tonumber(ARGV[2]) then return -1 end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return left
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 172800000)
return 0`)
)

// redisLogger sends go-redis's own messages (one per failed dial, many during an outage) to
// debug level, so that an outage is announced by the breaker's single line only.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

var redisLogOnce sync.Once

func newRedisStore(u *url.URL, s storeSettings) (*RedisStore, error) {
	// go-redis has one process-wide logger.
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{log: s.logger}) })
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		// ParseURL errors may quote the URL, which can carry a password.
		return nil, errors.New("token store redis URL is invalid (want redis://user:pass@host:port/db)")
	}
	opt.PoolSize = redisPoolSize
	opt.MaxIdleConns = redisPoolSize
	opt.DialTimeout = redisDialTimeout
	opt.ReadTimeout = redisIOTimeout
	opt.WriteTimeout = redisIOTimeout
	opt.PoolTimeout = redisPoolTimeout
	opt.MaxRetries = redisMaxRetries
	opt.DialerRetries = redisDialAttempts
	opt.ContextTimeoutEnabled = true
	// CLIENT SETINFO is unknown before Redis 7.2 and costs a round trip per connection.
	opt.DisableIdentity = true
	return NewRedisStore(redis.NewClient(opt), s.prefix), nil
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore wraps an existing client; keys are prefix + appid.
func NewRedisStore(c *redis.Client, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: prefix}
}

// Client returns the underlying client (tests count its commands).
func (s *RedisStore) Client() *redis.Client { return s.c }

// Key returns the Redis key that holds the token of appid.
func (s *RedisStore) Key(appid string) string { return s.prefix + appid }

type redisRecord struct {
	Token     string    `json:"token"`
	Param     string    `json:"param,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	FetchedAt time.Time `json:"fetchedAt"`
}

// Get implements Store in one round trip (GET).
func (s *RedisStore) Get(ctx context.Context, key string) (Token, error) {
	b, err := s.c.Get(ctx, s.Key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("redis GET token: %w", err)
	}
	var r redisRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Token == "" {
		return Token{}, ErrNotFound // a foreign or damaged value is a miss; Put overwrites it
	}
	return Token{Value: r.Token, Param: r.Param, ExpiresAt: r.ExpiresAt, FetchedAt: r.FetchedAt}, nil
}

// Put implements Store; the key expires with the token.
func (s *RedisStore) Put(ctx context.Context, key string, t Token) error {
	b, err := json.Marshal(redisRecord{Token: t.Value, Param: t.Param, ExpiresAt: t.ExpiresAt, FetchedAt: t.FetchedAt})
	if err != nil {
		return err
	}
	var ttl time.Duration
	if !t.ExpiresAt.IsZero() {
		ttl = time.Until(t.ExpiresAt)
		if ttl < time.Millisecond {
			return nil // already expired: nothing worth sharing
		}
	}
	if err := s.c.Set(ctx, s.Key(key), b, ttl).Err(); err != nil {
		return fmt.Errorf("redis SET token: %w", err)
	}
	return nil
}

// CompareAndDelete implements Store with one Lua script.
func (s *RedisStore) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	n, err := redisCADToken.Run(ctx, s.c, []string{s.Key(key)}, value).Int()
	if err != nil {
		return false, fmt.Errorf("redis compare-and-delete token: %w", err)
	}
	return n == 1, nil
}

// TryLock implements Store: SET NX PX with a random value, released by compare-and-delete.
func (s *RedisStore) TryLock(ctx context.Context, key string, ttl time.Duration) (Unlock, bool, error) {
	var rb [16]byte
	_, _ = rand.Read(rb[:])
	val := hex.EncodeToString(rb[:])
	lk := s.Key(key) + ":lock"
	ok, err := s.c.SetNX(ctx, lk, val, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redis SET NX lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return func(ctx context.Context) error {
		if err := redisUnlock.Run(ctx, s.c, []string{lk}, val).Err(); err != nil {
			return fmt.Errorf("redis release lock: %w", err)
		}
		return nil
	}, true, nil
}

// ReserveForce implements Store with one Lua script.
func (s *RedisStore) ReserveForce(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	k := s.Key(key)
	n, err := redisReserveForce.Run(ctx, s.c,
		[]string{k + ":force:last", k + ":force:day:" + chinaday.Day(now)},
		ForceMinInterval.Milliseconds(), ForceDailyLimit).Int64()
	switch {
	case err != nil:
		return false, 0, fmt.Errorf("redis reserve force_refresh: %w", err)
	case n == 0:
		return true, 0, nil
	case n < 0:
		return false, chinaday.NextMidnight(now).Sub(now), nil
	}
	return false, time.Duration(n) * time.Millisecond, nil
}

// Close implements Store.
func (s *RedisStore) Close() error { return s.c.Close() }
