package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by Store.Get when the store holds no token for the key.
var ErrNotFound = errors.New("token not in store")

// Force-refresh limits of stable_token (platform facts §1). They are counted in the store so
// that every instance shares them.
const (
	ForceMinInterval = 30 * time.Second
	ForceDailyLimit  = 20
)

// DefaultKeyPrefix prefixes the per-appid key in shared stores.
const DefaultKeyPrefix = "idcard-ocr:token:"

// Unlock releases a lock taken with Store.TryLock. It only releases the lock it took.
type Unlock func(ctx context.Context) error

// Store shares one token per key (the appid) between goroutines, processes and instances.
// Implementations are safe for concurrent use. Errors other than ErrNotFound mean the store
// itself failed; the Manager then serves without it.
type Store interface {
	// Get returns the stored token or ErrNotFound.
	Get(ctx context.Context, key string) (Token, error)
	// Put stores t, replacing what is there. Shared stores drop it at t.ExpiresAt.
	Put(ctx context.Context, key string, t Token) error
	// CompareAndDelete removes the stored token only if its value is still value, so that a
	// late report of a rejected token never removes the fresh one another instance stored.
	CompareAndDelete(ctx context.Context, key, value string) (bool, error)
	// TryLock takes the refresh lock for key without waiting. ok is false when another
	// holder has it. A holder that dies loses the lock after ttl at most.
	TryLock(ctx context.Context, key string, ttl time.Duration) (unlock Unlock, ok bool, err error)
	// ReserveForce counts one force_refresh for key if the limits allow it now: at most one
	// per ForceMinInterval and ForceDailyLimit per day (China time) across all users of the
	// store. It reports whether the caller may force and, when not, how long until the limits
	// allow one again: the rest of the interval, or until midnight China time when the day's
	// forces are spent.
	ReserveForce(ctx context.Context, key string, now time.Time) (ok bool, wait time.Duration, err error)
	// Close releases the store's resources.
	Close() error
}

// StoreOption configures OpenStore.
type StoreOption func(*storeSettings)

type storeSettings struct {
	prefix string
	logger *slog.Logger
}

// WithKeyPrefix sets the prefix of the per-appid key in shared stores (default
// DefaultKeyPrefix). The file store keeps one token per file and ignores it.
func WithKeyPrefix(prefix string) StoreOption {
	return func(s *storeSettings) { s.prefix = prefix }
}

// WithStoreLogger sets the logger of the store.
func WithStoreLogger(l *slog.Logger) StoreOption {
	return func(s *storeSettings) { s.logger = l }
}

// OpenStore opens the store named by rawURL:
//
//	file:///path/token.json       one JSON file, flock-serialised refresh (single machine)
//	redis://user:pass@host:port/db shared store for many instances (rediss:// for TLS)
//	memory://[name]               in-process, for tests; the same name yields the same store
//
// Opening does not contact Redis, so a store outage never stops a cold start.
func OpenStore(ctx context.Context, rawURL string, opts ...StoreOption) (Store, error) {
	s := storeSettings{prefix: DefaultKeyPrefix, logger: slog.Default()}
	for _, o := range opts {
		o(&s)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// The URL may carry a Redis password: never echo it.
		return nil, fmt.Errorf("token store URL is not a valid URL (scheme %q)", schemeOf(rawURL))
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("token store file URL must be file:///absolute/path")
		}
		if p == "" || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("token store file URL must be file:///absolute/path")
		}
		return NewFileStore(p)
	case "redis", "rediss":
		return newRedisStore(u, s)
	case "memory":
		if u.Host == "" && u.Opaque == "" {
			return NewMemoryStore(), nil
		}
		return namedMemoryStore(u.Host + u.Opaque), nil
	default:
		return nil, fmt.Errorf("token store URL scheme %q is not one of file, redis, rediss, memory", u.Scheme)
	}
}

func schemeOf(raw string) string {
	if i := strings.Index(raw, "://"); i > 0 {
		return raw[:i]
	}
	return ""
}

var (
	namedMu     sync.Mutex
	namedStores = map[string]*MemoryStore{}
)

func namedMemoryStore(name string) *MemoryStore {
	namedMu.Lock()
	defer namedMu.Unlock()
	if s, ok := namedStores[name]; ok {
		return s
	}
	s := NewMemoryStore()
	namedStores[name] = s
	return s
}
