// Package app wires the binary: it reads configuration once, builds the dependencies (token
// service, WeChat client, recognition service, handler) and runs one of the subcommands. The
// same Main struct backs the SCF entry, `serve`, `invoke` and the end-to-end tests.
package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Version is set at build time with -ldflags "-X github.com/wxocr/scf-idcard-ocr/app.Version=…".
var Version = "dev"

// Env is the process environment the binary runs in: main passes the real one, tests their own.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

const usage = `scf-idcard-ocr: ID-card OCR for WeChat Mini Programs (Tencent SCF / CloudBase)

Usage:
  scf-idcard-ocr                        inside SCF (_LAMBDA_SERVER_PORT set): serve events
  scf-idcard-ocr serve [--addr ADDR] [--sandbox] [--print-config]
                                        HTTP server (web function, Cloud Hosting, local)
  scf-idcard-ocr invoke --event FILE [--sandbox] [--env KEY=VALUE]...
                                        run one SCF event and print what SCF gets back
  scf-idcard-ocr emulator [--addr ADDR] [--appid ID] [--secret S] [--files DIR]
                                        the WeChat API emulator, standalone
  scf-idcard-ocr refresh-token [--lead DURATION] [--sandbox]
                                        refresh the shared access_token if it expires soon
  scf-idcard-ocr validate [--valid-date RANGE] [ID...]
                                        check ID numbers (stdin when none are given)
  scf-idcard-ocr version

Configuration comes from environment variables; see README.md or --print-config.
Run any command with --help for its flags.
`

// Run runs the binary with args (without the program name) and returns the exit code:
// 0 success, 1 failure, 2 usage error.
func Run(args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		if env.Getenv("_LAMBDA_SERVER_PORT") != "" {
			return cmdSCF(env)
		}
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, env)
	case "invoke":
		return cmdInvoke(rest, env)
	case "emulator":
		return cmdEmulator(rest, env)
	case "refresh-token":
		return cmdRefreshToken(rest, env)
	case "validate":
		return cmdValidate(rest, env.Stdin, env.Stdout, env.Stderr)
	case "version", "--version":
		fs := newFlagSet("version", "version", env.Stderr)
		if code := parseFlags(fs, rest); code >= 0 {
			return code
		}
		fmt.Fprintf(env.Stdout, "scf-idcard-ocr %s\n", Version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(env.Stderr, "scf-idcard-ocr: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// newFlagSet returns a FlagSet that reports errors instead of exiting, with a usage line.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scf-idcard-ocr %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and returns the exit code to stop with, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return 2
	}
	return -1
}

// envList collects repeated KEY=VALUE flags.
type envList map[string]string

func (e envList) String() string { return "" }

func (e envList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	e[k] = v
	return nil
}
