package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/ocr"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// instantWeChat answers at once, so the benchmarks measure the edge and the service only.
type instantWeChat struct{}

func (instantWeChat) BatchDownloadFile(_ context.Context, _ string, ids []string, _ time.Duration) ([]wechat.FileURL, error) {
	return []wechat.FileURL{{FileID: ids[0], DownloadURL: "https://dl.example.com/f"}}, nil
}

func (instantWeChat) IDCardByURL(context.Context, string, string) (*wechat.IDCard, error) {
	return &wechat.IDCard{Type: "Front", Name: "张三", ID: frontID, Gender: "女", Nationality: "汉", Addr: "广东省深圳市南山区粤海街道科技园路1号"}, nil
}

func (w instantWeChat) IDCardByImage(ctx context.Context, _ []byte, _, _ string) (*wechat.IDCard, error) {
	return w.IDCardByURL(ctx, "", "")
}

func benchHandler(b *testing.B) *handler.Handler {
	svc, err := ocr.New(ocr.Options{WeChat: instantWeChat{}})
	if err != nil {
		b.Fatal(err)
	}
	h, err := handler.New(handler.Options{Service: svc, APIKeys: []string{apiKey}})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkServeHTTPBase64 is a 2 MB image sent as base64 JSON: B/op against the image size
// is the allocation ratio (the budget is 3x).
func BenchmarkServeHTTPBase64(b *testing.B) {
	h := benchHandler(b)
	img := make([]byte, 2<<20-1024)
	copy(img, emulator.EncodePlainPNG())
	body, _ := json.Marshal(map[string]string{"imageBase64": b64(img), "side": "front"})
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/idcard", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkInvokeFileID is a cloud call with a fileId: the edge's overhead per request.
func BenchmarkInvokeFileID(b *testing.B) {
	h := benchHandler(b)
	event := []byte(`{"fileId":"` + fileFront + `","side":"front"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(context.Background(), event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSON2MB is why request JSON is decoded with go-json-experiment/json: the body
// of a 2 MB imageBase64 request (2.8 MB of text) decoded into the same plain struct by
// encoding/json (the baseline) and by jsonv2, side by side on the same machine. Here:
// encoding/json 13.7-32 ms, jsonv2 1.4-2.3 ms (2-core AMD EPYC, shared and loaded, 2026-11-29).
func BenchmarkDecodeJSON2MB(b *testing.B) {
	img := make([]byte, 2<<20-1024)
	copy(img, emulator.EncodePlainPNG())
	body, _ := json.Marshal(map[string]string{"imageBase64": b64(img), "side": "front"})
	type request struct {
		FileID      *string `json:"fileId"`
		ImageBase64 string  `json:"imageBase64"`
		Side        string  `json:"side"`
	}
	b.Run("encoding-json-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r request
			if err := json.Unmarshal(body, &r); err != nil || len(r.ImageBase64) < len(img) {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonv2", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r request
			if err := jsonv2.Unmarshal(body, &r); err != nil || len(r.ImageBase64) < len(img) {
				b.Fatal(err)
			}
		}
	})
}
