package wechat

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
)

// BenchmarkIDCardByURL measures the client's per-call overhead against a loopback server
// answering a canned front side.
func BenchmarkIDCardByURL(b *testing.B) {
	e := newEnv(b, tokens("T"), WithLogger(discardLogger()))
	front := testdata(b, "idcard_front.json")
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, front)
	})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.IDCardByURL(ctx, "https://img.example.com/cards/a.jpg?sign=abc", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIDCardByImage2MB uploads a 2 MiB image; B/op staying far below 2 MiB shows the
// image is streamed, not copied (client and loopback server both count).
func BenchmarkIDCardByImage2MB(b *testing.B) {
	e := newEnv(b, tokens("T"), WithLogger(discardLogger()))
	img := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 512*1024)
	front := testdata(b, "idcard_front.json")
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		writeJSON(w, 200, front)
	})
	ctx := context.Background()
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.IDCardByImage(ctx, img, "image/jpeg", ""); err != nil {
			b.Fatal(err)
		}
	}
}
