package handler_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// FuzzInvoke: whatever the event and whoever calls, Invoke answers bad input with a
// documented error, never a 500 or INTERNAL and never a panic; only a timer (here one
// without a refresher) may end as a Go error. The service is the real one over a WeChat
// that answers at once, so every request that passes the checks is recognised.
func FuzzInvoke(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed events: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	svc, err := ocr.New(ocr.Options{WeChat: instantWeChat{}})
	if err != nil {
		f.Fatal(err)
	}
	h, err := handler.New(handler.Options{Service: svc, APIKeys: []string{apiKey}, MaxImageBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event []byte, cloudCall bool) {
		env := map[string]string{}
		if cloudCall {
			env = caller
		}
		ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{Environment: env})
		out, err := h.Invoke(ctx, event)
		if err != nil {
			if cloudCall {
				t.Fatalf("a cloud call ended as a Go error: %v", err)
			}
			return // a timer's failed refresh
		}
		var answer struct {
			StatusCode *int    `json:"statusCode"`
			Body       *string `json:"body"`
			Error      *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &answer); err != nil {
			t.Fatalf("answer is not JSON: %v: %.200s", err, out)
		}
		if answer.StatusCode != nil {
			if *answer.StatusCode >= 500 {
				t.Fatalf("status %d: %.300s", *answer.StatusCode, out)
			}
			return
		}
		if answer.Error != nil && answer.Error.Code == "INTERNAL" {
			t.Fatalf("INTERNAL: %.300s", out)
		}
	})
}
