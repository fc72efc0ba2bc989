package resultcache

import (
	"context"
	"testing"
	"time"
)

// FuzzGetStoredBytes: whatever a store hands back under an entry's name (a truncated value, a
// value written by another version, an attacker's bytes) is a miss, never a panic. Only a
// value sealed with the entry's key opens, and then to what was sealed (fuzz workers seal
// their own copy, with another nonce: that one opens too).
func FuzzGetStoredBytes(f *testing.F) {
	ctx := context.Background()
	store := NewMemory(nil)
	c, err := New(store, Options{Secret: []byte(secretA), TTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	ref := []byte("fileId\x00cloud://env.bucket/cards/front.png")
	c.Put(ctx, ref, []byte(`{"p":"wechat"}`))
	name, _, _ := c.derive(ref)
	sealed, _ := store.Get(ctx, name)
	f.Add(sealed)
	f.Add([]byte{})
	f.Add(sealed[:12])
	f.Add(append(append([]byte{}, sealed...), 0))
	f.Fuzz(func(t *testing.T, stored []byte) {
		if err := store.Set(ctx, name, stored, time.Hour); err != nil {
			t.Fatal(err)
		}
		v, ok := c.Get(ctx, ref)
		if ok && string(v) != `{"p":"wechat"}` {
			t.Fatalf("opened %q from bytes Put did not write", v)
		}
		if len(stored) < 12+16 && ok {
			t.Fatal("opened a value shorter than a nonce and a tag")
		}
	})
}
