package idcard

import (
	"errors"
	"time"
	"unicode"
	"unicode/utf8"
)

// cst is China Standard Time. A fixed zone rather than time.LoadLocation("Asia/Shanghai"):
// China has kept +08:00 without daylight saving since 1991, and minimal SCF images carry no
// tzdata.
var cst = time.FixedZone("CST", 8*3600)

// Date is a calendar date without a time zone. The zero Date means "absent".
type Date struct {
	Year, Month, Day int
}

// DateOf returns the calendar date of t in China Standard Time.
func DateOf(t time.Time) Date {
	y, m, d := t.In(cst).Date()
	return Date{y, int(m), d}
}

// IsZero reports whether d is the zero (absent) date.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD, or "" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	var b [10]byte
	return string(d.appendTo(b[:0], '-'))
}

func (d Date) appendTo(b []byte, sep byte) []byte {
	b = append(b, byte('0'+d.Year/1000%10), byte('0'+d.Year/100%10), byte('0'+d.Year/10%10), byte('0'+d.Year%10), sep)
	b = append(b, byte('0'+d.Month/10), byte('0'+d.Month%10), sep)
	return append(b, byte('0'+d.Day/10), byte('0'+d.Day%10))
}

// MarshalText formats d as YYYY-MM-DD (empty for the zero date).
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	return d.appendTo(make([]byte, 0, 10), '-'), nil
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return sign(d.Year - e.Year)
	case d.Month != e.Month:
		return sign(d.Month - e.Month)
	default:
		return sign(d.Day - e.Day)
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// AddYears returns the same month and day n years later; 29 February becomes 28 February in
// a common year.
func (d Date) AddYears(n int) Date {
	r := Date{d.Year + n, d.Month, d.Day}
	if r.Month == 2 && r.Day == 29 && !isLeap(r.Year) {
		r.Day = 28
	}
	return r
}

// addDays is used for small offsets only (application lag); it goes through time.Time.
func (d Date) addDays(n int) Date {
	t := time.Date(d.Year, time.Month(d.Month), d.Day+n, 0, 0, 0, 0, time.UTC)
	return Date{t.Year(), int(t.Month()), t.Day()}
}

// AgeOn returns the age in completed years on date on of someone born on d (a 29 February
// birthday falls on 1 March in common years).
func (d Date) AgeOn(on Date) int {
	age := on.Year - d.Year
	if on.Month < d.Month || (on.Month == d.Month && on.Day < d.Day) {
		age--
	}
	return age
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// valid reports whether d is a real date in years 1-9999.
func (d Date) valid() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= 1 && d.Month <= 12 && d.Day >= 1 && d.Day <= daysIn(d.Year, d.Month)
}

// ErrDate is returned (wrapped) for a string that is not a date or validity range in a
// supported form.
var ErrDate = errors.New("not a supported date")

// ParseDate reads a date printed by any supported provider: YYYYMMDD, YYYY.MM.DD, YYYY/M/D,
// YYYY年M月D日, YYYY-MM-DD (month and day may lack the leading zero in the separated forms).
// Whitespace anywhere and full-width digits and punctuation are accepted. The date must exist.
func ParseDate(s string) (Date, error) {
	var buf [64]byte
	b, ok := normalizeDateText(s, buf[:0])
	if !ok {
		return Date{}, ErrDate
	}
	d, n, ok := parseDatePrefix(b)
	if !ok || n != len(b) {
		return Date{}, ErrDate
	}
	return d, nil
}

// Validity is the period printed on the back of a card.
type Validity struct {
	From     Date
	To       Date // zero when LongTerm
	LongTerm bool
}

// String formats v the way the card prints it: "2007.01.05-2027.01.05" or "2007.01.05-长期".
func (v Validity) String() string {
	b := make([]byte, 0, 21)
	b = v.From.appendTo(b, '.')
	b = append(b, '-')
	if v.LongTerm {
		return string(b) + longTerm
	}
	return string(v.To.appendTo(b, '.'))
}

