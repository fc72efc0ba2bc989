package idcard

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	ok := map[string]Date{
		"19950513":         {1995, 5, 13},
		"1995.05.13":       {1995, 5, 13},
		"1995/5/13":        {1995, 5, 13},
		"1995/05/3":        {1995, 5, 3},
		"1995年5月13日":       {1995, 5, 13},
		"1995年05月13":       {1995, 5, 13},
		"1995-05-13":       {1995, 5, 13},
		" 1995 . 05 . 13 ": {1995, 5, 13},
		"１９９５．０５．１３":       {1995, 5, 13},
		"1995－05－13":       {1995, 5, 13},
		"2000-02-29":       {2000, 2, 29},
		"20240229":         {2024, 2, 29},
		"0001-01-01":       {1, 1, 1},
	}
	for in, want := range ok {
		got, err := ParseDate(in)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := []string{
		"", "1995", "199505", "1995051", "199505130", "1995.05-13", "1995/05.13", "1995年05月",
		"1995.13.01", "1995.00.10", "1995.05.00", "1995.05.32", "1999-02-29", "1900-02-29", "19990229",
		"0000-01-01", "1995.005.13", "1995.05.013", "95.05.13", "1995.05.13.", "x1995.05.13", "1995.05.13-",
		"1995年5月13号", "1995.5.13日", "\xff1995.05.13",
	}
	for _, in := range bad {
		if d, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, d)
		}
	}
}

func TestParseValidity(t *testing.T) {
	ok := map[string]Validity{
		"20070105-20270105":       {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007.01.05-2027.01.05":   {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007-01-05-2027-01-05":   {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007/1/5-2027/1/5":       {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007年1月5日-2027年1月5日":     {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007.01.05 至 2027.01.05": {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007.01.05～2027.01.05":   {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007.01.05—2027.01.05":   {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2007.01.05-20270105":     {From: Date{2007, 1, 5}, To: Date{2027, 1, 5}},
		"2018.08.12-长期":           {From: Date{2018, 8, 12}, LongTerm: true},
		"20180812-长期":             {From: Date{2018, 8, 12}, LongTerm: true},
		"2018-08-12-长期有效":         {From: Date{2018, 8, 12}, LongTerm: true},
		"２０１８．０８．１２－长期":           {From: Date{2018, 8, 12}, LongTerm: true},
		"2027.01.05-2007.01.05":   {From: Date{2027, 1, 5}, To: Date{2007, 1, 5}}, // parsed; Examine judges it
	}
	for in, want := range ok {
		got, err := ParseValidity(in)
		if err != nil || got != want {
			t.Errorf("ParseValidity(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{"", "长期", "2007.01.05", "2007.01.05-", "2007.01.05-长", "2007.01.05--2027.01.05",
		"2007.01.052027.01.05", "2007010520270105", "2007.01.05-2027.02.30", "2007.01.05-长期-长期", "-2027.01.05"}
	for _, in := range bad {
		if v, err := ParseValidity(in); err == nil {
			t.Errorf("ParseValidity(%q) = %+v, want an error", in, v)
		}
	}
}

func TestValidityString(t *testing.T) {
	v := Validity{From: Date{2007, 1, 5}, To: Date{2027, 1, 5}}
	if s := v.String(); s != "2007.01.05-2027.01.05" {
		t.Errorf("String() = %q", s)
	}
	v = Validity{From: Date{2018, 8, 12}, LongTerm: true}
	if s := v.String(); s != "2018.08.12-长期" {
		t.Errorf("String() = %q", s)
	}
}

func TestDateOfUsesChinaTime(t *testing.T) {
	// 16:00 UTC on 31 Dec is already 1 Jan in China
	if d := DateOf(time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC)); d != (Date{2025, 1, 1}) {
		t.Errorf("DateOf = %v, want 2025-01-01", d)
	}
	if d := DateOf(time.Date(2024, 12, 31, 15, 59, 59, 0, time.UTC)); d != (Date{2024, 12, 31}) {
		t.Errorf("DateOf = %v, want 2024-12-31", d)
	}
}

func TestAddYearsAndAge(t *testing.T) {
	leap := Date{2008, 2, 29}
	if got := leap.AddYears(5); got != (Date{2013, 2, 28}) {
		t.Errorf("AddYears(5) = %v", got)
	}
	if got := leap.AddYears(4); got != (Date{2012, 2, 29}) {
		t.Errorf("AddYears(4) = %v", got)
	}
	ages := []struct {
		on   Date
		want int
	}{
		{Date{2009, 2, 28}, 0}, {Date{2009, 3, 1}, 1}, {Date{2012, 2, 28}, 3}, {Date{2012, 2, 29}, 4},
	}
	for _, a := range ages {
		if got := leap.AgeOn(a.on); got != a.want {
			t.Errorf("age on %v = %d, want %d", a.on, got, a.want)
		}
	}
	if (Date{}).String() != "" || !(Date{}).IsZero() {
		t.Error("zero Date")
	}
	if b, _ := (Date{1995, 5, 13}).MarshalText(); string(b) != "1995-05-13" {
		t.Errorf("MarshalText = %s", b)
	}
}
