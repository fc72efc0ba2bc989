package idcard

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vectorNow is the fixed date the outside vectors are judged at (ages and "future" births
// depend on it).
var vectorNow = time.Date(2026, 1, 1, 0, 0, 0, 0, cst)

// TestOutsideVectors runs the ID-number vectors taken from other projects' test suites
// (testdata/idnumbers, see its README): every number must get exactly the validity, problems
// and warnings recorded, every file must name its source and licence, and every
// disagreement with the project's own expectation must carry a judgement.
func TestOutsideVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/idnumbers/*.tsv")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		haveSource, haveLicence, n := false, false, 0
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			switch {
			case strings.HasPrefix(text, "# Source: https://github.com/"):
				haveSource = true
				continue
			case strings.HasPrefix(text, "# Licence: "):
				haveLicence = true
				continue
			case strings.HasPrefix(text, "#"), text == "":
				continue
			}
			cols := strings.Split(text, "\t")
			if len(cols) != 4 {
				t.Errorf("%s:%d: want 4 tab-separated columns, got %d", path, line, len(cols))
				continue
			}
			n++
			number, theirs, ours, judgement := cols[0], cols[1], strings.Fields(cols[2]), cols[3]
			a := Analyze(number, vectorNow)
			valid := "invalid"
			if a.Valid() {
				valid = "valid"
			}
			got := append([]string{valid}, append(a.Problems.Strings(), a.Warnings.Strings()...)...)
			if strings.Join(got, " ") != strings.Join(ours, " ") {
				t.Errorf("%s:%d: %s: Analyze says %v, the file records %v", path, line, Mask(number), got, ours)
			}
			switch theirs {
			case "valid", "invalid":
				if theirs != ours[0] && strings.TrimSpace(judgement) == "" {
					t.Errorf("%s:%d: %s: theirs %s, ours %s, and no judgement recorded", path, line, Mask(number), theirs, ours[0])
				}
			case "none":
			default:
				t.Errorf("%s:%d: theirs %q is not valid, invalid or none", path, line, theirs)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !haveSource || !haveLicence {
			t.Errorf("%s: header must name the source (# Source: https://github.com/…) and the licence (# Licence: …)", path)
		}
		if n == 0 {
			t.Errorf("%s: no vectors", path)
		}
		total += n
	}
	// issue 7's proof: at least 150 vectors from at least 4 independent projects
	if total < 150 || len(files) < 4 {
		t.Errorf("%d vectors in %d files; want at least 150 from at least 4 projects", total, len(files))
	}
}
