// Package keyhash names a caller, a provider or an image in the shared store by a keyed digest
// (HMAC-SHA-256 with the server-side secret, STORE_SECRET): a dump of the store names nobody,
// and without the secret nobody can test a guess against it.
package keyhash

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Sum returns the hex of the first 16 bytes (128 bits: no collisions among callers) of
// HMAC-SHA-256(secret, parts joined by NUL bytes). The NUL keeps ("ab", "c") and ("a", "bc")
// apart; no part of a key contains one.
func Sum(secret []byte, parts ...string) string {
	m := hmac.New(sha256.New, secret)
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{0})
		}
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}
