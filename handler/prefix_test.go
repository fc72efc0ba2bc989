package handler_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/events"
	"github.com/wxocr/scf-idcard-ocr/handler"
)

// withPath returns the event of testdata/events/name with its path replaced.
func withPath(t *testing.T, name, path string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readTestdataEvent(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	ev["path"] = path
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every HTTP-shaped event kind is routed with the prefix its gateway adds, and a path that
// only resembles an endpoint is still 404.
func TestPrefixedPathsPerEventKind(t *testing.T) {
	h, err := handler.New(handler.Options{Service: okService{}, APIKeys: []string{apiKey}})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]struct {
		file string
		kind events.Kind
	}{
		"api gateway stage":      {"apigw-post-idcard.json", events.KindAPIGateway},
		"function url":           {"function-url-post.json", events.KindFunctionURL},
		"cloudbase route prefix": {"cloudbase-http.json", events.KindCloudBaseHTTP},
	}
	for name, ev := range kinds {
		t.Run(name, func(t *testing.T) {
			paths := map[string]int{
				"/v1/idcard":                  200,
				"/release/v1/idcard":          200,
				"/idcard-ocr/v1/idcard":       200,
				"/idcard-ocr/v1/idcard/":      200,
				"/svc/idcard-ocr/v1/idcard":   200,
				"/idcard-ocr/v1/idcardX":      404,
				"/xv1/idcard":                 404,
				"/idcard-ocr/xv1/idcard":      404,
				"/idcard-ocr/v1/idcard/extra": 404,
			}
			for path, want := range paths {
				raw := withPath(t, ev.file, path)
				kind, err := events.Decode(raw, &events.Event{}, events.Invocation{})
				if err != nil || kind != ev.kind {
					t.Fatalf("%s: decoded as %v (%v), want %s", path, kind, err, ev.kind)
				}
				out, err := invokeWith(h, raw, nil)
				if err != nil {
					t.Fatal(err)
				}
				status, _, r := integration(t, out)
				if status != want {
					t.Errorf("%s %s: status %d (%s), want %d", ev.kind, path, status, r.code(), want)
				}
			}
		})
	}
}

func TestPrefixedPathsOverHTTP(t *testing.T) {
	h, err := handler.New(handler.Options{Service: okService{}, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path, key string) int {
		req := httptest.NewRequest(method, path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := get(http.MethodGet, "/idcard-ocr/healthz", ""); c != 200 {
		t.Errorf("prefixed healthz: %d", c)
	}
	// The refresh endpoint keeps its admin check behind a prefix.
	if c := get(http.MethodPost, "/release/v1/token/refresh", apiKey); c != 401 {
		t.Errorf("prefixed refresh with an API key: %d, want 401", c)
	}
	if c := get(http.MethodGet, "/release/v1/idcard", apiKey); c != 405 {
		t.Errorf("prefixed GET /v1/idcard: %d, want 405", c)
	}
	if c := get(http.MethodGet, "/release/healthzz", ""); c != 404 {
		t.Errorf("/release/healthzz: %d, want 404", c)
	}
}

func readTestdataEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
