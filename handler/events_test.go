package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeEventFiles(t *testing.T) {
	tests := []struct {
		file  string
		kind  EventKind
		check func(t *testing.T, ev *Event)
	}{
		{"apigw-post-idcard.json", KindAPIGateway, func(t *testing.T, ev *Event) {
			h := ev.HTTP
			if h.HTTPMethod != "POST" || h.Path != "/v1/idcard" || h.IsBase64Encoded {
				t.Errorf("method/path/base64 = %s %s %v", h.HTTPMethod, h.Path, h.IsBase64Encoded)
			}
			if h.RequestContext.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" || h.RequestContext.SourceIP != "58.60.12.34" {
				t.Errorf("requestContext = %+v", h.RequestContext)
			}
			if h.Headers.Get("Authorization") != "Bearer test-api-key" {
				t.Errorf("authorization header = %q", h.Headers.Get("Authorization"))
			}
			if !strings.Contains(h.Body, `"fileId"`) {
				t.Errorf("body = %q", h.Body)
			}
		}},
		{"apigw-base64-body.json", KindAPIGateway, func(t *testing.T, ev *Event) {
			if !ev.HTTP.IsBase64Encoded {
				t.Error("isBase64Encoded not decoded")
			}
		}},
		{"apigw-querystring-variants.json", KindAPIGateway, func(t *testing.T, ev *Event) {
			want := Values{"verbose": {""}, "lang": {"zh_CN"}, "tag": {"a", "b"}, "page": {"2"}}
			if !reflect.DeepEqual(ev.HTTP.QueryString, want) {
				t.Errorf("queryString = %#v, want %#v", ev.HTTP.QueryString, want)
			}
		}},
		{"function-url-post.json", KindFunctionURL, func(t *testing.T, ev *Event) {
			if ev.HTTP.RequestContext != nil {
				t.Error("function URL event has a requestContext")
			}
			if got := clientIP(ev.HTTP, ""); got != "203.0.113.7" {
				t.Errorf("clientIP = %q", got)
			}
		}},
		{"cloudbase-http.json", KindCloudBaseHTTP, func(t *testing.T, ev *Event) {
			rc := ev.HTTP.RequestContext
			if rc.EnvID != "prod-4g8a2c1f" || rc.AppID != "1316000000" || rc.Uin != "100012345678" {
				t.Errorf("requestContext = %+v", rc)
			}
			if got := clientIP(ev.HTTP, ""); got != "10.0.0.12" {
				t.Errorf("clientIP = %q (the last X-Forwarded-For hop)", got)
			}
		}},
		{"timer.json", KindTimer, func(t *testing.T, ev *Event) {
			if ev.Timer.TriggerName != "token-refresh" || ev.Timer.Time != "2026-11-26T13:30:00Z" {
				t.Errorf("timer = %+v", ev.Timer)
			}
		}},
		{"callfunction-fileid.json", KindCallFunction, nil},
		{"callfunction-imageurl.json", KindCallFunction, nil},
		{"callfunction-both-sides.json", KindCallFunction, nil},
		{"callfunction-legacy-userinfo.json", KindCallFunction, func(t *testing.T, ev *Event) {
			_, ui, _, err := parseRequestJSON(ev.Call, DefaultMaxImageBytes)
			if err != nil || ui == nil || ui.OpenID != "oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE" {
				t.Errorf("userInfo = %+v, %v", ui, err)
			}
		}},
		// Malformed request data is still a cloud call; the body check rejects it later.
		{"malformed-callfunction-two-images.json", KindCallFunction, nil},
		{"malformed-callfunction-bad-base64.json", KindCallFunction, nil},
		{"malformed-callfunction-unknown-side.json", KindCallFunction, nil},
		// A bad base64 or JSON body is found when the body is read, not when decoding.
		{"malformed-apigw-bad-base64.json", KindAPIGateway, nil},
		{"malformed-apigw-bad-json-body.json", KindAPIGateway, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := DecodeEvent(readEvent(t, tt.file), false)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if ev.Kind != tt.kind {
				t.Fatalf("kind = %s, want %s", ev.Kind, tt.kind)
			}
			checkShape(t, ev)
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

// checkShape asserts the one-of invariant of Event.
func checkShape(t testing.TB, ev *Event) {
	t.Helper()
	n := 0
	if ev.HTTP != nil {
		n++
	}
	if ev.Timer != nil {
		n++
	}
	if ev.Call != nil {
		n++
	}
	if n != 1 {
		t.Fatalf("event %s has %d payloads set", ev.Kind, n)
	}
	switch ev.Kind {
	case KindAPIGateway, KindFunctionURL, KindCloudBaseHTTP:
		if ev.HTTP == nil {
			t.Fatalf("%s without HTTP", ev.Kind)
		}
	case KindTimer:
		if ev.Timer == nil {
			t.Fatal("timer without Timer")
		}
	case KindCallFunction:
		if ev.Call == nil {
			t.Fatal("call without data")
		}
	default:
		t.Fatalf("unknown kind %q", ev.Kind)
	}
}

func TestDecodeEventMalformed(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		kind EventKind
	}{
		{"truncated file", string(readEvent(t, "malformed-truncated.json")), KindCallFunction},
		{"not an object", string(readEvent(t, "malformed-not-object.json")), KindCallFunction},
		{"query string object", string(readEvent(t, "malformed-apigw-querystring-object.json")), KindAPIGateway},
		{"empty", "", KindCallFunction},
		{"whitespace", " \n\t", KindCallFunction},
		{"null", "null", KindCallFunction},
		{"string", `"hello"`, KindCallFunction},
		{"garbage", `{"a":`, KindCallFunction},
		{"trailing garbage", `{"fileId":"x"} {`, KindCallFunction},
		{"headers wrong type", `{"httpMethod":"POST","path":"/v1/idcard","headers":{"a":{"b":1}}}`, KindFunctionURL},
		{"empty method", `{"httpMethod":" ","path":"/","headers":{}}`, KindFunctionURL},
		{"isBase64Encoded junk", `{"httpMethod":"POST","path":"/","headers":{},"isBase64Encoded":"maybe","requestContext":{"serviceId":"s"}}`, KindAPIGateway},
		{"timer wrong types", `{"Type":"Timer","TriggerName":"t","Time":5}`, KindTimer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tt.raw), false)
			if err == nil {
				t.Fatalf("DecodeEvent = %+v, want an error", ev)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind != tt.kind {
				t.Fatalf("error %v: kind %v, want %s", err, de, tt.kind)
			}
		})
	}
}

