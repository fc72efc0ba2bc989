package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wxocr/scf-idcard-ocr/bench/internal/bigcard"
)

func cmdEvent(args []string) error {
	fs := flag.NewFlagSet("event", flag.ContinueOnError)
	out := fs.String("out", "", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	return os.WriteFile(*out, bigcard.CallEvent(bigcard.PNG()), 0o644)
}

// cmdProc runs a command n times (after warm-up runs that fill the page cache and the token
// store) and prints, as key=value, the median, min and 90th percentile of the wall time from
// just before fork to the return of wait, and the largest peak RSS the kernel reported for
// the child (the figure /usr/bin/time -v prints as "Maximum resident set size").
func cmdProc(args []string) error {
	fs := flag.NewFlagSet("proc", flag.ContinueOnError)
	n := fs.Int("n", 30, "measured runs")
	warm := fs.Int("warmup", 2, "unmeasured runs first")
	expect := fs.String("expect", "", "every run's stdout must contain this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return errors.New("no command after --")
	}
	var durs []time.Duration
	var maxRSS int64
	for i := 0; i < *warm+*n; i++ {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			return fmt.Errorf("run %d: %w\nstdout: %s\nstderr: %.2000s", i, err, describe(stdout.Bytes()), stderr.String())
		}
		if *expect != "" && !strings.Contains(stdout.String(), *expect) {
			return fmt.Errorf("run %d: stdout lacks %q: %s", i, *expect, describe(stdout.Bytes()))
		}
		if i < *warm {
			continue
		}
		durs = append(durs, d)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss) // kilobytes on Linux
		}
	}
	slices.Sort(durs)
	fmt.Printf("runs=%d median_us=%d min_us=%d p90_us=%d max_rss_kb=%d\n",
		len(durs), median(durs).Microseconds(), durs[0].Microseconds(),
		durs[(len(durs)*9)/10].Microseconds(), maxRSS)
	return nil
}

// describe summarises a command's output without quoting a recognised card (personal data by
// the project's rules): an error object's code and message, or just the size.
func describe(out []byte) string {
	var a struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(bytes.TrimSpace(out), &a) == nil {
		switch {
		case a.Error != nil:
			return fmt.Sprintf("error %s: %s", a.Error.Code, a.Error.Message)
		case a.ErrorMessage != "":
			return "invocation error: " + a.ErrorMessage
		}
	}
	if len(out) < 200 && !bytes.Contains(out, []byte(`"card"`)) {
		return string(out) // e.g. `scf-idcard-ocr dev` from version
	}
	return fmt.Sprintf("%d bytes, not shown", len(out))
}

// median of sorted durations.
func median(s []time.Duration) time.Duration {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
