package events

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// callData stands for a caller's struct that inlines an Event next to its cloud-call data.
type callData struct {
	Event  `json:",inline"`
	FileID string `json:"fileId"`
	Side   string `json:"side"`
}

// The invocation contexts the platforms send, as scf-go-lib hands them over.
var (
	noContext      = NewInvocation("", nil)
	cloudCaller    = NewInvocation("c1", map[string]string{"WX_OPENID": "oX3Vd5Kq1lG2hJ8sT0uW9yZbC4aE", "WX_APPID": "wx0123456789abcdef", "WX_CLIENTIP": "203.0.113.9", "WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID,WX_CLIENTIP"})
	cloudBaseTimer = NewInvocation("t1", map[string]string{"TRIGGER_SRC": "timer", "WX_CONTEXT_KEYS": "WX_API_TOKEN", "WX_API_TOKEN": "tok"})
)

func TestDecodeFiles(t *testing.T) {
	tests := []struct {
		file  string
		inv   Invocation
		kind  Kind
		check func(t *testing.T, ev *callData)
	}{
		{"apigw-post-idcard.json", noContext, KindAPIGateway, func(t *testing.T, ev *callData) {
			h := ev.HTTPRequest
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
		{"apigw-base64-body.json", noContext, KindAPIGateway, func(t *testing.T, ev *callData) {
			if !ev.IsBase64Encoded {
				t.Error("isBase64Encoded not decoded")
			}
		}},
		{"apigw-multipart-base64.json", noContext, KindAPIGateway, func(t *testing.T, ev *callData) {
			if !bool(ev.IsBase64Encoded) || !strings.HasPrefix(ev.Headers.Get("Content-Type"), "multipart/form-data; boundary=") {
				t.Errorf("isBase64Encoded %v, content type %q", ev.IsBase64Encoded, ev.Headers.Get("Content-Type"))
			}
		}},
		{"apigw-querystring-variants.json", noContext, KindAPIGateway, func(t *testing.T, ev *callData) {
			want := Values{"verbose": {""}, "lang": {"zh_CN"}, "tag": {"a", "b"}, "page": {"2"}}
			if !reflect.DeepEqual(ev.QueryString, want) {
				t.Errorf("queryString = %#v, want %#v", ev.QueryString, want)
			}
		}},
		{"function-url-post.json", noContext, KindFunctionURL, func(t *testing.T, ev *callData) {
			if ev.RequestContext != nil {
				t.Error("function URL event has a requestContext")
			}
			if got := ev.Headers.Get("X-SCF-Remote-Addr"); got != "203.0.113.7:52144" {
				t.Errorf("x-scf-remote-addr = %q", got)
			}
		}},
		{"cloudbase-http.json", noContext, KindCloudBaseHTTP, func(t *testing.T, ev *callData) {
			rc := ev.RequestContext
			if rc.EnvID != "prod-4g8a2c1f" || rc.AppID != "1316000000" || rc.Uin != "100012345678" {
				t.Errorf("requestContext = %+v", rc)
			}
		}},
		{"timer.json", noContext, KindTimer, func(t *testing.T, ev *callData) {
			if ev.TriggerName != "token-refresh" || ev.Time != "2026-11-26T13:30:00Z" || ev.Message != "refresh" {
				t.Errorf("timer = %+v", ev.Timer)
			}
		}},
		// CloudBase says "timer" in the invocation context, with WX_CONTEXT_KEYS set.
		{"timer.json", cloudBaseTimer, KindTimer, nil},
		{"callfunction-fileid.json", cloudCaller, KindCallFunction, func(t *testing.T, ev *callData) {
			if !strings.HasPrefix(ev.FileID, "cloud://") || ev.Side != "front" {
				t.Errorf("data = %+v", ev)
			}
		}},
		{"callfunction-imageurl.json", cloudCaller, KindCallFunction, nil},
		{"callfunction-both-sides.json", cloudCaller, KindCallFunction, nil},
		{"callfunction-legacy-userinfo.json", noContext, KindCallFunction, nil},
		// Malformed request data is still a cloud call; the service refuses it later.
		{"malformed-callfunction-two-images.json", cloudCaller, KindCallFunction, nil},
		{"malformed-callfunction-bad-base64.json", cloudCaller, KindCallFunction, nil},
		{"malformed-callfunction-unknown-side.json", cloudCaller, KindCallFunction, nil},
		// A bad base64 or JSON body is found when the body is read, not when decoding.
		{"malformed-apigw-bad-base64.json", noContext, KindAPIGateway, nil},
		{"malformed-apigw-bad-json-body.json", noContext, KindAPIGateway, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var ev callData
			kind, err := Decode(readEvent(t, tt.file), &ev, tt.inv)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if kind != tt.kind {
				t.Fatalf("kind = %s, want %s", kind, tt.kind)
			}
			if tt.check != nil {
				tt.check(t, &ev)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		kind Kind
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
		{"duplicate name", `{"fileId":"x","fileId":"y"}`, KindCallFunction},
		{"invalid UTF-8", "{\"fileId\":\"\xff\"}", KindCallFunction},
		{"headers wrong type", `{"httpMethod":"POST","path":"/v1/idcard","headers":{"a":{"b":1}}}`, KindFunctionURL},
		{"blank method", `{"httpMethod":" ","path":"/","headers":{}}`, KindFunctionURL},
		{"isBase64Encoded junk", `{"httpMethod":"POST","path":"/","headers":{},"isBase64Encoded":"maybe","requestContext":{"serviceId":"s"}}`, KindAPIGateway},
		{"cloudbase appId object", `{"httpMethod":"POST","path":"/","headers":{},"requestContext":{"envId":"e","appId":{}}}`, KindAPIGateway},
		{"timer wrong types", `{"Type":"Timer","TriggerName":"t","Time":5}`, KindTimer},
		{"data field wrong type", `{"fileId":5}`, KindCallFunction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev callData
			kind, err := Decode([]byte(tt.raw), &ev, noContext)
			if err == nil {
				t.Fatalf("Decode = %s %+v, want an error", kind, ev)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind != tt.kind || kind != tt.kind {
				t.Fatalf("error %v: kind %s / %v, want %s", err, kind, de, tt.kind)
			}
		})
	}
}

// A Mini Program user's data never passes for a timer, whatever it looks like; without a
// caller a timer is recognised only by its own marks, not by the missing caller.
func TestTimerRecognition(t *testing.T) {
	timer := readEvent(t, "timer.json")
	for _, tt := range []struct {
		name  string
		event string
		inv   Invocation
		want  Kind
	}{
		{"SCF timer", string(timer), noContext, KindTimer},
		{"CloudBase timer", string(timer), cloudBaseTimer, KindTimer},
		{"CloudBase timer, any event", `{}`, cloudBaseTimer, KindTimer},
		{"timer-shaped data from a caller", string(timer), cloudCaller, KindCallFunction},
		{"timer-shaped data from a caller, TRIGGER_SRC too", string(timer), NewInvocation("", map[string]string{"WX_OPENID": "o", "TRIGGER_SRC": "timer"}), KindCallFunction},
		{"resource-sharing caller", string(timer), NewInvocation("", map[string]string{"WX_FROM_OPENID": "o"}), KindCallFunction},
		{"no caller, not a timer", `{"fileId":"cloud://a.b/c"}`, noContext, KindCallFunction},
		{"no caller, WX_CONTEXT_KEYS only", `{"fileId":"cloud://a.b/c"}`, NewInvocation("", map[string]string{"WX_CONTEXT_KEYS": "WX_API_TOKEN"}), KindCallFunction},
		{"Type Timer without a trigger name", `{"Type":"Timer"}`, noContext, KindCallFunction},
		{"other TRIGGER_SRC", `{}`, NewInvocation("", map[string]string{"TRIGGER_SRC": "tcb"}), KindCallFunction},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kind, err := Decode([]byte(tt.event), &Event{}, tt.inv)
			if err != nil || kind != tt.want {
				t.Fatalf("kind %s (%v), want %s", kind, err, tt.want)
			}
		})
	}
}

func TestNewInvocation(t *testing.T) {
	inv := NewInvocation("r", map[string]string{"WX_OPENID": "o", "WX_APPID": "a", "WX_UNIONID": "u", "WX_CLIENTIP": "1.2.3.4", "WX_CONTEXT_KEYS": "WX_OPENID, WX_APPID,,", "TRIGGER_SRC": "timer"})
	want := Invocation{RequestID: "r", OpenID: "o", AppID: "a", UnionID: "u", ClientIP: "1.2.3.4", TriggerSource: "timer", ContextKeys: []string{"WX_OPENID", "WX_APPID"}}
	if !reflect.DeepEqual(inv, want) {
		t.Fatalf("got %+v, want %+v", inv, want)
	}
	if !inv.HasCaller() || !inv.IsTimer() {
		t.Error("caller/timer not reported")
	}
	if NewInvocation("", map[string]string{"WX_APPID": "a"}).HasCaller() {
		t.Error("an app ID alone taken for a caller")
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
	if got := (Values{"Content-Type": {"a"}}).Get("content-type"); got != "a" {
		t.Errorf("Get is case-sensitive: %q", got)
	}
}

func TestStringAndBool(t *testing.T) {
	var rc RequestContext
	if err := json.Unmarshal([]byte(`{"appId":1316000000,"uin":"100","envId":null}`), &rc); err != nil || rc.AppID != "1316000000" || rc.Uin != "100" || rc.EnvID != "" {
		t.Fatalf("%+v %v", rc, err)
	}
	for _, bad := range []string{`{"appId":true}`, `{"appId":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &rc); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	for in, want := range map[string]Bool{`true`: true, `false`: false, `"true"`: true, `"False"`: false, `""`: false, `null`: false, `"1"`: true} {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err != nil || b != want {
			t.Errorf("%s: %v %v", in, b, err)
		}
	}
	for _, bad := range []string{`"maybe"`, `1`, `{}`} {
		var b Bool
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzDecode: any event, with or without a caller, decodes or fails with a *DecodeError;
// a cloud call is never a timer; a valid JSON object whose fields have their documented
// types is never refused.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed events: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false, false)
	}
	f.Add([]byte(`{"Type":"Timer","TriggerName":"x"}`), true, false)
	f.Add([]byte(`{}`), false, true)
	f.Fuzz(func(t *testing.T, raw []byte, caller, cloudBaseTimer bool) {
		env := map[string]string{}
		if caller {
			env["WX_OPENID"] = "o"
		}
		if cloudBaseTimer {
			env["TRIGGER_SRC"], env["WX_CONTEXT_KEYS"] = "timer", "WX_API_TOKEN"
		}
		var ev callData
		kind, err := Decode(raw, &ev, NewInvocation("", env))
		if caller && kind == KindTimer {
			t.Fatal("a cloud call decoded as a timer")
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind != kind {
				t.Fatalf("error %v is not a *DecodeError of kind %s", err, kind)
			}
			return
		}
		if !jsontext.Value(bytes.Clone(raw)).IsValid() {
			t.Fatal("invalid JSON accepted")
		}
		if kind.IsHTTP() && strings.TrimSpace(ev.HTTPMethod) == "" {
			t.Fatal("HTTP event without a method")
		}
	})
}
