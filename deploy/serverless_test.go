package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wxocr/scf-idcard-ocr/config"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func componentSchema(t *testing.T) *Node {
	t.Helper()
	n, err := ComponentSchema(readFile(t, "testdata/tencent-scf/serverless.component.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func decodeYAML(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// path walks a decoded document: string steps index mappings, int steps index lists.
func path(t *testing.T, v any, steps ...any) any {
	t.Helper()
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not a mapping: %v", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: not a list that long: %v", k, v)
			}
			v = l[k]
		}
	}
	return v
}

// trigger returns the parameters of the first events item of type typ, or nil.
func trigger(inputs map[string]any, typ string) map[string]any {
	evs, _ := inputs["events"].([]any)
	for _, ev := range evs {
		m, _ := ev.(map[string]any)
		if t, ok := m[typ].(map[string]any); ok {
			p, _ := t["parameters"].(map[string]any)
			return p
		}
	}
	return nil
}

func wantNoErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Errorf("%s: %v", what, err)
	}
}

// Every variable the function reads is set in a deploy file (the CloudBase token variables
// are injected by the platform, not deployed).
func wantAllVars(t *testing.T, what string, vars map[string]any) {
	t.Helper()
	for _, v := range config.Vars() {
		if v.Name == "CLOUDBASE_ACCESS_TOKEN_FILE" || v.Name == "WX_CLOUDBASE_ACCESSTOKEN" {
			continue
		}
		// TENCENTCLOUD_* names are reserved on SCF: the platform sets them (role keys).
		if strings.HasPrefix(v.Name, "TENCENTCLOUD_") {
			continue
		}
		if _, ok := vars[v.Name]; !ok {
			t.Errorf("%s does not set %s", what, v.Name)
		}
	}
	for k := range vars {
		if !slices.ContainsFunc(config.Vars(), func(v config.Var) bool { return v.Name == k }) {
			t.Errorf("%s sets %s, which the function does not read", what, k)
		}
	}
}

func TestEventFunctionServerlessYML(t *testing.T) {
	b := readFile(t, "../serverless.yml")
	wantNoErrors(t, "serverless.yml", CheckServerless(componentSchema(t), b))

	in := path(t, decodeYAML(t, b), "inputs").(map[string]any)
	for k, want := range map[string]any{"type": "event", "runtime": "Go1", "handler": "main", "eip": true, "publicAccess": true} {
		if in[k] != want {
			t.Errorf("inputs.%s = %v, want %v", k, in[k], want)
		}
	}
	wantAllVars(t, "serverless.yml", path(t, in, "environment", "variables").(map[string]any))
	if path(t, in, "vpcConfig", "vpcId") == nil || path(t, in, "vpcConfig", "subnetId") == nil {
		t.Error("serverless.yml has no VPC (Redis lives in it)")
	}

	timer := trigger(in, "timer")
	if timer == nil || timer["enable"] != true {
		t.Fatalf("no enabled timer trigger: %v", timer)
	}
	// The handler recognises a timer by its event (Type: Timer) and refreshes the token.
	if timer["argument"] != "refresh-token" {
		t.Errorf("timer argument %v", timer["argument"])
	}

	// The Function URL's auth and network are explicit: the toolkit's defaults (both
	// networks off) would deploy an unreachable URL.
	url := trigger(in, "http")
	if url == nil {
		t.Fatal("no http (Function URL) trigger")
	}
	if url["authType"] != "NONE" {
		t.Errorf("Function URL authType %v: the function authenticates with API keys, so NONE", url["authType"])
	}
	nc, _ := url["netConfig"].(map[string]any)
	if nc["enableExtranet"] != true || nc["enableIntranet"] == nil {
		t.Errorf("Function URL netConfig not explicit: %v", nc)
	}

	// API Gateway, when used, passes uploads as base64.
	gw := trigger(in, "apigw")
	if gw == nil {
		t.Fatal("no apigw trigger option")
	}
	var idcard map[string]any
	for _, ep := range gw["endpoints"].([]any) {
		if m := ep.(map[string]any); m["path"] == "/v1/idcard" {
			idcard = m
		}
	}
	if idcard == nil || idcard["isBase64Encoded"] != true {
		t.Fatalf("POST /v1/idcard without base64 passing: %v", idcard)
	}
	if idcard["isBase64Trigger"] == true {
		var types []string
		for _, r := range idcard["base64EncodedTriggerRules"].([]any) {
			m := r.(map[string]any)
			if m["name"] == "Content_Type" {
				for _, v := range m["value"].([]any) {
					types = append(types, v.(string))
				}
			}
		}
		for _, want := range []string{"multipart/form-data", "image/jpeg", "image/png", "image/bmp", "image/webp"} {
			if !slices.Contains(types, want) {
				t.Errorf("base64 trigger rules miss Content-Type %s: %v", want, types)
			}
		}
	}
	for _, ep := range gw["endpoints"].([]any) {
		if f := path(t, ep, "function").(map[string]any); f["isIntegratedResponse"] != true {
			t.Errorf("endpoint %v without integrated response: the function answers {statusCode, headers, body}", path(t, ep, "path"))
		}
	}
}

