package deploy

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of an SCF timer's cron expression.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i (JAN…, SUN…)
}

// scfCron are the 7 fields of SCF (and CloudBase) timer triggers, in order: second, minute,
// hour, day of month, month, day of week, year (Tencent Cloud SCF docs 583/9708, "Cron 表达
// 式"; the same expressions are accepted by CloudBase's timer triggers). Each field takes
// numbers, names where given, and the specials , - * /.
var scfCron = []cronField{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", min: 0, max: 6, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
	{name: "year", min: 1970, max: 2099},
}

// CheckCron reports whether expr is a valid 7-field SCF cron expression. A 5- or 6-field
// crontab line is refused: SCF would read its fields shifted.
func CheckCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != len(scfCron) {
		return fmt.Errorf("%q has %d fields, SCF timers take 7 (second minute hour day month weekday year)", expr, len(fields))
	}
	for i, f := range fields {
		if err := scfCron[i].check(f); err != nil {
			return fmt.Errorf("%q: %s field: %w", expr, scfCron[i].name, err)
		}
	}
	return nil
}

func (c cronField) check(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		rangePart, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > c.max-c.min+1 {
				return fmt.Errorf("bad step %q", step)
			}
		}
		if rangePart == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(rangePart, "-")
		a, err := c.value(lo)
		if err != nil {
			return err
		}
		if isRange {
			b, err := c.value(hi)
			if err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("range %q runs backwards", rangePart)
			}
		}
	}
	return nil
}

func (c cronField) value(s string) (int, error) {
	for i, n := range c.names {
		if strings.EqualFold(s, n) {
			return c.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < c.min || v > c.max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, c.min, c.max)
	}
	return v, nil
}