func TestDecodeEventTimerFromCallerIsData(t *testing.T) {
	// A Mini Program user sending timer-shaped data must not trigger a token refresh.
	ev, err := DecodeEvent(readEvent(t, "timer.json"), true)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindCallFunction {
		t.Fatalf("kind = %s, want callfunction", ev.Kind)
	}
}

func TestValuesForms(t *testing.T) {
	var v Values
	err := json.Unmarshal([]byte(`{"s":"x","a":["1","2"],"t":true,"f":false,"n":3.5,"z":null,"e":[]}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	want := Values{"s": {"x"}, "a": {"1", "2"}, "t": {""}, "n": {"3.5"}, "e": {}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v, want %#v", v, want)
	}
	for _, bad := range []string{`{"o":{}}`, `{"a":[["x"]]}`, `{"a":[{}]}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed events: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte(`{"Type":"Timer","TriggerName":"x"}`), true)
	f.Fuzz(func(t *testing.T, raw []byte, cloudCall bool) {
		ev, err := DecodeEvent(raw, cloudCall)
		valid := json.Valid(raw)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *DecodeError: %v", err)
			}
			trimmed := bytes.TrimSpace(raw)
			if valid && len(trimmed) > 0 && trimmed[0] == '{' && de.Kind == KindCallFunction {
				t.Fatalf("valid JSON object refused as a cloud call: %v", err)
			}
			return
		}
		if !valid {
			t.Fatal("invalid JSON accepted")
		}
		checkShape(t, ev)
		if cloudCall && ev.Kind == KindTimer {
			t.Fatal("a cloud call decoded as a timer")
		}
		if ev.Kind == KindCallFunction && !json.Valid(ev.Call) {
			t.Fatal("call data is not valid JSON")
		}
	})
}
