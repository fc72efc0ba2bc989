package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wxocr/scf-idcard-ocr/idcard"
)

const validateUsage = `Usage: scf-idcard-ocr validate [--valid-date RANGE] [ID...]

Checks ID numbers (resident ID, 15-digit legacy, Hong Kong/Macao/Taiwan residence permits,
foreign permanent residence IDs) and prints one JSON object a line:
input, valid, documentType, idNumber, legacyNumber, birthDate, gender, age, region
(for a foreign permanent number: the accepting province), nationality (foreign permanent
numbers: ISO 3166-1 numeric, alpha3, name, nameZh), problems, warnings; with --valid-date also the checks and verdict of a card made of the
number and that validity range (front_complete is left out: such a card has no name,
gender, ethnicity or address to read). IDs are read from stdin, one a line, when none are given.

Exit status: 0 when every number is valid, 1 when any is invalid (or input cannot be
read), 2 on a usage error.

Flags:
`

// validateLine is one output line of the validate command.
type validateLine struct {
	idcard.AnalysisRecord
	Checks  []idcard.Check `json:"checks,omitempty"`
	Verdict idcard.Verdict `json:"verdict,omitempty"`
}

// cmdValidate runs `validate`: see validateUsage.
func cmdValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runValidate(args, stdin, stdout, stderr, time.Now())
}

// runValidate is cmdValidate with the current time passed in, so tests can pin "today".
func runValidate(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usage := func(w io.Writer) {
		fmt.Fprint(w, validateUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // printed below: to stdout when asked for, to stderr after an error
	validDate := fs.String("valid-date", "", "validity `RANGE` printed on the back (e.g. 2021.03.01-2031.03.01 or 2018.08.12-长期); adds card checks and a verdict")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr) // flag has already printed the error
		return 2
	}
	if *validDate != "" {
		if _, err := idcard.ParseValidity(*validDate); err != nil {
			fmt.Fprintf(stderr, "validate: --valid-date %q is not a validity range such as 2021.03.01-2031.03.01 or 2018.08.12-长期\n", *validDate)
			return 2
		}
	}

	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	count, invalid := 0, false
	emit := func(id string) error {
		count++
		a := idcard.Analyze(id, now)
		line := validateLine{AnalysisRecord: a.Record()}
		if *validDate != "" {
			// The card has a number and a validity period and nothing else to read, so
			// front_complete (which would reject it for the missing name) is left out.
			r := idcard.Examine(&idcard.RawFront{IDNumber: id}, &idcard.RawBack{ValidDate: *validDate, NoAuthority: true}, now)
			line.Checks = slices.DeleteFunc(r.Checks, func(c idcard.Check) bool { return c.Name == idcard.CheckFrontComplete })
			line.Verdict = idcard.VerdictOf(line.Checks)
		}
		if !a.Valid() {
			invalid = true
		}
		return enc.Encode(line)
	}

	var err error
	if fs.NArg() > 0 {
		for _, id := range fs.Args() {
			if err = emit(id); err != nil {
				break
			}
		}
	} else {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			id := strings.TrimSpace(sc.Text())
			if id == "" {
				continue
			}
			if err = emit(id); err != nil {
				break
			}
		}
		if err == nil {
			if err = sc.Err(); err != nil {
				err = fmt.Errorf("read stdin: %w", err)
			}
		}
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "validate: %v\n", err)
		return 1
	case count == 0:
		fmt.Fprintln(stderr, "validate: no ID numbers given (as arguments or on stdin, one a line)")
		return 2
	case invalid:
		return 1
	}
	return 0
}
