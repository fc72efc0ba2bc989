package idcard

import (
	"encoding/csv"
	"strings"
	"testing"
)

func TestLookupCountry(t *testing.T) {
	for code, want := range map[string]string{"398": "KAZ", "KAZ": "398", "840": "USA", "004": "AFG", "156": "CHN", "392": "JPN"} {
		c, ok := LookupCountry(code)
		if !ok || (c.Numeric != want && c.Alpha3 != want) || c.Name == "" || c.NameZh == "" {
			t.Errorf("LookupCountry(%s) = %+v, %v", code, c, ok)
		}
	}
	for _, code := range []string{"999", "000", "4", "04", "kaz", "XXX", "", "8400"} {
		if c, ok := LookupCountry(code); ok {
			t.Errorf("LookupCountry(%q) = %+v, want none", code, c)
		}
	}
	if c, _ := LookupCountry("398"); c.NameZh != "哈萨克斯坦" {
		t.Errorf("398 = %+v", c)
	}
}

// TestCountriesTable holds the shape of the shipped table: 249 ISO 3166-1 entries, each
// code unique and well formed.
func TestCountriesTable(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(countriesCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != 249 {
		t.Errorf("%d countries, want 249", len(rows)-1)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if len(r[0]) != 3 || !allDigits(r[0]) || len(r[1]) != 3 || strings.ToUpper(r[1]) != r[1] || seen[r[0]] || seen[r[1]] {
			t.Errorf("bad or repeated row %q", r)
		}
		seen[r[0]], seen[r[1]] = true, true
	}
}
