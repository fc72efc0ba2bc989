package idcard

import (
	_ "embed" // countries.csv
	"encoding/csv"
	"strings"
	"sync"
)

// countriesCSV is the ISO 3166-1 list (numeric, alpha-3, English and Chinese names) taken
// from the datasets/country-codes data package; see countries.md for the source, the
// licence and how the file was made.
//
//go:embed countries.csv
var countriesCSV string

// Country is an ISO 3166-1 country, the nationality a foreign permanent residence number
// carries.
type Country struct {
	Numeric string `json:"numeric"` // ISO 3166-1 numeric, 3 digits ("840")
	Alpha3  string `json:"alpha3"`  // ISO 3166-1 alpha-3 ("USA")
	Name    string `json:"name"`    // English official name
	NameZh  string `json:"nameZh"`  // Chinese official name (UNTERM)
}

var countryIndex = sync.OnceValue(func() map[string]Country {
	rows, err := csv.NewReader(strings.NewReader(countriesCSV)).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "numeric,alpha3,name,nameZh" {
		panic("idcard: countries.csv is not the expected table") // embedded and tested: a build defect
	}
	m := make(map[string]Country, 2*len(rows))
	for _, r := range rows[1:] {
		c := Country{Numeric: r[0], Alpha3: r[1], Name: r[2], NameZh: r[3]}
		m[c.Numeric], m[c.Alpha3] = c, c
	}
	return m
})

// LookupCountry finds an ISO 3166-1 country by its 3-digit numeric code ("398") or its
// alpha-3 code ("KAZ"); ok is false for anything else.
func LookupCountry(code string) (c Country, ok bool) {
	if len(code) != 3 {
		return Country{}, false
	}
	c, ok = countryIndex()[code]
	return c, ok
}
