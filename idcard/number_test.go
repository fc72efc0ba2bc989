package idcard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// testNow is 2025-06-15 00:30 in China, still 14 June in UTC: dates must be judged in China.
var testNow = time.Date(2025, 6, 14, 16, 30, 0, 0, time.UTC)

// withCheck appends the check character to 17 digits.
func withCheck(s17 string) string { return s17 + string(CheckChar(s17)) }

// badCheck appends a wrong check character to 17 digits.
func badCheck(s17 string) string {
	c := CheckChar(s17)
	if c == '0' {
		return s17 + "1"
	}
	return s17 + "0"
}

func TestCheckChar(t *testing.T) {
	for id, want := range map[string]byte{"440305199505132561": '1', "11010519491231002X": 'X', "371002200610020000": '3'} {
		if got := CheckChar(id); got != want {
			t.Errorf("CheckChar(%s) = %c, want %c", id, got, want)
		}
	}
	if CheckChar("1234") != 0 || CheckChar("1234567890123456A") != 0 {
		t.Error("CheckChar accepted a short or non-digit prefix")
	}
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		typ      DocumentType
		number   string
		legacy   string
		birth    string
		gender   string
		age      int
		region   string // full name; "" for none
		problems []string
		warnings []string
	}{
		{"platform example", "440305199505132561", ResidentID, "440305199505132561", "", "1995-05-13", "female", 30, "广东省深圳市南山区", nil, nil},
		{"X check character", "11010519491231002X", ResidentID, "11010519491231002X", "", "1949-12-31", "female", 75, "北京市朝阳区", nil, nil},
		{"bad checksum", "371002200610020000", ResidentID, "371002200610020000", "", "2006-10-02", "female", 18, "山东省威海市环翠区", []string{"checksum"}, nil},
		{"lower-case x", "11010519491231002x", ResidentID, "11010519491231002X", "", "1949-12-31", "female", 75, "北京市朝阳区", nil, nil},
		{"full-width and spaces", "　４４０３０５１９９５０５１３２５６１ ", ResidentID, "440305199505132561", "", "1995-05-13", "female", 30, "广东省深圳市南山区", nil, nil},
		{"full-width x", "11010519491231002ｘ", ResidentID, "11010519491231002X", "", "1949-12-31", "female", 75, "北京市朝阳区", nil, nil},
		{"440308 in 1999", withCheck("44030819990101123"), ResidentID, withCheck("44030819990101123"), "", "1999-01-01", "male", 26, "广东省深圳市盐田区", nil, nil},
		{"reused code, born 1980", withCheck("36232419800101001"), ResidentID, withCheck("36232419800101001"), "", "1980-01-01", "male", 45, "江西省宜春地区丰城县", nil, []string{"region_retired"}},
		{"reused code, born 1985", withCheck("36232419850101001"), ResidentID, withCheck("36232419850101001"), "", "1985-01-01", "male", 40, "江西省上饶地区铅山县", nil, []string{"region_retired"}},
		{"not yet in use", withCheck("44030819900101001"), ResidentID, withCheck("44030819900101001"), "", "1990-01-01", "male", 35, "广东省深圳市盐田区", nil, []string{"region_not_yet_in_use"}},
		{"in the first edition: no not-yet warning", withCheck("11010519500101001"), ResidentID, withCheck("11010519500101001"), "", "1950-01-01", "male", 75, "北京市朝阳区", nil, nil},
		{"over 120", withCheck("11010519000101001"), ResidentID, withCheck("11010519000101001"), "", "1900-01-01", "male", 125, "北京市朝阳区", nil, []string{"age_over_120"}},
		{"exactly 120", withCheck("11010519050615001"), ResidentID, withCheck("11010519050615001"), "", "1905-06-15", "male", 120, "北京市朝阳区", nil, nil},
		{"born today in China", withCheck("11010520250615002"), ResidentID, withCheck("11010520250615002"), "", "2025-06-15", "female", 0, "北京市朝阳区", nil, nil},
		{"29 Feb leap year", withCheck("44030520000229002"), ResidentID, withCheck("44030520000229002"), "", "2000-02-29", "female", 25, "广东省深圳市南山区", nil, nil},
		{"29 Feb common year", withCheck("44030519990229002"), ResidentID, withCheck("44030519990229002"), "", "", "female", 0, "广东省深圳市南山区", []string{"birth_date"}, nil},
		{"29 Feb 1900 is not a date", withCheck("11010519000229002"), ResidentID, withCheck("11010519000229002"), "", "", "female", 0, "北京市朝阳区", []string{"birth_date"}, nil},
		{"month 13", withCheck("44030519951301002"), ResidentID, withCheck("44030519951301002"), "", "", "female", 0, "广东省深圳市南山区", []string{"birth_date"}, nil},
		// issue 7 §5: GB 11643 sets no lower bound; EarliestBirthYear (1862) is the rule
		{"1899 is valid, over 120", withCheck("11010518991231002"), ResidentID, withCheck("11010518991231002"), "", "1899-12-31", "female", 125, "北京市朝阳区", nil, []string{"age_over_120"}},
		{"1862-01-01, the earliest", withCheck("11010518620101002"), ResidentID, withCheck("11010518620101002"), "", "1862-01-01", "female", 163, "北京市朝阳区", nil, []string{"age_over_120"}},
		{"1861-12-31, before anyone alive in 1984", withCheck("11010518611231002"), ResidentID, withCheck("11010518611231002"), "", "", "female", 0, "北京市朝阳区", []string{"birth_date"}, nil},
		{"year 0001", withCheck("11010500010101002"), ResidentID, withCheck("11010500010101002"), "", "", "female", 0, "北京市朝阳区", []string{"birth_date"}, nil},
		{"tomorrow in China", withCheck("11010520250616002"), ResidentID, withCheck("11010520250616002"), "", "", "female", 0, "北京市朝阳区", []string{"birth_date"}, nil},
		{"unknown region", withCheck("12345619900101001"), ResidentID, withCheck("12345619900101001"), "", "1990-01-01", "male", 35, "", []string{"region_unknown"}, nil},
		{"several problems", badCheck("12345619901301001"), ResidentID, badCheck("12345619901301001"), "", "", "male", 0, "", []string{"birth_date", "checksum", "region_unknown"}, nil},
		{"legacy 15", "440305950513256", ResidentIDLegacy15, "440305199505132561", "440305950513256", "1995-05-13", "female", 30, "广东省深圳市南山区", nil, nil},
		{"legacy 15 male, retired code", "362324800101001", ResidentIDLegacy15, withCheck("36232419800101001"), "362324800101001", "1980-01-01", "male", 45, "江西省宜春地区丰城县", nil, []string{"region_retired"}},
		{"legacy 15 bad date", "440305950230256", ResidentIDLegacy15, withCheck("44030519950230256"), "440305950230256", "", "female", 0, "广东省深圳市南山区", []string{"birth_date"}, nil},
		{"hong kong permit", withCheck("81000019900101001"), HKMacaoPermit, withCheck("81000019900101001"), "", "1990-01-01", "male", 35, "香港特别行政区", nil, nil},
		{"macao permit", withCheck("82000019900101002"), HKMacaoPermit, withCheck("82000019900101002"), "", "1990-01-01", "female", 35, "澳门特别行政区", nil, nil},
		{"taiwan permit", withCheck("83000019900101001"), TaiwanPermit, withCheck("83000019900101001"), "", "1990-01-01", "male", 35, "台湾省", nil, nil},
		{"permit bad checksum", badCheck("83000019900101001"), TaiwanPermit, badCheck("83000019900101001"), "", "1990-01-01", "male", 35, "台湾省", []string{"checksum"}, nil},
		{"foreign 2023", withCheck("91184019850101001"), ForeignPermanent2023, withCheck("91184019850101001"), "", "1985-01-01", "male", 40, "北京市", nil, nil},
		{"foreign 2023 bad checksum", badCheck("91184019850101001"), ForeignPermanent2023, badCheck("91184019850101001"), "", "1985-01-01", "male", 40, "北京市", []string{"checksum"}, nil},
		// issue 7 §2: 999999199001011238 was accepted; 99 is no province, 999 no country
		{"foreign 2023 all nines", "999999199001011238", ForeignPermanent2023, "999999199001011238", "", "1990-01-01", "male", 35, "", []string{"region_unknown", "nationality_unknown"}, nil},
		{"foreign 2023 credentialkit example", "911398199012310021", ForeignPermanent2023, "911398199012310021", "", "1990-12-31", "female", 34, "北京市", nil, nil},
		{"foreign 2023 unknown country", withCheck("91199919900101002"), ForeignPermanent2023, withCheck("91199919900101002"), "", "1990-01-01", "female", 35, "北京市", []string{"nationality_unknown"}, nil},
		{"foreign 2023 province 99", withCheck("99939819900101002"), ForeignPermanent2023, withCheck("99939819900101002"), "", "1990-01-01", "female", 35, "", []string{"region_unknown"}, nil},
		{"foreign 2023 province 81 (Hong Kong)", withCheck("98139819900101002"), ForeignPermanent2023, withCheck("98139819900101002"), "", "1990-01-01", "female", 35, "", []string{"region_unknown"}, nil},
		{"foreign 2023 province 44", withCheck("94439219900101002"), ForeignPermanent2023, withCheck("94439219900101002"), "", "1990-01-01", "female", 35, "广东省", nil, nil},
		{"foreign 2023 bad date", withCheck("94439219901301002"), ForeignPermanent2023, withCheck("94439219901301002"), "", "", "female", 0, "广东省", []string{"birth_date"}, nil},
		{"foreign 2017 unknown nationality", "XXX110085060112", ForeignPermanent2017, "XXX110085060112", "", "", "", 0, "", []string{"nationality_unknown"}, nil},
		// issue 7 §1: 市辖区 codes
		{"440301 深圳市市辖区", withCheck("44030119900101001"), ResidentID, withCheck("44030119900101001"), "", "1990-01-01", "male", 35, "广东省深圳市市辖区", nil, nil},
		{"440101 广州市市辖区, born 1970", withCheck("44010119700101001"), ResidentID, withCheck("44010119700101001"), "", "1970-01-01", "male", 55, "广东省广州市市辖区", nil, nil},
		{"371001 威海市市辖区, born 1990 (city since 1987)", withCheck("37100119900101001"), ResidentID, withCheck("37100119900101001"), "", "1990-01-01", "male", 35, "山东省威海市市辖区", nil, nil},
		{"371001 威海市市辖区, born 1960 before the city", withCheck("37100119600101001"), ResidentID, withCheck("37100119600101001"), "", "1960-01-01", "male", 65, "山东省威海市市辖区", nil, []string{"region_not_yet_in_use"}},
		{"371201 莱芜市市辖区, merged 2019", withCheck("37120120000101001"), ResidentID, withCheck("37120120000101001"), "", "2000-01-01", "male", 25, "山东省莱芜市市辖区", nil, []string{"region_retired"}},
		// 1980-1982 市区 codes (xxxx20), replaced by xxxx01 from 1983
		{"140120 太原市市区, born 1979", withCheck("14012019790101000"), ResidentID, withCheck("14012019790101000"), "", "1979-01-01", "female", 46, "山西省太原市市区", nil, []string{"region_retired"}},
		{"440620 中山市 stays a county-level city in 1983", withCheck("44062019830101000"), ResidentID, withCheck("44062019830101000"), "", "1983-01-01", "female", 42, "广东省佛山市中山市", nil, []string{"region_retired"}},
		// issue 7 §1: prefecture- and province-level codes
		{"441900 东莞市, a city without counties", withCheck("44190019900101001"), ResidentID, withCheck("44190019900101001"), "", "1990-01-01", "male", 35, "广东省东莞市", nil, nil},
		{"620200 嘉峪关市, a city whose only row under it is 市辖区", withCheck("62020019900101001"), ResidentID, withCheck("62020019900101001"), "", "1990-01-01", "male", 35, "甘肃省嘉峪关市", nil, nil},
		{"440300 深圳市, a prefecture with districts", withCheck("44030019900101001"), ResidentID, withCheck("44030019900101001"), "", "1990-01-01", "male", 35, "广东省深圳市", nil, []string{"region_prefecture_level"}},
		{"110000 北京市, a province", withCheck("11000019900101001"), ResidentID, withCheck("11000019900101001"), "", "1990-01-01", "male", 35, "北京市", []string{"region_not_county"}, nil},
		{"110000 legacy 15", "110000900101001", ResidentIDLegacy15, withCheck("11000019900101001"), "110000900101001", "1990-01-01", "male", 35, "北京市", []string{"region_not_county"}, nil},
		// issue 7 §4: retired before birth
		{"110201 retired 1981, born 1993", "110201199312010077", ResidentID, "110201199312010077", "", "1993-12-01", "male", 31, "北京市昌平县", nil, []string{"region_retired_before_birth"}},
		{"362324 retired after 1999, born 2000: the year after may precede retirement", withCheck("36232420000101001"), ResidentID, withCheck("36232420000101001"), "", "2000-01-01", "male", 25, "江西省上饶地区铅山县", nil, []string{"region_retired"}},
		{"362324 retired after 1999, born 2001", withCheck("36232420010101001"), ResidentID, withCheck("36232420010101001"), "", "2001-01-01", "male", 24, "江西省上饶地区铅山县", nil, []string{"region_retired_before_birth"}},
		{"foreign 2017 (credentialkit's KAZ110090123105)", "KAZ110090123105", ForeignPermanent2017, "KAZ110090123105", "", "", "", 0, "", nil, nil},
		{"foreign 2017", "USA110085060112", ForeignPermanent2017, "USA110085060112", "", "", "", 0, "", nil, nil},
		{"foreign 2017 lower case", "usa110085060112", ForeignPermanent2017, "USA110085060112", "", "", "", 0, "", nil, nil},
		{"empty", "", UnknownDocument, "", "", "", "", 0, "", []string{"format"}, nil},
		{"17 digits", "44030519950513256", UnknownDocument, "44030519950513256", "", "", "", 0, "", []string{"format"}, nil},
		{"letter inside", "4403051995O5132561", UnknownDocument, "4403051995O5132561", "", "", "", 0, "", []string{"format"}, nil},
		{"X not last", "4403051995X5132561", UnknownDocument, "4403051995X5132561", "", "", "", 0, "", []string{"format"}, nil},
		{"15 mixed", "44030595051325X", UnknownDocument, "44030595051325X", "", "", "", 0, "", []string{"format"}, nil},
		{"inner space", "440305 199505132561", UnknownDocument, "440305 199505132561", "", "", "", 0, "", []string{"format"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.in, testNow)
			if a.Input != tt.in || a.Type != tt.typ || a.Number != tt.number || a.Legacy != tt.legacy ||
				a.Birth.String() != tt.birth || a.Gender != tt.gender || a.Age != tt.age || a.Region.Name != tt.region {
				t.Errorf("Analyze(%q) = %+v\nwant type %s number %s legacy %s birth %s gender %s age %d region %s",
					tt.in, a, tt.typ, tt.number, tt.legacy, tt.birth, tt.gender, tt.age, tt.region)
			}
			if got := a.Problems.Strings(); !slices.Equal(got, orEmpty(tt.problems)) {
				t.Errorf("problems = %v, want %v", got, tt.problems)
			}
			if got := a.Warnings.Strings(); !slices.Equal(got, orEmpty(tt.warnings)) {
				t.Errorf("warnings = %v, want %v", got, tt.warnings)
			}
			if a.Valid() != (len(tt.problems) == 0) {
				t.Errorf("Valid() = %v with problems %v", a.Valid(), tt.problems)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestAnalyzePermitRegionIsCurrent(t *testing.T) {
	a := Analyze(withCheck("81000019900101001"), testNow)
	if !a.Region.Current || !a.Region.InUseAtBirth || a.Region.Code != "810000" {
		t.Errorf("permit region = %+v, want current and in use", a.Region)
	}
}

func TestAnalyzeRegionAtBirth(t *testing.T) {
	a := Analyze(withCheck("36232419850101001"), testNow)
	r := a.Region
	if r.Code != "362324" || r.Province != "江西省" || r.Prefecture != "上饶地区" || r.County != "铅山县" ||
		r.Current || !r.InUseAtBirth || r.Edition != 1985 {
		t.Errorf("region = %+v", r)
	}
}

func TestAnalysisJSON(t *testing.T) {
	b, err := json.Marshal(Analyze("440305950513256", testNow))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"input": "440305950513256", "valid": true, "documentType": "resident_id_legacy15",
		"idNumber": "440305199505132561", "legacyNumber": "440305950513256", "birthDate": "1995-05-13",
		"gender": "female", "age": 30.0, "problems": []any{}, "warnings": []any{},
	}
	for k, v := range want {
		if gb, _ := json.Marshal(m[k]); string(gb) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, gb, mustJSON(v))
		}
	}
	region, _ := m["region"].(map[string]any)
	if region["name"] != "广东省深圳市南山区" || region["code"] != "440305" || region["inUseAtBirth"] != true || region["current"] != true {
		t.Errorf("region = %v", region)
	}

	b, _ = json.Marshal(Analyze("bogus", testNow))
	for _, frag := range []string{`"valid":false`, `"documentType":"unknown"`, `"birthDate":null`, `"gender":null`, `"age":null`, `"region":null`, `"problems":["format"]`, `"warnings":[]`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("%s lacks %s", b, frag)
		}
	}
	if strings.Contains(string(b), "legacyNumber") {
		t.Errorf("%s has legacyNumber for a non-legacy input", b)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAnalyzeAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { Analyze("440305199505132561", testNow) })
	if n > 2 {
		t.Errorf("Analyze allocates %v times, budget 2", n)
	}
}

func TestMask(t *testing.T) {
	tests := map[string]string{
		"440305199505132561": "4403**********2561",
		"11010519491231002X": "1101**********002X",
		" 440305950513256 ":  "4403*******3256",
		"":                   "",
		"   ":                "",
		"12345":              "*****",
		"12345678901":        "***********",
		"123456789012":       "1234****9012",
		"４４０３０５１９９５０５１３２５６１": "４４０３**********２５６１",
	}
	for in, want := range tests {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
