package chinaday

import (
	"testing"
	"time"
)

func TestNextMidnight(t *testing.T) {
	for _, tt := range []struct{ now, want string }{
		{"2026-11-29T15:59:59Z", "2026-11-29T16:00:00Z"},
		{"2026-11-29T16:00:00Z", "2026-11-30T16:00:00Z"},
		{"2026-12-31T16:30:00Z", "2027-01-01T16:00:00Z"},
	} {
		n, _ := time.Parse(time.RFC3339, tt.now)
		if got := NextMidnight(n).UTC().Format(time.RFC3339); got != tt.want {
			t.Errorf("NextMidnight(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestDay(t *testing.T) {
	for _, tt := range []struct{ now, want string }{
		{"2026-11-29T15:59:59Z", "20261129"},
		{"2026-11-29T16:00:00Z", "20261130"},
		{"2026-12-31T16:30:00Z", "20270101"},
	} {
		n, _ := time.Parse(time.RFC3339, tt.now)
		if got := Day(n); got != tt.want {
			t.Errorf("Day(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}
