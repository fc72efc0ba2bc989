package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines joined.
type Instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ENV, USER, EXPOSE, CMD, ENTRYPOINT, …
	Args string // the rest of the instruction, continuation backslashes removed
	Line int    // 1-based line where it starts
}

// Stage is one build stage: its FROM and the instructions up to the next FROM.
type Stage struct {
	Image, Name  string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Stages []Stage
}

// ParseDockerfile splits a Dockerfile into stages and instructions. It understands what
// this repository's Dockerfile uses: comments, blank lines, backslash continuations, the
// parser directive line, FROM … AS name; heredocs are refused.
func ParseDockerfile(b []byte) (*Dockerfile, error) {
	d := &Dockerfile{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur strings.Builder
	start, n := 0, 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := Instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if strings.Contains(in.Args, "<<") {
			return fmt.Errorf("line %d: heredocs are not supported by this parser", start)
		}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := Stage{}
			if len(f) > 0 {
				st.Image = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("line %d: FROM %q: want IMAGE or IMAGE AS NAME", start, in.Args)
			}
			d.Stages = append(d.Stages, st)
			return nil
		}
		if len(d.Stages) == 0 {
			if in.Cmd == "ARG" {
				return nil // global ARG before the first FROM
			}
			return fmt.Errorf("line %d: %s before the first FROM", start, in.Cmd)
		}
		s := &d.Stages[len(d.Stages)-1]
		s.Instructions = append(s.Instructions, in)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments, parser directives included, also inside continuations
		}
		if cur.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continued instruction", start)
	}
	if len(d.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return d, nil
}

// Final returns the last stage, the one the image is made of.
func (d *Dockerfile) Final() *Stage { return &d.Stages[len(d.Stages)-1] }

// All returns the stage's instructions named cmd, in order.
func (s *Stage) All(cmd string) []Instruction {
	var out []Instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// Last returns the stage's last instruction named cmd (Docker uses the last USER, CMD,
// ENTRYPOINT), and whether there was one.
func (s *Stage) Last(cmd string) (Instruction, bool) {
	all := s.All(cmd)
	if len(all) == 0 {
		return Instruction{}, false
	}
	return all[len(all)-1], true
}

// ExecForm decodes an exec-form (JSON array) CMD or ENTRYPOINT. The shell form is refused:
// it runs the binary under /bin/sh, which then receives the platform's stop signal.
func ExecForm(in Instruction) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(in.Args), &argv); err != nil {
		return nil, fmt.Errorf("line %d: %s is not in exec form (a JSON array): %w", in.Line, in.Cmd, err)
	}
	return argv, nil
}

// Env returns the environment the final image sets with ENV (KEY=VALUE form; values may be
// double-quoted).
func (s *Stage) Env() (map[string]string, error) {
	env := map[string]string{}
	for _, in := range s.All("ENV") {
		for _, kv := range strings.Fields(in.Args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: ENV %q: use the KEY=VALUE form", in.Line, kv)
			}
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env, nil
}
