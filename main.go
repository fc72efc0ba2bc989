// Command scf-idcard-ocr is the ID-card OCR function for WeChat Mini Programs: an SCF event
// function, an HTTP server, a WeChat API emulator and a validator, in one binary.
package main

import (
	"os"

	"github.com/wxocr/scf-idcard-ocr/app"
)

func main() {
	os.Exit(app.Run(os.Args[1:], app.Env{
		Getenv: os.Getenv,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}))
}
