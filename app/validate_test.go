package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// validateNow is 2025-06-15 in China.
var validateNow = time.Date(2025, 6, 15, 4, 0, 0, 0, time.UTC)

func runV(t *testing.T, stdin string, args ...string) (code int, lines []map[string]any, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runValidate(args, strings.NewReader(stdin), &out, &errb, validateNow)
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return code, lines, errb.String()
}

func TestValidateArgs(t *testing.T) {
	code, lines, _ := runV(t, "", "440305199505132561", "11010519491231002X")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines", code, len(lines))
	}
	l := lines[0]
	want := map[string]any{"input": "440305199505132561", "valid": true, "documentType": "resident_id",
		"idNumber": "440305199505132561", "birthDate": "1995-05-13", "gender": "female", "age": 30.0}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	if r, _ := l["region"].(map[string]any); r["name"] != "广东省深圳市南山区" {
		t.Errorf("region = %v", l["region"])
	}
	for _, k := range []string{"legacyNumber", "checks", "verdict"} {
		if _, ok := l[k]; ok {
			t.Errorf("unexpected %s in %v", k, l)
		}
	}
	if p, _ := l["problems"].([]any); p == nil || len(p) != 0 {
		t.Errorf("problems = %#v, want []", l["problems"])
	}
}

func TestValidateStdinAndExitCodes(t *testing.T) {
	code, lines, _ := runV(t, "440305950513256\r\n\n  371002200610020000 \n")
	if code != 1 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines; want 1, 2", code, len(lines))
	}
	if lines[0]["legacyNumber"] != "440305950513256" || lines[0]["idNumber"] != "440305199505132561" || lines[0]["valid"] != true {
		t.Errorf("legacy line = %v", lines[0])
	}
	if p, _ := lines[1]["problems"].([]any); len(p) != 1 || p[0] != "checksum" || lines[1]["valid"] != false {
		t.Errorf("checksum line = %v", lines[1])
	}
}

func TestValidateValidDate(t *testing.T) {
	code, lines, _ := runV(t, "", "--valid-date", "2021.03.01-2031.03.01", "440305199505132561")
	if code != 0 || len(lines) != 1 {
		t.Fatalf("exit %d, %d lines", code, len(lines))
	}
	if lines[0]["verdict"] != "pass" {
		t.Errorf("verdict = %v", lines[0]["verdict"])
	}
	checks, _ := lines[0]["checks"].([]any)
	if len(checks) != 9 {
		t.Fatalf("checks = %v", lines[0]["checks"])
	}
	for _, c := range checks {
		if c.(map[string]any)["name"] == "front_complete" {
			t.Errorf("front_complete reported for a number-only card: %v", checks)
		}
	}
	// a 20-year period at 25 fails the span check: the verdict says so, the exit status
	// reports the numbers only
	code, lines, _ = runV(t, "", "--valid-date", "20210301-20410301", "440305199505132561")
	if code != 0 || lines[0]["verdict"] != "reject" {
		t.Errorf("exit %d verdict %v, want 0 reject", code, lines[0]["verdict"])
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{{"--valid-date", "soon", "440305199505132561"}, {"--nope"}, {}} {
		code, lines, stderr := runV(t, "", args...)
		if code != 2 || len(lines) != 0 || stderr == "" {
			t.Errorf("%v: exit %d, %d lines, stderr %q; want 2, none, a message", args, code, len(lines), stderr)
		}
	}
	var out, errb bytes.Buffer
	if code := cmdValidate([]string{"--help"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "-valid-date") || errb.Len() != 0 {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestValidateIssue7 runs the numbers of issue 7 through the command as a user would.
func TestValidateIssue7(t *testing.T) {
	code, lines, _ := runV(t, "", "440301199001010012", "999999199001011238", "911398199012310021", "110201199312010077")
	if code != 1 || len(lines) != 4 {
		t.Fatalf("exit %d, %d lines; want 1 (one invalid), 4", code, len(lines))
	}
	if lines[0]["valid"] != true || lines[0]["region"].(map[string]any)["name"] != "广东省深圳市市辖区" {
		t.Errorf("440301: %v", lines[0])
	}
	if p, _ := lines[1]["problems"].([]any); lines[1]["valid"] != false || len(p) != 2 || p[0] != "region_unknown" || p[1] != "nationality_unknown" {
		t.Errorf("999999…: %v", lines[1])
	}
	if n, _ := lines[2]["nationality"].(map[string]any); n["alpha3"] != "KAZ" || n["numeric"] != "398" || lines[2]["valid"] != true {
		t.Errorf("911398…: %v", lines[2])
	}
	if w, _ := lines[3]["warnings"].([]any); len(w) != 1 || w[0] != "region_retired_before_birth" {
		t.Errorf("110201…: %v", lines[3])
	}
	if lines[0]["nationality"] != nil {
		t.Errorf("a resident number has a nationality: %v", lines[0])
	}
}
