package deploy

import (
	"encoding/json"
	"strings"
	"testing"
)

func cloudbaseSchema(t *testing.T) *Node {
	t.Helper()
	n, err := CloudBaseSchema(readFile(t, "testdata/cloudbase-cli/cloudbaserc.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCloudBaseRC(t *testing.T) {
	b := readFile(t, "../cloudbaserc.json")
	wantNoErrors(t, "cloudbaserc.json", CheckCloudBase(cloudbaseSchema(t), b))

	var rc struct {
		EnvID        string `json:"envId"`
		FunctionRoot string `json:"functionRoot"`
		Functions    []struct {
			Name, Runtime, Handler string
			MemorySize             int
			Timeout                int
			EnvVariables           map[string]any
			Triggers               []struct{ Name, Type, Config string }
		}
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	// The function must live in the environment's namespace (tcb deploys there, named by
	// envId), or wx.cloud.callFunction cannot reach it.
	if rc.EnvID != "{{env.ENV_ID}}" {
		t.Errorf("envId %q: take it from the environment (.env or -e)", rc.EnvID)
	}
	if len(rc.Functions) != 1 {
		t.Fatalf("%d functions", len(rc.Functions))
	}
	f := rc.Functions[0]
	if f.Runtime != "Go1" || f.Handler != "main" {
		t.Errorf("runtime %q handler %q", f.Runtime, f.Handler)
	}
	// The README's build command writes the binary where tcb packs the function from.
	if rc.FunctionRoot != "./dist/cloudbase" || f.Name != "idcard-ocr" {
		t.Errorf("functionRoot %q name %q: the README builds dist/cloudbase/idcard-ocr/main", rc.FunctionRoot, f.Name)
	}
	if f.MemorySize != 128 || f.Timeout < 15 {
		t.Errorf("memorySize %d timeout %d", f.MemorySize, f.Timeout)
	}
	if len(f.Triggers) != 1 || f.Triggers[0].Type != "timer" || f.Triggers[0].Config != "0 */30 * * * * *" {
		t.Errorf("triggers %+v", f.Triggers)
	}
	wantAllVars(t, "cloudbaserc.json", f.EnvVariables)
}

func TestCloudBaseRCTyposFail(t *testing.T) {
	schema := cloudbaseSchema(t)
	base := readFile(t, "../cloudbaserc.json")
	cases := []struct {
		name   string
		mutate func(fn map[string]any, doc map[string]any)
		want   string
	}{
		{"runtime", func(fn, _ map[string]any) { fn["runtime"] = "Go 1" }, "Go 1 is not one of"},
		{"memory size", func(fn, _ map[string]any) { fn["memorySize"] = 64 }, "64 is not one of"},
		{"timeout", func(fn, _ map[string]any) { fn["timeout"] = 900 }, "above the maximum 60"},
		{"misspelt key", func(fn, _ map[string]any) { fn["envVariable"] = fn["envVariables"] }, `unknown key "envVariable"`},
		{"trigger type", func(fn, _ map[string]any) { fn["triggers"].([]any)[0].(map[string]any)["type"] = "http" }, "http is not one of"},
		{"trigger cron", func(fn, _ map[string]any) { fn["triggers"].([]any)[0].(map[string]any)["config"] = "*/30 * * * *" }, "has 5 fields"},
		{"trigger without name", func(fn, _ map[string]any) { delete(fn["triggers"].([]any)[0].(map[string]any), "name") }, `required key "name"`},
		{"vpc half set", func(fn, _ map[string]any) { delete(fn["vpc"].(map[string]any), "subnetId") }, `required key "subnetId"`},
		{"partial template", func(fn, _ map[string]any) {
			fn["envVariables"].(map[string]any)["TOKEN_STORE"] = "redis://{{env.REDIS}}/0"
		}, "not a whole"},
		{"no envId", func(_, d map[string]any) { delete(d, "envId") }, `required key "envId"`},
		{"version", func(_, d map[string]any) { d["version"] = "3.0" }, "3.0 is not one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(base, &doc); err != nil {
				t.Fatal(err)
			}
			c.mutate(doc["functions"].([]any)[0].(map[string]any), doc)
			b, _ := json.Marshal(doc)
			errs := CheckCloudBase(schema, b)
			for _, err := range errs {
				if strings.Contains(err.Error(), c.want) {
					return
				}
			}
			t.Fatalf("no error containing %q; got %v", c.want, errs)
		})
	}
}
