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
