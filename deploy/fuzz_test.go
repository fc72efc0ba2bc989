package deploy

import (
	"strings"
	"testing"
)

// The cron checker and the Dockerfile parser take text a person edits: any input gets an
// answer, never a panic, and an accepted cron has exactly seven fields.
func FuzzCheckCron(f *testing.F) {
	for _, s := range []string{"0 */30 * * * * *", "*/5 * * * *", "0 0 0 * JAN-DEC MON 2026", "1,,2", "-", "*/", "5-", "0 0 0 * * * 2099/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckCron(s) == nil && len(strings.Fields(s)) != 7 {
			t.Fatalf("%q accepted with %d fields", s, len(strings.Fields(s)))
		}
	})
}

func FuzzParseDockerfile(f *testing.F) {
	f.Add("FROM golang AS b\nRUN a \\\n b\nFROM alpine\nUSER 1:1\nCMD [\"x\"]\n")
	f.Add("ARG V\nFROM a\nENV A=1 B=\"2\"\n")
	f.Add("FROM a\nRUN x \\")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDockerfile([]byte(s))
		if err != nil {
			return
		}
		final := d.Final()
		for _, cmd := range []string{"CMD", "ENTRYPOINT"} {
			if in, ok := final.Last(cmd); ok {
				_, _ = ExecForm(in)
			}
		}
		_, _ = final.Env()
	})
}
