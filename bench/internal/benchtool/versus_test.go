package main

import (
	"os"
	"testing"
	"time"
)

func TestStatTicks(t *testing.T) {
	// proc(5) layout; the command name holds a space and a ')' as a process may name itself.
	line := "4242 (a b) c) S 1 4242 4242 0 -1 4194560 1003 0 0 0 17 5 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615\n"
	got, err := statTicks([]byte(line))
	if err != nil || got != 22 {
		t.Fatalf("statTicks = %d, %v; want 17+5", got, err)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 u v 0"} {
		if _, err := statTicks([]byte(bad)); err == nil {
			t.Errorf("statTicks(%q) accepted", bad)
		}
	}
	if _, err := procCPUTicks(os.Getpid()); err != nil {
		t.Fatalf("this process: %v", err)
	}
}

func TestProcKB(t *testing.T) {
	rss, err := procKB(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS = %d, %v", rss, err)
	}
	if _, err := procKB(os.Getpid(), "VmNoSuchField"); err == nil {
		t.Fatal("a missing field was found")
	}
}

func TestPercentileAndMedians(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)) // unsorted on purpose
	}
	if p := percentile(d, 0.99); p != 100 {
		t.Errorf("p99 of 1..100 = %d", p)
	}
	if m := medianDur([]time.Duration{3, 1, 2}); m != 2 {
		t.Errorf("median = %d", m)
	}
	if m := medianInt([]int64{5, 9, 1}); m != 5 {
		t.Errorf("median = %d", m)
	}
	if d[0] != 100 {
		t.Error("percentile sorted its argument in place")
	}
}
