package idcard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// goodFront is a consistent front: 440305199505132561 is female, born 1995-05-13, 深圳市南山区.
func goodFront() *RawFront {
	return &RawFront{Name: "张 三", Gender: "女", Ethnicity: "汉族", Address: "广东省深圳市南山区科技园１２号", IDNumber: "440305199505132561"}
}

// goodBack was issued at 25, so for 10 years; testNow is 2025-06-15.
func goodBack() *RawBack {
	return &RawBack{Authority: "深圳市公安局南山分局", ValidDate: "2021.03.01-2031.03.01"}
}

// full is a front with every field read: the given number, gender and address, a name and
// an ethnicity, for cases about one check that must not be judged incomplete.
func full(id, gender, addr string) *RawFront {
	return &RawFront{Name: "李四", Gender: gender, Ethnicity: "汉族", Address: addr, IDNumber: id}
}

func statusOf(r Report, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

func TestExamineAllPass(t *testing.T) {
	r := Examine(goodFront(), goodBack(), testNow)
	for _, c := range r.Checks {
		want := StatusPass
		if c.Name == CheckBirthConsistent { // WeChat prints no birth date
			want = StatusSkip
		}
		if c.Status != want {
			t.Errorf("%s = %s (%s), want %s", c.Name, c.Status, c.Message, want)
		}
	}
	if r.Verdict != VerdictPass || len(r.Warnings) != 0 || r.Warnings == nil {
		t.Errorf("verdict %s, warnings %#v", r.Verdict, r.Warnings)
	}
	names := make([]string, len(r.Checks))
	for i, c := range r.Checks {
		names[i] = c.Name
	}
	wantNames := []string{CheckFrontComplete, CheckBackComplete, CheckIDNumber, CheckBirthConsistent, CheckGenderConsistent, CheckEthnicityKnown,
		CheckAddressRegion, CheckValiditySpan, CheckIssueDatePlausible, CheckNotExpired}
	if !slices.Equal(names, wantNames) {
		t.Errorf("checks %v, want %v", names, wantNames)
	}
	c := r.Card
	if *c.Name != "张三" || *c.Gender != "female" || *c.Ethnicity != "汉" || *c.BirthDate != "1995-05-13" ||
		*c.Address != "广东省深圳市南山区科技园12号" || *c.IDNumber != "440305199505132561" ||
		*c.Authority != "深圳市公安局南山分局" || *c.ValidFrom != "2021-03-01" || *c.ValidTo != "2031-03-01" || *c.LongTerm {
		b, _ := json.Marshal(c)
		t.Errorf("card = %s", b)
	}
}

func TestExamineMissingSides(t *testing.T) {
	r := Examine(nil, nil, testNow)
	for _, c := range r.Checks {
		if c.Status != StatusSkip {
			t.Errorf("no sides: %s = %s", c.Name, c.Status)
		}
	}
	b, _ := json.Marshal(r.Card)
	if string(b) != `{"name":null,"gender":null,"ethnicity":null,"birthDate":null,"address":null,"idNumber":null,"authority":null,"validFrom":null,"validTo":null,"longTerm":null,"nationality":null}` {
		t.Errorf("empty card = %s", b)
	}

	r = Examine(goodFront(), nil, testNow)
	for _, name := range []string{CheckValiditySpan, CheckIssueDatePlausible, CheckNotExpired} {
		if c := statusOf(r, name); c.Status != StatusSkip {
			t.Errorf("front only: %s = %s", name, c.Status)
		}
	}
	if r.Card.Authority != nil || r.Card.LongTerm != nil || r.Card.ValidFrom != nil || r.Verdict != VerdictPass {
		t.Errorf("front only: %+v, verdict %s", r.Card, r.Verdict)
	}

	r = Examine(nil, goodBack(), testNow)
	want := map[string]Status{CheckIDNumber: StatusSkip, CheckValiditySpan: StatusSkip, CheckIssueDatePlausible: StatusPass, CheckNotExpired: StatusPass}
	for name, st := range want {
		if c := statusOf(r, name); c.Status != st {
			t.Errorf("back only: %s = %s (%s), want %s", name, c.Status, c.Message, st)
		}
	}
	if r.Card.Name != nil || r.Card.IDNumber != nil || r.Card.BirthDate != nil {
		t.Errorf("back only card = %+v", r.Card)
	}
}

func TestExamineChecks(t *testing.T) {
	front := func(f func(*RawFront)) *RawFront { x := goodFront(); f(x); return x }
	back := func(v string) *RawBack { b := goodBack(); b.ValidDate = v; return b }
	retired := withCheck("36232419850101001") // male, 1985, 江西省上饶地区铅山县, code retired in 2000
	tests := []struct {
		name    string
		front   *RawFront
		back    *RawBack
		check   string
		status  Status
		verdict Verdict
	}{
		{"bad checksum", front(func(f *RawFront) { f.IDNumber = "440305199505132562" }), goodBack(), CheckIDNumber, StatusFail, VerdictReject},
		{"unreadable number", front(func(f *RawFront) { f.IDNumber = "44O305" }), goodBack(), CheckIDNumber, StatusFail, VerdictReject},
		{"code retired after birth: no verdict change", full(retired, "男", "江西省上饶市铅山县河口镇"), nil, CheckIDNumber, StatusPass, VerdictPass},
		{"code retired before birth", full("110201199312010077", "男", "北京市东城区某路"), nil, CheckIDNumber, StatusWarn, VerdictReview},
		{"code first used after birth: no verdict change", full(withCheck("44030819900101001"), "男", "广东省深圳市盐田区某路"), nil, CheckIDNumber, StatusPass, VerdictPass},
		{"市辖区 code", full(withCheck("44030119900101001"), "男", "广东省深圳市福田区"), nil, CheckIDNumber, StatusPass, VerdictPass},
		{"prefecture-level code", full(withCheck("44030019900101001"), "男", "广东省深圳市福田区"), nil, CheckIDNumber, StatusWarn, VerdictReview},
		{"province code", full(withCheck("11000019900101001"), "男", "北京市东城区某路"), nil, CheckIDNumber, StatusFail, VerdictReject},
		{"over 120", full(withCheck("11010519000101001"), "男", "北京市朝阳区某路"), nil, CheckIDNumber, StatusWarn, VerdictReview},
		{"foreign, unknown nationality", full("999999199001011238", "男", "北京市朝阳区某路"), nil, CheckIDNumber, StatusFail, VerdictReject},
		{"printed birth equal", front(func(f *RawFront) { f.BirthDate = "1995年5月13日" }), goodBack(), CheckBirthConsistent, StatusPass, VerdictPass},
		{"printed birth Tencent form", front(func(f *RawFront) { f.BirthDate = "1995/5/13" }), goodBack(), CheckBirthConsistent, StatusPass, VerdictPass},
		{"printed birth differs", front(func(f *RawFront) { f.BirthDate = "1995.05.14" }), goodBack(), CheckBirthConsistent, StatusFail, VerdictReject},
		{"printed birth unreadable", front(func(f *RawFront) { f.BirthDate = "1995.5" }), goodBack(), CheckBirthConsistent, StatusFail, VerdictReject},
		{"birth without a number date", front(func(f *RawFront) { f.BirthDate = "1995.05.13"; f.IDNumber = "USA110085060112" }), nil, CheckBirthConsistent, StatusSkip, VerdictPass},
		{"gender differs", front(func(f *RawFront) { f.Gender = "男" }), goodBack(), CheckGenderConsistent, StatusFail, VerdictReject},
		{"gender unreadable", front(func(f *RawFront) { f.Gender = "?" }), goodBack(), CheckGenderConsistent, StatusFail, VerdictReject},
		{"gender missing", front(func(f *RawFront) { f.Gender = "" }), goodBack(), CheckGenderConsistent, StatusSkip, VerdictReview /* front_complete */},
		{"old ethnic name", front(func(f *RawFront) { f.Ethnicity = "崩龙族" }), goodBack(), CheckEthnicityKnown, StatusPass, VerdictPass},
		{"unknown ethnicity", front(func(f *RawFront) { f.Ethnicity = "火星" }), goodBack(), CheckEthnicityKnown, StatusFail, VerdictReject},
		{"ethnicity missing", front(func(f *RawFront) { f.Ethnicity = "" }), goodBack(), CheckEthnicityKnown, StatusSkip, VerdictReview /* front_complete */},
		{"address other province", front(func(f *RawFront) { f.Address = "湖南省长沙市岳麓区" }), goodBack(), CheckAddressRegion, StatusWarn, VerdictReview},
		{"address other prefecture", front(func(f *RawFront) { f.Address = "广东省广州市天河区" }), goodBack(), CheckAddressRegion, StatusWarn, VerdictReview},
		{"address without prefecture", front(func(f *RawFront) { f.Address = "广东省南山区某街道" }), goodBack(), CheckAddressRegion, StatusPass, VerdictPass},
		{"address with today's prefecture name", full(withCheck("36232419800101001"), "男", "江西省宜春市丰城市剑光街道"), nil, CheckAddressRegion, StatusPass, VerdictPass /* region_retired alone */},
		{"address county-level city", full(withCheck("36232419800101001"), "男", "江西省丰城市剑光街道"), nil, CheckAddressRegion, StatusPass, VerdictPass /* region_retired alone */},
		{"address municipality", full("11010519491231002X", "女", "北京市朝阳区某路"), nil, CheckAddressRegion, StatusPass, VerdictPass},
		{"address missing", front(func(f *RawFront) { f.Address = "" }), goodBack(), CheckAddressRegion, StatusSkip, VerdictReview /* front_complete */},
		{"address of a permit holder", full(withCheck("81000019900101001"), "男", "广东省深圳市福田区"), nil, CheckAddressRegion, StatusSkip, VerdictPass},
		{"address, unknown region", &RawFront{IDNumber: withCheck("12345619900101001"), Address: "广东省深圳市福田区"}, nil, CheckAddressRegion, StatusSkip, VerdictReject},
		// validity span by age at issue; the holder was born 1995-05-13
		{"under 16: 5 years", goodFront(), back("2010.06.01-2015.06.01"), CheckValiditySpan, StatusPass, VerdictReject /* expired */},
		{"under 16 with 10 years", goodFront(), back("2010.06.01-2020.06.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"16-25: 10 years", goodFront(), back("2021.03.01-2031.03.01"), CheckValiditySpan, StatusPass, VerdictPass},
		{"26-45: 20 years", goodFront(), back("2021.06.01-2041.06.01"), CheckValiditySpan, StatusPass, VerdictPass},
		{"26-45 with 10 years", goodFront(), back("2021.12.01-2031.12.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"26-45 with long-term", goodFront(), back("2021.06.01-长期"), CheckValiditySpan, StatusFail, VerdictReject},
		{"46+: long-term", full("11010519491231002X", "女", "北京市朝阳区某路"), back("2000.01.01-长期"), CheckValiditySpan, StatusPass, VerdictPass},
		{"46+ with 20 years", full("11010519491231002X", "女", "北京市朝阳区某路"), back("2000.01.01-2020.01.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"end keeps month and day", goodFront(), back("2021.03.01-2031.03.02"), CheckValiditySpan, StatusFail, VerdictReject},
		{"29 Feb issue, 28 Feb end", goodFront(), back("2016.02.29-2026.02.28"), CheckValiditySpan, StatusPass, VerdictPass},
		{"29 Feb issue, 1 Mar end", goodFront(), back("2016.02.29-2026.03.01"), CheckValiditySpan, StatusPass, VerdictPass},
		{"29 Feb issue, 2 Mar end", goodFront(), back("2016.02.29-2026.03.02"), CheckValiditySpan, StatusFail, VerdictReject},
		{"29 Feb to 29 Feb", full("11010519491231002X", "女", "北京市朝阳区某路"), back("1992.02.29-2012.02.29"), CheckValiditySpan, StatusPass, VerdictReject /* expired */},
		{"applied just before 16th birthday", goodFront(), back("2011.06.01-2016.06.01"), CheckValiditySpan, StatusWarn, VerdictReject /* expired */},
		{"5 years long after 16th birthday", goodFront(), back("2011.10.01-2016.10.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"ends before it starts", goodFront(), back("2031.03.01-2021.03.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"validity unreadable", goodFront(), back("2021.03.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"birth from the printed date", &RawFront{BirthDate: "1995.05.13"}, back("2021.03.01-2031.03.01"), CheckValiditySpan, StatusPass, VerdictReject /* no number, no name */},
		{"permit: 5 years", full(withCheck("81000019900101001"), "男", "广东省深圳市福田区"), back("2022.01.01-2027.01.01"), CheckValiditySpan, StatusPass, VerdictPass},
		{"permit with 20 years", full(withCheck("81000019900101001"), "男", "广东省深圳市福田区"), back("2022.01.01-2042.01.01"), CheckValiditySpan, StatusFail, VerdictReject},
		{"foreign adult: 10 years", full(withCheck("91184019850101001"), "男", "北京市朝阳区某路"), back("2024.01.01-2034.01.01"), CheckValiditySpan, StatusPass, VerdictPass},
		{"foreign minor: 5 years", full(withCheck("91184020100101001"), "男", "北京市朝阳区某路"), back("2024.01.01-2029.01.01"), CheckValiditySpan, StatusPass, VerdictPass},
		// issue date and expiry, testNow is 2025-06-15 in China
		{"issued in the future", goodFront(), back("2025.06.16-2035.06.16"), CheckIssueDatePlausible, StatusFail, VerdictReject},
		{"issued today", goodFront(), back("2025.06.15-2045.06.15"), CheckIssueDatePlausible, StatusPass, VerdictPass},
		{"issued before birth", goodFront(), back("1990.01.01-1995.01.01"), CheckIssueDatePlausible, StatusFail, VerdictReject},
		{"expired yesterday", goodFront(), back("2005.06.14-2015.06.14"), CheckNotExpired, StatusFail, VerdictReject},
		{"expires today", goodFront(), back("2015.06.15-2025.06.15"), CheckNotExpired, StatusPass, VerdictPass},
		{"long-term", full("11010519491231002X", "女", "北京市朝阳区某路"), back("2000.01.01-长期"), CheckNotExpired, StatusPass, VerdictPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Examine(tt.front, tt.back, testNow)
			if c := statusOf(r, tt.check); c.Status != tt.status {
				t.Errorf("%s = %s (%s), want %s", tt.check, c.Status, c.Message, tt.status)
			}
			if r.Verdict != tt.verdict {
				t.Errorf("verdict = %s, want %s; checks %+v", r.Verdict, tt.verdict, r.Checks)
			}
			for _, c := range r.Checks {
				if c.Message == "" {
					t.Errorf("%s has no message", c.Name)
				}
				for _, secret := range []string{tt.front.numberOr(), "张三", "张 三", "科技园", "剑光街道", "某路"} {
					if secret != "" && strings.Contains(c.Message, secret) {
						t.Errorf("%s message %q reveals %q", c.Name, c.Message, secret)
					}
				}
			}
		})
	}
}

func (f *RawFront) numberOr() string {
	if f == nil {
		return ""
	}
	return NormalizeNumber(f.IDNumber)
}

func TestExamineWarningsAndCard(t *testing.T) {
	r := Examine(full(withCheck("36232419850101001"), "男", "湖南省长沙市"), &RawBack{ValidDate: "2016.01.01-2036.01.01", NoAuthority: true}, testNow)
	want := []string{"region_retired", CheckAddressRegion} // region_retired alone leaves id_number passing
	if !slices.Equal(r.Warnings, want) || r.Verdict != VerdictReview {
		t.Errorf("warnings %v verdict %s, want %v review", r.Warnings, r.Verdict, want)
	}

	r = Examine(&RawFront{IDNumber: " 440305950513256 ", Name: "买买提•艾力", Ethnicity: "毛难族"}, &RawBack{ValidDate: "20180812-长期", Authority: " 深圳市公安局 "}, testNow)
	c := r.Card
	if *c.IDNumber != "440305199505132561" || *c.Name != "买买提·艾力" || *c.Ethnicity != "毛南" || *c.BirthDate != "1995-05-13" ||
		c.ValidTo != nil || !*c.LongTerm || *c.ValidFrom != "2018-08-12" || *c.Authority != "深圳市公安局" || c.Gender != nil || c.Address != nil {
		b, _ := json.Marshal(c)
		t.Errorf("card = %s", b)
	}
	b, _ := json.Marshal(r)
	for _, key := range []string{`"card":`, `"checks":`, `"verdict":"reject"`, `"warnings":["front_complete"]`, `"validTo":null`, `"longTerm":true`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("report JSON lacks %s: %s", key, b)
		}
	}
}

// TestExamineCompleteness holds the verdict rule for fields that were not read: no number or
// no name (or no validity period on a back) rejects, any other missing field asks for review,
// and no incomplete card is ever pass.
func TestExamineCompleteness(t *testing.T) {
	back := func(f func(*RawBack)) *RawBack { b := goodBack(); f(b); return b }
	tests := []struct {
		name    string
		front   *RawFront
		back    *RawBack
		check   string
		status  Status
		verdict Verdict
	}{
		{"front all empty", &RawFront{}, nil, CheckFrontComplete, StatusFail, VerdictReject},
		{"front of blanks", &RawFront{Name: " ", Gender: " ", Ethnicity: "", Address: "\u3000", IDNumber: " "}, nil, CheckFrontComplete, StatusFail, VerdictReject},
		{"name, no number", &RawFront{Name: "张三", Gender: "女", Ethnicity: "汉", Address: "广东省深圳市南山区"}, nil, CheckFrontComplete, StatusFail, VerdictReject},
		{"number, no name", &RawFront{Gender: "女", Ethnicity: "汉", Address: "广东省深圳市南山区", IDNumber: "440305199505132561"}, nil, CheckFrontComplete, StatusFail, VerdictReject},
		{"name of punctuation only", &RawFront{Name: "·", Gender: "女", Ethnicity: "汉", Address: "广东省深圳市南山区", IDNumber: "440305199505132561"}, nil, CheckFrontComplete, StatusFail, VerdictReject},
		{"no gender", &RawFront{Name: "张三", Ethnicity: "汉", Address: "广东省深圳市南山区", IDNumber: "440305199505132561"}, nil, CheckFrontComplete, StatusWarn, VerdictReview},
		{"no ethnicity", &RawFront{Name: "张三", Gender: "女", Address: "广东省深圳市南山区", IDNumber: "440305199505132561"}, nil, CheckFrontComplete, StatusWarn, VerdictReview},
		{"no address", &RawFront{Name: "张三", Gender: "女", Ethnicity: "汉", IDNumber: "440305199505132561"}, nil, CheckFrontComplete, StatusWarn, VerdictReview},
		{"complete front", goodFront(), nil, CheckFrontComplete, StatusPass, VerdictPass},
		{"back, empty validity", nil, back(func(b *RawBack) { b.ValidDate = "" }), CheckBackComplete, StatusFail, VerdictReject},
		{"back, empty validity, no authority read", nil, &RawBack{NoAuthority: true}, CheckBackComplete, StatusFail, VerdictReject},
		{"back, no authority from a provider that reads it", nil, back(func(b *RawBack) { b.Authority = " " }), CheckBackComplete, StatusWarn, VerdictReview},
		{"back, no authority from a provider that never reads it", nil, &RawBack{ValidDate: "2021.03.01-2031.03.01", NoAuthority: true}, CheckBackComplete, StatusPass, VerdictPass},
		{"complete back", nil, goodBack(), CheckBackComplete, StatusPass, VerdictPass},
		{"both, back empty", goodFront(), &RawBack{NoAuthority: true}, CheckBackComplete, StatusFail, VerdictReject},
		{"both, front empty", &RawFront{}, goodBack(), CheckFrontComplete, StatusFail, VerdictReject},
		{"no sides", nil, nil, CheckFrontComplete, StatusSkip, VerdictPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Examine(tt.front, tt.back, testNow)
			if c := statusOf(r, tt.check); c.Status != tt.status {
				t.Errorf("%s = %s (%s), want %s", tt.check, c.Status, c.Message, tt.status)
			}
			if r.Verdict != tt.verdict {
				t.Errorf("verdict = %s, want %s; checks %+v", r.Verdict, tt.verdict, r.Checks)
			}
			if (tt.front != nil && (r.Card.Name == nil || r.Card.IDNumber == nil)) && r.Verdict == VerdictPass {
				t.Errorf("a front without a name or number passed: %+v", r.Checks)
			}
			if tt.status == StatusWarn && !slices.Contains(r.Warnings, tt.check) {
				t.Errorf("warnings %v lack %s", r.Warnings, tt.check)
			}
		})
	}
	if c := statusOf(Examine(&RawFront{Gender: "女"}, nil, testNow), CheckFrontComplete); c.Message != "not read: idNumber, name, ethnicity, address" {
		t.Errorf("message %q does not list what is missing in order", c.Message)
	}
}

func TestVerdictOfAndAdd(t *testing.T) {
	c := func(st Status) Check { return Check{Name: "x_" + string(st), Status: st, Message: "m"} }
	for _, tt := range []struct {
		checks []Check
		want   Verdict
	}{
		{nil, VerdictPass},
		{[]Check{c(StatusPass), c(StatusSkip)}, VerdictPass},
		{[]Check{c(StatusPass), c(StatusWarn)}, VerdictReview},
		{[]Check{c(StatusWarn), c(StatusFail), c(StatusWarn)}, VerdictReject},
	} {
		if got := VerdictOf(tt.checks); got != tt.want {
			t.Errorf("VerdictOf(%v) = %s, want %s", tt.checks, got, tt.want)
		}
	}
	// a check added after Examine moves the verdict like one of Examine's own
	r := Examine(goodFront(), goodBack(), testNow)
	r.Add(Check{Name: "not_photocopy", Status: StatusWarn, Message: "the provider saw a photocopy"})
	if r.Verdict != VerdictReview || !slices.Equal(r.Warnings, []string{"not_photocopy"}) || r.Checks[len(r.Checks)-1].Name != "not_photocopy" {
		t.Errorf("after a warn: verdict %s, warnings %v", r.Verdict, r.Warnings)
	}
	r.Add(Check{Name: "not_edited", Status: StatusFail, Message: "the provider saw an edit"})
	if r.Verdict != VerdictReject {
		t.Errorf("after a fail: verdict %s", r.Verdict)
	}
	var empty Report
	empty.Add()
	if empty.Verdict != VerdictPass || empty.Warnings == nil {
		t.Errorf("empty report after Add: %+v", empty)
	}
}

func TestExamineNationality(t *testing.T) {
	r := Examine(full("911398199012310021", "女", "北京市朝阳区某路"), nil, testNow)
	b, _ := json.Marshal(r.Card)
	if r.Verdict != VerdictPass || !strings.Contains(string(b), `"nationality":{"numeric":"398","alpha3":"KAZ","name":"Kazakhstan","nameZh":"哈萨克斯坦"}`) {
		t.Errorf("verdict %s, card %s", r.Verdict, b)
	}
	if c := statusOf(r, CheckIDNumber); !strings.Contains(c.Message, "nationality KAZ") || !strings.Contains(c.Message, "accepted in 北京市") {
		t.Errorf("id_number message %q", c.Message)
	}
	if r := Examine(goodFront(), nil, testNow); r.Card.Nationality != nil {
		t.Errorf("resident card has nationality %+v", r.Card.Nationality)
	}
}
