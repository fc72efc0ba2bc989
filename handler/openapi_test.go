package handler

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// TestOpenAPIDocumentsEveryCode keeps docs/openapi.yaml in step with apperr: every code is in
// the error table with its HTTP status and in the ErrorCode enum, and no unknown code is.
func TestOpenAPIDocumentsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if strings.Contains(doc, "\t") {
		t.Error("openapi.yaml contains a tab (invalid YAML indentation)")
	}
	table := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\s*\\| `([A-Z_]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(doc, -1) {
		table[m[1]], _ = strconv.Atoi(m[2])
	}
	enumStart := strings.Index(doc, "    ErrorCode:")
	if enumStart < 0 {
		t.Fatal("no ErrorCode schema")
	}
	enum := map[string]bool{}
	for _, line := range strings.Split(doc[enumStart:], "\n")[3:] {
		item, ok := strings.CutPrefix(line, "        - ")
		if !ok {
			break
		}
		enum[item] = true
	}
	known := map[string]bool{}
	for _, c := range apperr.Codes() {
		known[string(c)] = true
		if st, ok := table[string(c)]; !ok {
			t.Errorf("%s missing from the error table", c)
		} else if st != c.Status() {
			t.Errorf("%s documented as %d, code says %d", c, st, c.Status())
		}
		if !enum[string(c)] {
			t.Errorf("%s missing from the ErrorCode enum", c)
		}
	}
	for c := range table {
		if !known[c] {
			t.Errorf("the table documents unknown code %s", c)
		}
	}
	for c := range enum {
		if !known[c] {
			t.Errorf("the enum lists unknown code %s", c)
		}
	}
	for _, p := range []string{"/v1/idcard:", "/healthz:", "/v1/token/refresh:"} {
		if !strings.Contains(doc, "\n  "+p) {
			t.Errorf("path %s not documented", p)
		}
	}
}