const longTerm = "长期"

// ParseValidity reads a validity range "A-B": A and B dates in any form ParseDate accepts,
// B may be 长期 (or 长期有效) for a long-term card; the separator may be -, ~, 至 or a dash.
// It does not judge whether the range makes sense (see Examine).
func ParseValidity(s string) (Validity, error) {
	var buf [96]byte
	b, ok := normalizeDateText(s, buf[:0])
	if !ok {
		return Validity{}, ErrDate
	}
	from, n, ok := parseDatePrefix(b)
	if !ok {
		return Validity{}, ErrDate
	}
	b = b[n:]
	switch {
	case len(b) > 0 && (b[0] == '-' || b[0] == '~'):
		b = b[1:]
	case hasPrefix(b, "至"):
		b = b[len("至"):]
	default:
		return Validity{}, ErrDate
	}
	if string(b) == longTerm || string(b) == longTerm+"有效" {
		return Validity{From: from, LongTerm: true}, nil
	}
	to, n, ok := parseDatePrefix(b)
	if !ok || n != len(b) {
		return Validity{}, ErrDate
	}
	return Validity{From: from, To: to}, nil
}

// normalizeDateText drops whitespace and maps full-width forms and dashes to ASCII, into buf;
// ok is false when the text does not fit (no date text is that long) or is not UTF-8.
func normalizeDateText(s string, buf []byte) ([]byte, bool) {
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return nil, false
		case unicode.IsSpace(r):
			continue
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == '。':
			r = '.'
		case r == '‐', r == '‑', r == '‒', r == '–', r == '—', r == '―', r == '−', r == '﹣':
			r = '-'
		case r == '〜':
			r = '~'
		}
		if len(buf)+utf8.RuneLen(r) > cap(buf) {
			return nil, false
		}
		buf = utf8.AppendRune(buf, r)
	}
	return buf, true
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// parseDatePrefix parses one date at the start of b and returns it with the bytes consumed.
func parseDatePrefix(b []byte) (Date, int, bool) {
	var d Date
	y, ok := digits(b, 4)
	if !ok {
		return d, 0, false
	}
	d.Year = y
	p := 4
	if m, ok := digits(b[p:], 4); ok && (len(b) == 8 || !isDigit(b, 8)) { // YYYYMMDD
		d.Month, d.Day = m/100, m%100
		p = 8
	} else {
		var sepM, sepD string
		switch {
		case len(b) > p && (b[p] == '.' || b[p] == '/' || b[p] == '-'):
			sepM = string(b[p : p+1])
			sepD = sepM
		case hasPrefix(b[p:], "年"):
			sepM, sepD = "年", "月"
		default:
			return d, 0, false
		}
		p += len(sepM)
		m, n := upTo2(b[p:])
		if n == 0 || !hasPrefix(b[p+n:], sepD) {
			return d, 0, false
		}
		p += n + len(sepD)
		day, n := upTo2(b[p:])
		if n == 0 {
			return d, 0, false
		}
		p += n
		if sepD == "月" && hasPrefix(b[p:], "日") {
			p += len("日")
		}
		d.Month, d.Day = m, day
	}
	if !d.valid() {
		return Date{}, 0, false
	}
	return d, p, true
}

func isDigit(b []byte, i int) bool { return i < len(b) && b[i] >= '0' && b[i] <= '9' }

// digits reads exactly n ASCII digits.
func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for i := range n {
		if !isDigit(b, i) {
			return 0, false
		}
		v = v*10 + int(b[i]-'0')
	}
	return v, true
}

// upTo2 reads one or two digits; a third digit makes it fail (n = 0).
func upTo2(b []byte) (v, n int) {
	for n < len(b) && n < 3 && isDigit(b, n) {
		v = v*10 + int(b[n]-'0')
		n++
	}
	if n > 2 {
		return 0, 0
	}
	return v, n
}
