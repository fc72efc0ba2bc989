package apperr

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// README's error table is the contract: every code is a row, with this package's HTTP status
// and retryability.
func TestREADMEErrorTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 6 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[name] = []string{strings.TrimSpace(cells[2]), strings.TrimSpace(cells[len(cells)-2])}
	}
	for _, c := range Codes() {
		row, ok := rows[string(c)]
		if !ok {
			t.Errorf("%s: no row in README's error table", c)
			continue
		}
		if row[0] != strconv.Itoa(c.Status()) {
			t.Errorf("%s: README says HTTP %s, Status() is %d", c, row[0], c.Status())
		}
		want := map[bool]string{true: "yes", false: "no"}[c.Retryable()]
		if row[1] != want {
			t.Errorf("%s: README says retry %q, Retryable() is %v", c, row[1], c.Retryable())
		}
		if e := Errorf(c, "x"); e.Retryable != c.Retryable() {
			t.Errorf("%s: Errorf gives retryable %v", c, e.Retryable)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, -time.Second: 0, time.Millisecond: 1, time.Second: 1,
		1500 * time.Millisecond: 2, 60 * time.Second: 60} {
		if got := (&Error{RetryAfter: d}).RetryAfterSeconds(); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