func TestWebFunctionServerlessYML(t *testing.T) {
	b := readFile(t, "scf-web/serverless.yml")
	wantNoErrors(t, "scf-web/serverless.yml", CheckServerless(componentSchema(t), b))
	in := path(t, decodeYAML(t, b), "inputs").(map[string]any)
	if in["type"] != "web" || in["runtime"] != "Go1" {
		t.Errorf("type %v runtime %v, want web Go1", in["type"], in["runtime"])
	}
	if _, ok := in["handler"]; ok {
		t.Error("a web function has no handler: scf_bootstrap starts it")
	}
	if src, _ := path(t, in, "src", "src").(string); src != "../../dist-web" {
		t.Errorf("src %q, want the web build folder", src)
	}
	wantAllVars(t, "scf-web/serverless.yml", path(t, in, "environment", "variables").(map[string]any))
	if trigger(in, "http") == nil {
		t.Error("no Function URL")
	}
	if trigger(in, "timer") != nil {
		t.Error("a web function takes HTTP only; the timer belongs to the event function")
	}
}

// A typo in serverless.yml fails: each mutation of the real file must be reported.
func TestServerlessTyposFail(t *testing.T) {
	schema := componentSchema(t)
	base := readFile(t, "../serverless.yml")
	cases := []struct {
		name   string
		mutate func(doc map[string]any)
		want   string
	}{
		{"runtime name", func(d map[string]any) { d["inputs"].(map[string]any)["runtime"] = "Golang1" }, "Golang1 is not one of"},
		{"misspelt input", func(d map[string]any) { in := d["inputs"].(map[string]any); in["memorysize"] = in["memorySize"] }, `unknown key "memorysize"`},
		{"memory not on the 128 MB grid", func(d map[string]any) { d["inputs"].(map[string]any)["memorySize"] = 100 }, "100 is not one of"},
		{"function type", func(d map[string]any) { d["inputs"].(map[string]any)["type"] = "http" }, "http is not one of"},
		{"trigger type", func(d map[string]any) {
			evs := d["inputs"].(map[string]any)["events"].([]any)
			evs[1] = map[string]any{"htttp": evs[1].(map[string]any)["http"]}
		}, `unknown key "htttp"`},
		{"5-field cron", func(d map[string]any) { setTimerCron(d, "*/30 * * * *") }, "has 5 fields"},
		{"second out of range", func(d map[string]any) { setTimerCron(d, "61 */30 * * * * *") }, "61 is outside 0-59"},
		{"Function URL auth", func(d map[string]any) { httpParams(d)["authType"] = "OPEN" }, "OPEN is not one of"},
		{"Function URL net key", func(d map[string]any) { httpParams(d)["netConfig"].(map[string]any)["enableInternet"] = true }, `unknown key "enableInternet"`},
		{"base64 rule header", func(d map[string]any) {
			idcardEndpoint(d)["base64EncodedTriggerRules"].([]any)[0].(map[string]any)["name"] = "Content-Type"
		}, "Content-Type is not one of"},
		{"apigw method", func(d map[string]any) { idcardEndpoint(d)["method"] = "FETCH" }, "FETCH is not one of"},
		{"timeout type", func(d map[string]any) { d["inputs"].(map[string]any)["timeout"] = "15s" }, "want a number"},
		{"vpc key", func(d map[string]any) { d["inputs"].(map[string]any)["vpcConfig"].(map[string]any)["vpc"] = "x" }, `unknown key "vpc"`},
		{"top-level key", func(d map[string]any) { d["input"] = d["inputs"] }, `unknown top-level key "input"`},
		{"component", func(d map[string]any) { d["component"] = "tencent-scf" }, "want scf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := decodeYAML(t, base)
			c.mutate(doc)
			b, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			errs := CheckServerless(schema, b)
			for _, err := range errs {
				if strings.Contains(err.Error(), c.want) {
					return
				}
			}
			t.Fatalf("no error containing %q; got %v", c.want, errs)
		})
	}
}

