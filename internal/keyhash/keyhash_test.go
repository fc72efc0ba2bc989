package keyhash

import "testing"

// RFC 4231 test case 2 (HMAC-SHA-256, key "Jefe"), truncated to 128 bits as Sum is.
func TestSumRFC4231(t *testing.T) {
	got := Sum([]byte("Jefe"), "what do ya want for nothing?")
	if want := "5bdcc146bf60754e6a042426089575c7"; got != want {
		t.Fatalf("Sum = %s, want %s", got, want)
	}
}

func TestSumSeparatesParts(t *testing.T) {
	k := []byte("0123456789abcdef")
	if Sum(k, "ab", "c") == Sum(k, "a", "bc") {
		t.Fatal(`("ab","c") and ("a","bc") share a digest`)
	}
	if Sum(k, "a", "b") != Sum(k, "a\x00b") {
		t.Fatal("parts are not joined by NUL")
	}
	if Sum(k, "a") == Sum([]byte("another secret!!"), "a") {
		t.Fatal("the secret does not key the digest")
	}
}
