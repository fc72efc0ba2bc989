package ocr

import (
	"context"
	"crypto/sha256"
	"encoding/json"

	"github.com/wxocr/scf-idcard-ocr/idcard"
)

// Cache keeps recent readings so that the same image sent again (a double tap, a retry, a
// reload) costs no provider call (*resultcache.Cache, which encrypts each value with a key
// derived from ref and a server-side secret). ref is a SHA-256 digest of the request options
// that change a reading and the image's bytes, or its fileID or URL; it is never the caller's
// identity. A cache that fails is a miss: it never fails a request.
type Cache interface {
	Get(ctx context.Context, ref []byte) ([]byte, bool)
	Put(ctx context.Context, ref, value []byte)
}

// cachedReading is a Reading as the cache keeps it.
type cachedReading struct {
	Provider string           `json:"p"`
	Reason   string           `json:"r"`
	Side     Side             `json:"s,omitempty"`
	Front    *idcard.RawFront `json:"f,omitempty"`
	Back     *idcard.RawBack  `json:"b,omitempty"`
	Checks   []idcard.Check   `json:"c,omitempty"`
	Portrait string           `json:"i,omitempty"`
}

// cacheRef is what identifies a reading: a digest of the options that change it, then the
// image. Hashed here, once per image and in place, so that a 2 MB upload is neither copied
// nor hashed twice (lookup, then store after a miss).
func cacheRef(ref []byte, o callOpts) []byte {
	level := ChecksStandard
	if o.strict {
		level = ChecksStrict
	}
	portrait := "0"
	if o.portrait {
		portrait = "1" // a reading without the crop cannot answer a request for it
	}
	h := sha256.New()
	h.Write([]byte("v1\x00" + level + "\x00" + o.mode + "\x00" + portrait + "\x00"))
	h.Write(ref)
	return h.Sum(nil)
}

// cached returns the reading kept under key (cacheRef), or nil.
func (s *Service) cached(ctx context.Context, key []byte) *Reading {
	if s.cache == nil {
		return nil
	}
	b, ok := s.cache.Get(ctx, key)
	if !ok {
		return nil
	}
	var c cachedReading
	if err := json.Unmarshal(b, &c); err != nil || c.Provider == "" {
		s.log.WarnContext(ctx, "ignoring an unreadable result-cache entry")
		return nil
	}
	return &Reading{Side: c.Side, Front: c.Front, Back: c.Back, Checks: c.Checks, Portrait: c.Portrait,
		provider: c.Provider, reason: c.Reason, cached: true}
}

// remember keeps rd under key (cacheRef).
func (s *Service) remember(ctx context.Context, key []byte, rd *Reading) {
	if s.cache == nil {
		return
	}
	b, err := json.Marshal(cachedReading{Provider: rd.provider, Reason: rd.reason, Side: rd.Side,
		Front: rd.Front, Back: rd.Back, Checks: rd.Checks, Portrait: rd.Portrait})
	if err != nil {
		return // plain structs: cannot happen
	}
	s.cache.Put(ctx, key, b)
}
