package idcard

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		"440305199505132561", "11010519491231002X", "371002200610020000", "440305950513256",
		"810000199001011234", "830000199001011234", "911840198501010010", "USA110085060112",
		"１１０１０５１９４９１２３１００２ｘ", "", " ", "X", "4403051995O5132561", "\xff\xfe",
		"000000000000000000", "999999999999999999", "44030519990229002X", "11010518991231002X",
		"999999199001011238", "911398199012310021", "KAZ110090123105", "440301199001010012",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, offset int64) {
		now := testNow.Add(time.Duration(offset % int64(200*365*24*time.Hour)))
		a := Analyze(s, now)
		if a.Input != s {
			t.Fatalf("Input = %q, want %q", a.Input, s)
		}
		if !a.Valid() {
			return
		}
		// a valid number is in normal form, and analysing it again changes nothing
		switch a.Type {
		case ForeignPermanent2017:
			if len(a.Number) != 15 {
				t.Fatalf("%q: number %q", s, a.Number)
			}
		default:
			if len(a.Number) != 18 || CheckChar(a.Number) != a.Number[17] || a.Birth.IsZero() || a.Gender == "" {
				t.Fatalf("%q: valid but %+v", s, a)
			}
			if a.Birth.Year < EarliestBirthYear || DateOf(now).Before(a.Birth) || a.Age < 0 {
				t.Fatalf("%q: birth %v age %d", s, a.Birth, a.Age)
			}
		}
		b := Analyze(a.Number, now)
		b.Input = a.Input
		if a.Type == ResidentIDLegacy15 {
			// the upgrade is judged as an 18-character number of its own (a legacy number
			// with region 810000 upgrades to what looks like a permit number)
			if !b.Valid() || b.Number != a.Number || b.Birth != a.Birth || b.Gender != a.Gender {
				t.Fatalf("upgrade of %q differs:\n%+v\n%+v", s, a, b)
			}
		} else if a != b {
			t.Fatalf("re-analysis of %q differs:\n%+v\n%+v", s, a, b)
		}
		if m := Mask(s); utf8.RuneCountInString(m) != utf8.RuneCountInString(strings.TrimSpace(s)) {
			t.Fatalf("Mask(%q) = %q changes the length", s, m)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"19950513", "1995.05.13", "1995/5/13", "1995年5月13日", "1995-05-13",
		"2000-02-29", "1999-02-29", "１９９５．０５．１３", "", "1995年", "9999.12.31", "0001-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if d != (Date{}) {
				t.Fatalf("ParseDate(%q) = %v with error", s, d)
			}
			return
		}
		if !d.valid() {
			t.Fatalf("ParseDate(%q) = %v, not a real date", s, d)
		}
		for _, form := range []string{d.String(), strings.ReplaceAll(d.String(), "-", "")} {
			back, err := ParseDate(form)
			if err != nil || back != d {
				t.Fatalf("ParseDate(%q) = %v, but ParseDate(%q) = %v, %v", s, d, form, back, err)
			}
		}
	})
}

func FuzzParseValidity(f *testing.F) {
	for _, s := range []string{"20070105-20270105", "2007.01.05-2027.01.05", "2007-01-05-2027-01-05",
		"2007/1/5-2027/1/5", "2007年1月5日-2027年1月5日", "2018.08.12-长期", "2018.08.12至长期有效",
		"2007.01.05～2027.01.05", "", "-", "长期", "2007.01.05--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseValidity(s)
		if err != nil {
			return
		}
		if !v.From.valid() || v.LongTerm != v.To.IsZero() || (!v.LongTerm && !v.To.valid()) {
			t.Fatalf("ParseValidity(%q) = %+v", s, v)
		}
		back, err := ParseValidity(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseValidity(%q) = %+v, but ParseValidity(%q) = %+v, %v", s, v, v.String(), back, err)
		}
	})
}

// FuzzExamine feeds arbitrary fields to Examine: it must not panic, the verdict must follow
// VerdictOf, and a pass must mean the number and name were read, the number is valid and a
// validity period was read. (Messages quoting personal data are tested with fixed cards:
// a fuzzed name can be any word a message uses.)
func FuzzExamine(f *testing.F) {
	f.Add("张三", "女", "汉族", "广东省深圳市南山区", "440305199505132561", "", "深圳市公安局", "2021.03.01-2031.03.01", false)
	f.Add("", "", "", "", "", "", "", "", true)
	f.Add("李四", "男", "汉", "北京市", "911398199012310021", "1990.12.31", "", "2024.01.01-2034.01.01", true)
	f.Fuzz(func(t *testing.T, name, gender, eth, addr, id, birth, auth, valid string, noAuth bool) {
		r := Examine(&RawFront{Name: name, Gender: gender, Ethnicity: eth, Address: addr, IDNumber: id, BirthDate: birth},
			&RawBack{Authority: auth, ValidDate: valid, NoAuthority: noAuth}, testNow)
		if r.Verdict != VerdictOf(r.Checks) || r.Warnings == nil {
			t.Fatalf("verdict %s for %+v", r.Verdict, r.Checks)
		}
		if r.Verdict == VerdictPass && (r.Card.Name == nil || r.Card.IDNumber == nil || !Analyze(id, testNow).Valid() || r.Card.ValidFrom == nil) {
			t.Fatalf("pass without a name, a valid number or a validity period: %+v", r.Card)
		}
		for _, c := range r.Checks {
			if c.Message == "" || (c.Status != StatusPass && c.Status != StatusFail && c.Status != StatusWarn && c.Status != StatusSkip) {
				t.Fatalf("check %+v", c)
			}
		}
	})
}
