package resultcache

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGetHit2MB is what a repeat of a 2 MB upload costs before the answer: the digest of
// the image, HKDF, and opening a 1 KB entry (in-memory store, so no network).
func BenchmarkGetHit2MB(b *testing.B) {
	ctx := context.Background()
	c, err := New(NewMemory(nil), Options{Secret: []byte(secretA), TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	img := make([]byte, 2<<20)
	val := make([]byte, 1024)
	c.Put(ctx, img, val)
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(ctx, img); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkPutFileID is storing a reading under a short reference (a fileId).
func BenchmarkPutFileID(b *testing.B) {
	ctx := context.Background()
	c, err := New(NewMemory(nil), Options{Secret: []byte(secretA), TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ref := []byte("v1\x00standard\x00\x000\x00fileId\x00cloud://env.bucket/cards/front.png")
	val := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		c.Put(ctx, ref, val)
	}
}
