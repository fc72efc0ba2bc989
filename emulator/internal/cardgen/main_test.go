package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

func TestWriteThenCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cards")
	if err := run([]string{"-out", dir, "-check"}, io.Discard); err == nil {
		t.Fatal("check of a missing directory passed")
	}
	var log bytes.Buffer
	if err := run([]string{"-out", dir}, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "front.png") {
		t.Fatalf("log %q", log.String())
	}
	want, _ := fs.Glob(emulator.SampleFiles(), "cards/*")
	got, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(got) != len(want) || len(want) < 8 {
		t.Fatalf("wrote %d files, emulator has %d", len(got), len(want))
	}
	if err := run([]string{"-out", dir, "-check"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "back.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-out", dir, "-check"}, io.Discard); err == nil || !strings.Contains(err.Error(), "back.png") {
		t.Fatalf("drift not reported: %v", err)
	}
	if err := run([]string{"stray"}, io.Discard); err == nil {
		t.Fatal("stray argument accepted")
	}
}

// The checked-in samples must be what the emulator serves, or tests that read
// testdata/cards and tests that use SampleFiles disagree.
func TestRepositorySamplesUpToDate(t *testing.T) {
	if err := run([]string{"-out", "../../../testdata/cards", "-check"}, io.Discard); err != nil {
		t.Fatal(err)
	}
}
