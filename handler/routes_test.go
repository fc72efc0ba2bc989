package handler

import "testing"

func TestRoute(t *testing.T) {
	cases := map[string]string{
		"/v1/idcard":              "/v1/idcard",
		"/v1/idcard/":             "/v1/idcard",
		"/release/v1/idcard":      "/v1/idcard",
		"/idcard-ocr/v1/idcard":   "/v1/idcard",
		"/a/b/c/v1/token/refresh": "/v1/token/refresh",
		"/healthz":                "/healthz",
		"/idcard-ocr/healthz/":    "/healthz",
		"/v1/idcardX":             "",
		"/xv1/idcard":             "",
		"/v1/idcard/x":            "",
		"/v1/idcard//":            "",
		"/v1/token/refreshed":     "",
		"/v1/xhealthz":            "",
		"/prefix-healthz":         "",
		"":                        "",
		"/":                       "",
		"v1/idcard":               "",
	}
	for path, want := range cases {
		if got := route(path); got != want {
			t.Errorf("route(%q) = %q, want %q", path, got, want)
		}
	}
}