func setTimerCron(d map[string]any, cron string) {
	for _, ev := range d["inputs"].(map[string]any)["events"].([]any) {
		if tm, ok := ev.(map[string]any)["timer"].(map[string]any); ok {
			tm["parameters"].(map[string]any)["cronExpression"] = cron
		}
	}
}

func httpParams(d map[string]any) map[string]any {
	for _, ev := range d["inputs"].(map[string]any)["events"].([]any) {
		if h, ok := ev.(map[string]any)["http"].(map[string]any); ok {
			return h["parameters"].(map[string]any)
		}
	}
	panic("no http trigger")
}

func idcardEndpoint(d map[string]any) map[string]any {
	for _, ev := range d["inputs"].(map[string]any)["events"].([]any) {
		if g, ok := ev.(map[string]any)["apigw"].(map[string]any); ok {
			for _, ep := range g["parameters"].(map[string]any)["endpoints"].([]any) {
				if m := ep.(map[string]any); m["path"] == "/v1/idcard" {
					return m
				}
			}
		}
	}
	panic("no /v1/idcard endpoint")
}

// The published schema itself is read as the component reads it: Go1 is an allowed
// runtime, 64 MB the smallest memory size, and the Function URL trigger is not in it (which
// is why the supplement carries it, with its source).
func TestPublishedComponentSchemaAsRead(t *testing.T) {
	n, err := ParseComponentSchema(readFile(t, "testdata/tencent-scf/serverless.component.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !allowed(n.Keys["runtime"].Allow, "Go1") || allowed(n.Keys["runtime"].Allow, "Golang1") {
		t.Errorf("runtime allow list %v", n.Keys["runtime"].Allow)
	}
	if m := n.Keys["memorySize"]; *m.Min != 64 || !allowed(m.Allow, 64) {
		t.Errorf("memorySize %+v", m)
	}
	if _, ok := n.Keys["events"].Items.Keys["http"]; ok {
		t.Error("the published 0.9.x schema now lists http: drop it from componentSupplement")
	}
	if re := n.Keys["name"].Regex; !re.MatchString("idcard-ocr") || re.MatchString("1bad") {
		t.Errorf("name regex %v", re)
	}
}

func TestCron(t *testing.T) {
	for _, ok := range []string{"0 */30 * * * * *", "0 0 2 1 * * *", "0 15 10 * * MON-FRI *", "0 0 */2 * JAN,JUL * 2026-2030", "59 59 23 31 12 6 2099"} {
		if err := CheckCron(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "*/5 * * * *", "0 */30 * * * *", "0 */30 * * * * * *", "60 * * * * * *", "0 0 24 * * * *", "0 0 0 0 * * *", "0 0 0 * 13 * *", "0 0 0 * * 7 *", "0 0 0 * * * 1969", "0 */0 * * * * *", "0 5-1 * * * * *", "0 1,,2 * * * * *", "0 x * * * * *"} {
		if err := CheckCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
