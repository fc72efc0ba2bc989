// Command cardgen writes the emulator's sample cards (emulator.SampleFiles) to a directory, so
// that the checked-in testdata/cards stays byte-identical to what the emulator serves.
//
//	go run ./emulator/internal/cardgen -out testdata/cards          # write
//	go run ./emulator/internal/cardgen -out testdata/cards -check   # verify, exit 1 on drift
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cardgen:", err)
		os.Exit(1)
	}
}

// run writes (or with -check compares) every file under cards/ of emulator.SampleFiles into
// -out. Files in -out that the emulator does not generate (README.md) are left alone.
func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("cardgen", flag.ContinueOnError)
	out := fl.String("out", "testdata/cards", "directory to write the sample cards into")
	check := fl.Bool("check", false, "compare instead of writing; fail if any file differs")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	files := emulator.SampleFiles()
	if !*check {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
	}
	var stale []string
	err := fs.WalkDir(files, "cards", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(*out, filepath.FromSlash(strings.TrimPrefix(path, "cards/")))
		if *check {
			have, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(have, data) {
				stale = append(stale, dst)
			}
			return nil
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", dst, len(data))
		return nil
	})
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		return errors.New("out of date (run go generate ./emulator): " + strings.Join(stale, ", "))
	}
	return nil
}
