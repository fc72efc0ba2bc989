package deploy

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's build commands write the binaries where the deploy files pick them up, and
// its cron is the files' cron.
func TestReadmeBuildMatchesDeployFiles(t *testing.T) {
	readme := string(readFile(t, "../README.md"))
	for _, out := range []string{
		"-o dist/main .", // serverless.yml src: ./dist, handler main
		"-o dist-web/main . && cp scf_bootstrap dist-web/", // deploy/scf-web src: ../../dist-web
		"-o dist/cloudbase/idcard-ocr/main .",              // cloudbaserc functionRoot ./dist/cloudbase, name idcard-ocr
	} {
		if !strings.Contains(readme, out) {
			t.Errorf("README's build commands lack %q", out)
		}
	}
	for _, f := range []string{"../serverless.yml", "../cloudbaserc.json"} {
		if !strings.Contains(string(readFile(t, f)), "0 */30 * * * * *") {
			t.Errorf("%s: the timer is not the README's `0 */30 * * * * *`", f)
		}
	}
	if !strings.Contains(readme, "`0 */30 * * * * *`") {
		t.Error("README does not give the timer's cron")
	}
	for _, cmd := range []string{"scf deploy", "cd deploy/scf-web && scf deploy", "tcb fn deploy idcard-ocr", "wx.cloud.callContainer", "wx.cloud.callFunction", "sizeType: ['compressed']"} {
		if !strings.Contains(readme, cmd) {
			t.Errorf("README's Deploy section lacks %q", cmd)
		}
	}
	if strings.Contains(readme, "sls deploy") {
		t.Error("README still tells users to run sls deploy")
	}
}

// The image builds with the Go version go.mod asks for.
func TestDockerfileGoVersionMatchesGoMod(t *testing.T) {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readFile(t, "../go.mod"))
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	build := dockerfile(t).Stages[0].Image
	if want := "golang:" + string(m[1]) + "-"; !strings.HasPrefix(build, want) {
		t.Errorf("build image %q, go.mod needs go %s (want %s…)", build, m[1], want)
	}
}

// .dockerignore keeps nothing out of the build context that the build needs: every Go file and
// embedded file of the main package's dependencies in this module, go.mod and go.sum.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	var patterns []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "../.dockerignore")))
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" && !strings.HasPrefix(p, "#") {
			patterns = append(patterns, p)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}{{end}}{{end}}{{end}}`, ".")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"go.mod", "go.sum"}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		dir, rest, _ := strings.Cut(line, "|")
		goFiles, embeds, _ := strings.Cut(rest, "|")
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Split(goFiles+","+embeds, ",") {
			if f != "" {
				inputs = append(inputs, filepath.ToSlash(filepath.Join(rel, f)))
			}
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("only %d build inputs listed: %v", len(inputs), inputs)
	}
	for _, in := range inputs {
		for _, p := range patterns {
			// Docker matches each pattern against the path and its parent directories.
			for dir := in; dir != "."; dir = filepath.Dir(dir) {
				if ok, _ := filepath.Match(p, dir); ok {
					t.Errorf(".dockerignore pattern %q excludes build input %s", p, in)
				}
			}
		}
	}
}
