// Package resultcache keeps recent recognition results so that the same image sent again (a
// double tap, a flaky network, a reload) costs no provider call, on every instance that
// shares the store.
//
// A result holds personal data, so nothing readable is stored. For each image reference (its
// bytes, or its fileID or URL) HKDF-SHA-256 (crypto/hkdf) extracts a key from the reference's
// SHA-256 digest with the server-side secret as salt, and expands it twice: into the entry's
// name in the store and into an AES-256-GCM key that seals the value (random nonce, the name
// as additional data). So a dump of the store alone reveals nothing, a caller who does not
// hold the image cannot find or open its entry, and entries are never keyed by who asked.
package resultcache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultKeyPrefix prefixes the entries' names in the store.
const DefaultKeyPrefix = "idcard-ocr:cache:"

// HKDF labels: changing one invalidates every entry, which is how the format is versioned.
const (
	infoName = "idcard-ocr result-cache name v1"
	infoKey  = "idcard-ocr result-cache key v1"
)

// Store keeps values that expire, shared by instances (Redis) or in this instance's memory.
type Store interface {
	// Get returns key's value, or nil and no error when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Options configure a Cache.
type Options struct {
	// Secret is the server-side secret (at least 16 bytes), the same on every instance.
	Secret []byte
	// TTL is how long a result is kept (> 0).
	TTL time.Duration
	// KeyPrefix prefixes the names (default DefaultKeyPrefix).
	KeyPrefix string
	// Logger gets store failures at debug level (default: discard).
	Logger *slog.Logger
}

// Cache is the encrypted result cache. A failing store is a miss: the cache never fails a
// request. It is safe for concurrent use.
type Cache struct {
	store  Store
	secret []byte
	ttl    time.Duration
	prefix string
	log    *slog.Logger
}

// New returns a Cache on store.
func New(store Store, o Options) (*Cache, error) {
	if len(o.Secret) < 16 {
		return nil, errors.New("resultcache: the secret must be at least 16 bytes")
	}
	if o.TTL <= 0 {
		return nil, fmt.Errorf("resultcache: TTL must be > 0, got %s", o.TTL)
	}
	c := &Cache{store: store, secret: append([]byte(nil), o.Secret...), ttl: o.TTL, prefix: o.KeyPrefix, log: o.Logger}
	if c.prefix == "" {
		c.prefix = DefaultKeyPrefix
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// derive returns the entry's name and its AES-256 key for ref.
func (c *Cache) derive(ref []byte) (string, []byte, error) {
	d := sha256.Sum256(ref)
	prk, err := hkdf.Extract(sha256.New, d[:], c.secret)
	if err != nil {
		return "", nil, err
	}
	name, err := hkdf.Expand(sha256.New, prk, infoName, 16)
	if err != nil {
		return "", nil, err
	}
	key, err := hkdf.Expand(sha256.New, prk, infoKey, 32)
	if err != nil {
		return "", nil, err
	}
	return c.prefix + hex.EncodeToString(name), key, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Get returns the value kept for ref, if any.
func (c *Cache) Get(ctx context.Context, ref []byte) ([]byte, bool) {
	name, key, err := c.derive(ref)
	if err != nil {
		return nil, false
	}
	sealed, err := c.store.Get(ctx, name)
	if err != nil {
		c.log.DebugContext(ctx, "result cache read failed; treating it as a miss", "err", err)
		return nil, false
	}
	if sealed == nil {
		return nil, false
	}
	aead, err := gcm(key)
	if err != nil || len(sealed) < aead.NonceSize() {
		return nil, false
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(name))
	if err != nil {
		// Tampered with, or written under another secret: a miss.
		return nil, false
	}
	return plain, true
}

// Put keeps value for ref for the cache's TTL.
func (c *Cache) Put(ctx context.Context, ref, value []byte) {
	name, key, err := c.derive(ref)
	if err != nil {
		return
	}
	aead, err := gcm(key)
	if err != nil {
		return
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	sealed := aead.Seal(nonce, nonce, value, []byte(name))
	if err := c.store.Set(ctx, name, sealed, c.ttl); err != nil {
		c.log.DebugContext(ctx, "result cache write failed", "err", err)
	}
}
