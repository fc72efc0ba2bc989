package app

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/config"
)

// The README and serverless.yml are the front door: every variable the function reads and
// every error code it returns must be documented there.
func TestDocsCoverConfigAndErrors(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sls, err := os.ReadFile("../serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars() {
		if !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
		// CloudBase's token variables are injected by CloudBase itself, not deployed.
		if v.Name == "CLOUDBASE_ACCESS_TOKEN_FILE" || v.Name == "WX_CLOUDBASE_ACCESSTOKEN" {
			continue
		}
		// TENCENTCLOUD_* names are reserved on SCF: the platform sets them (role keys).
		if strings.HasPrefix(v.Name, "TENCENTCLOUD_") {
			continue
		}
		if !strings.Contains(string(sls), "      "+v.Name+":") {
			t.Errorf("serverless.yml does not set %s", v.Name)
		}
	}
	for _, c := range apperr.Codes() {
		row := "| `" + string(c) + "` | " + strconv.Itoa(c.Status()) + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md error table lacks the row %q", row)
		}
	}
}

// section returns the README text under heading, up to the next heading of its level or a
// higher one.
func section(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q", heading)
	}
	level := strings.Index(heading, " ")
	lines := strings.Split(readme[i+len(heading)+2:], "\n")
	fenced := false // a "# comment" in a shell example is no heading
	for j, line := range lines {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if n := len(line) - len(strings.TrimLeft(line, "#")); !fenced && n > 0 && n <= level && strings.HasPrefix(line[n:], " ") {
			lines = lines[:j]
			break
		}
	}
	return strings.Join(lines, "\n")
}

// tableRows returns the cells of each "| `NAME` | ..." row in text, by NAME.
func tableRows(text string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[0], "`")] = cells[1:]
	}
	return rows
}

// The README's Configuration table is config.Vars(), no more and no less: each variable with
// its default ("—" for none) and its description (the one --help and --print-config use; the
// README may add code quotes).
func TestREADMEConfigurationTableIsConfigVars(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := tableRows(section(t, string(readme), "## Configuration"))
	known := map[string]bool{}
	for _, v := range config.Vars() {
		known[v.Name] = true
		row, ok := rows[v.Name]
		if !ok || len(row) != 2 {
			t.Errorf("%s: no row of 3 cells in README's Configuration table", v.Name)
			continue
		}
		def := v.Default
		if def == "" {
			def = "—"
		}
		if row[0] != def {
			t.Errorf("%s: README's default is %q, config's is %q", v.Name, row[0], def)
		}
		if desc := strings.ReplaceAll(row[1], "`", ""); desc != v.Description {
			t.Errorf("%s: README says\n\t%s\nconfig says\n\t%s", v.Name, desc, v.Description)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README's Configuration table documents %s, which config does not read", name)
		}
	}
}

// The README's error table lists the codes of apperr and nothing else (apperr's own test
// checks each code's status and retryability against it).
func TestREADMEErrorTableHasNoUnknownCode(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := tableRows(section(t, string(readme), "### Errors"))
	if len(rows) == 0 {
		t.Fatal("no rows in README's error table")
	}
	known := map[string]bool{}
	for _, c := range apperr.Codes() {
		known[string(c)] = true
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README's error table documents %s, which apperr does not define", name)
		}
	}
}
