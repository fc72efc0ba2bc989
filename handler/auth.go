package handler

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// keySet holds API keys as SHA-256 digests: comparing fixed-size digests in constant time
// over every key leaks neither which key matched nor the keys' lengths.
type keySet [][sha256.Size]byte

func newKeySet(keys []string) keySet {
	var ks keySet
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		ks = append(ks, sha256.Sum256([]byte(k)))
	}
	return ks
}

// match compares against every key without stopping at the first match.
func (ks keySet) match(key string) bool {
	d := sha256.Sum256([]byte(key))
	found := 0
	for i := range ks {
		found |= subtle.ConstantTimeCompare(d[:], ks[i][:])
	}
	return found == 1
}

// bearer extracts the token of "Authorization: Bearer <key>" (scheme case-insensitive).
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(strings.TrimSpace(a), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

// keyID is a short, non-reversible label of a key for rate limiting and logs.
func keyID(key string) string {
	d := sha256.Sum256([]byte(key))
	return "key:" + hex.EncodeToString(d[:6])
}
