package handler

import "testing"

func TestKeySet(t *testing.T) {
	ks := newKeySet([]string{" k1 ", "", "k2"})
	if len(ks) != 2 || !ks.match("k1") || !ks.match("k2") || ks.match("k3") || ks.match("") {
		t.Fatal("keySet matches wrongly")
	}
	if newKeySet(nil).match("") {
		t.Fatal("empty set matched")
	}
}
