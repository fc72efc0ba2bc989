package idcard

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// DocumentType is the kind of document an ID number belongs to.
type DocumentType string

// Document types recognised by Analyze.
const (
	ResidentID           DocumentType = "resident_id"            // 18 characters, GB 11643-1999
	ResidentIDLegacy15   DocumentType = "resident_id_legacy15"   // first-generation 15 digits
	HKMacaoPermit        DocumentType = "hk_macao_permit"        // residence permit, region 810000/820000
	TaiwanPermit         DocumentType = "taiwan_permit"          // residence permit, region 830000
	ForeignPermanent2023 DocumentType = "foreign_permanent_2023" // 9 + province + nationality + birth + sequence + check
	ForeignPermanent2017 DocumentType = "foreign_permanent_2017" // 3 letters (nationality) + 12 digits
	UnknownDocument      DocumentType = "unknown"
)

// Problems is a set of reasons an ID number is invalid.
type Problems uint8

// Problems found by Analyze; any one makes the number invalid.
const (
	ProblemFormat          Problems = 1 << iota // length or characters fit no document type
	ProblemBirthDate                            // not a real date, before EarliestBirthYear or after today
	ProblemChecksum                             // check character does not match
	ProblemRegionUnknown                        // region code in no edition 1980-2023; for foreign_permanent_2023, no mainland province
	ProblemRegionNotCounty                      // a province code (xx0000) where a resident number needs a county
	ProblemNationality                          // foreign permanent number whose nationality is no ISO 3166-1 code
)

var problemNames = [...]string{"format", "birth_date", "checksum", "region_unknown", "region_not_county", "nationality_unknown"}

// Has reports whether p contains every problem in q.
func (p Problems) Has(q Problems) bool { return p&q == q }

// Strings returns the machine codes of p ("format", "birth_date", "checksum",
// "region_unknown", "region_not_county", "nationality_unknown"), never nil.
func (p Problems) Strings() []string { return bitNames(uint8(p), problemNames[:]) }

// MarshalJSON encodes p as an array of codes.
func (p Problems) MarshalJSON() ([]byte, error) { return bitsJSON(uint8(p), problemNames[:]), nil }

// Warnings is a set of observations that do not invalidate an ID number.
type Warnings uint8

// Warnings raised by Analyze. Only those in ReviewWarnings make the id_number check warn
// (and so the card review); the others are facts worth knowing that a genuine number often
// shows.
const (
	// WarnRegionRetired: the code is not in the latest edition but was in use when the holder
	// was born or later; Region names it as at birth. Old numbers keep their codes, so this
	// alone says nothing against the number.
	WarnRegionRetired Warnings = 1 << iota
	// WarnRegionNotYetInUse: the code was first listed after the birth year. A number is
	// assigned at first registration, which can be years after birth (first cards from 1984,
	// late household registration), so this alone says nothing against the number either.
	WarnRegionNotYetInUse
	WarnAgeOver120
	// WarnRegionRetiredBeforeBirth: the code had left the editions before the holder was born
	// (birth year after the first edition that no longer lists it), so it cannot have been
	// assigned to them.
	WarnRegionRetiredBeforeBirth
	// WarnRegionPrefecture: a prefecture-level code (xxxx00) of a prefecture that has county
	// codes under it; GB 11643 asks for the county. Prefecture-level cities without counties
	// (东莞 441900, 中山 442000, 儋州 460400) are the county level themselves and raise nothing.
	WarnRegionPrefecture
)

// ReviewWarnings are the warnings that make the id_number check warn: each says the number
// is unlikely as it stands, though not impossible. The rule for region codes follows from
// numbers being assigned at or after birth: a code first used after the birth year fits
// that, a code that had left use before the birth does not.
const ReviewWarnings = WarnAgeOver120 | WarnRegionRetiredBeforeBirth | WarnRegionPrefecture

var warningNames = [...]string{"region_retired", "region_not_yet_in_use", "age_over_120", "region_retired_before_birth", "region_prefecture_level"}

// Has reports whether w contains every warning in v.
func (w Warnings) Has(v Warnings) bool { return w&v == v }

// Strings returns the machine codes of w ("region_retired", "region_not_yet_in_use",
// "age_over_120", "region_retired_before_birth", "region_prefecture_level"), never nil.
func (w Warnings) Strings() []string { return bitNames(uint8(w), warningNames[:]) }

// MarshalJSON encodes w as an array of codes.
func (w Warnings) MarshalJSON() ([]byte, error) { return bitsJSON(uint8(w), warningNames[:]), nil }

func bitNames(bits uint8, names []string) []string {
	out := []string{}
	for i, n := range names {
		if bits&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func bitsJSON(bits uint8, names []string) []byte {
	b := []byte{'['}
	for i, n := range names {
		if bits&(1<<i) != 0 {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = append(append(append(b, '"'), n...), '"')
		}
	}
	return append(b, ']')
}

// Analysis is what an ID number says about itself.
type Analysis struct {
	Input string       // as given
	Type  DocumentType // UnknownDocument when the format fits none
	// Number is the normalised number; for a legacy 15-digit number, its 18-character upgrade.
	Number string
	// Legacy is the normalised 15-digit number when Type is ResidentIDLegacy15.
	Legacy string
	Birth  Date   // zero when the number carries no real birth date
	Gender string // "male" or "female"; "" when the number carries none
	Age    int    // completed years today (China Standard Time); 0 when Birth is zero
	// Region is the region code resolved against the birth year; Region.Code is "" when the
	// number carries no region code or the code is unknown. For ForeignPermanent2023 it is
	// the province of the accepting office (digits 2-3), resolved against today.
	Region Region
	// Nationality is the country a foreign permanent residence number names; zero for other
	// documents and for an unknown code.
	Nationality Country
	Problems    Problems
	Warnings    Warnings
}

// Valid reports whether the number has no problem.
func (a Analysis) Valid() bool { return a.Problems == 0 }

var checkWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckChar returns the ISO 7064 MOD 11-2 check character of the first 17 characters of s,
// or 0 if they are not 17 ASCII digits.
func CheckChar(s string) byte { return checkChar(s) }

func checkChar[T string | []byte](s T) byte {
	if len(s) < 17 {
		return 0
	}
	sum := 0
	for i := range 17 {
		d := s[i] - '0'
		if d > 9 {
			return 0
		}
		sum += int(d) * checkWeights[i]
	}
	return checkChars[sum%11]
}

// NormalizeNumber trims s, turns full-width digits and letters into ASCII and upper-cases
// letters (x → X). It allocates only when something changes.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('a' <= c && c <= 'z') {
			return normalizeSlow(s)
		}
	}
	return s
}

func normalizeSlow(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF10 && r <= 0xFF19, r >= 0xFF21 && r <= 0xFF3A, r >= 0xFF41 && r <= 0xFF5A:
			r -= 0xFEE0
		}
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		b = utf8.AppendRune(b, r)
	}
	return strings.TrimSpace(string(b))
}

// EarliestBirthYear is the earliest birth year a number can carry. GB 11643 sets no lower
// bound, so the bound comes from who can hold a number at all: numbers were first assigned
// with the first-generation cards in 1984, and nobody has been verified to live past 122
// (Jeanne Calment, 1875-1997), so a holder was born in 1984-122 = 1862 or later. Birth years
// from 1862 to 120 years ago are valid and raise WarnAgeOver120.
const EarliestBirthYear = 1862

// Analyze normalises id, recognises its document type and checks it: format, birth date
// (a real date from EarliestBirthYear to today in China Standard Time), check character,
// and region code against the editions 1980-2023 in force around the birth year (for the
// 2023 foreign permanent residence number: accepting province and nationality).
func Analyze(id string, now time.Time) Analysis {
	a := Analysis{Input: id, Type: UnknownDocument}
	s := NormalizeNumber(id)
	a.Number = s
	switch len(s) {
	case 18:
		if !allDigits(s[:17]) || !(isDigitByte(s[17]) || s[17] == 'X') {
			a.Problems |= ProblemFormat
			return a
		}
		switch {
		case s[0] == '9':
			a.Type = ForeignPermanent2023
		case s[:6] == "810000" || s[:6] == "820000":
			a.Type = HKMacaoPermit
		case s[:6] == "830000":
			a.Type = TaiwanPermit
		default:
			a.Type = ResidentID
		}
		if CheckChar(s) != s[17] {
			a.Problems |= ProblemChecksum
		}
		a.facts(s[6:14], s[16], now)
	case 15:
		switch {
		case allDigits(s):
			a.Type = ResidentIDLegacy15
			a.Legacy = s
			var up [18]byte
			copy(up[:6], s[:6])
			up[6], up[7] = '1', '9'
			copy(up[8:], s[6:])
			up[17] = checkChar(up[:])
			a.Number = string(up[:])
			a.facts(a.Number[6:14], s[14], now)
		case isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2]) && allDigits(s[3:]):
			// 2017 edition: nationality (ISO 3166-1 alpha-3) + acceptance office + YYMMDD +
			// sequence; beyond the format only the nationality is defined well enough to check.
			a.Type = ForeignPermanent2017
			a.nationality(s[:3])
		default:
			a.Problems |= ProblemFormat
		}
	default:
		a.Problems |= ProblemFormat
	}
	return a
}

// facts fills birth, gender, age, region and their problems and warnings from the YYYYMMDD
// birth field and the sequence digit whose parity gives the gender.
func (a *Analysis) facts(birth string, genderDigit byte, now time.Time) {
	if (genderDigit-'0')%2 == 1 {
		a.Gender = "male"
	} else {
		a.Gender = "female"
	}
	today := DateOf(now)
	d := Date{atoi(birth[:4]), atoi(birth[4:6]), atoi(birth[6:8])}
	if !d.valid() || d.Year < EarliestBirthYear || today.Before(d) {
		a.Problems |= ProblemBirthDate
	} else {
		a.Birth = d
		a.Age = d.AgeOn(today)
		if a.Age > 120 {
			a.Warnings |= WarnAgeOver120
		}
	}
	if a.Type == ForeignPermanent2023 {
		a.foreign2023(today)
		return
	}
	year := a.Birth.Year
	if year == 0 {
		year = today.Year
	}
	code := a.Number[:6]
	r, ok := LookupRegion(code, year)
	if !ok {
		a.Problems |= ProblemRegionUnknown
		return
	}
	a.Region = r
	if a.Type == HKMacaoPermit || a.Type == TaiwanPermit {
		// These codes name the holder's home region, not a birthplace, and stay in GB/T 2260;
		// the statistics bureau's 2023 edition merely leaves them out.
		a.Region.Current, a.Region.InUseAtBirth = true, true
		return
	}
	switch {
	case code[2:] == "0000":
		// GB 11643: the address code is that of the county (city, banner, district) of
		// first registration. A province code names none.
		a.Problems |= ProblemRegionNotCounty
	case code[4:] == "00" && hasCodesUnder(code):
		a.Warnings |= WarnRegionPrefecture
	}
	switch {
	case r.Current:
	case a.Birth.Year != 0 && a.Birth.Year > editionAfter(r.LastYear):
		a.Warnings |= WarnRegionRetiredBeforeBirth
	default:
		a.Warnings |= WarnRegionRetired
	}
	// Every code of the first edition (1980) may have been in use long before it.
	if a.Birth.Year != 0 && a.Birth.Year < r.FirstYear && r.FirstYear > rt.years[0] {
		a.Warnings |= WarnRegionNotYetInUse
	}
}

// foreign2023 checks what the 2023 foreign permanent residence number carries besides the
// birth date: digits 2-3 the province-level code of the accepting office, digits 4-6 the
// ISO 3166-1 numeric code of the nationality (see the package doc for the sources).
func (a *Analysis) foreign2023(today Date) {
	prov := a.Number[1:3]
	r, ok := LookupRegion(prov+"0000", today.Year)
	// offices are the mainland's provinces: 71 (台湾), 81, 82 and 83 accept no applications
	if !ok || !r.Current || prov >= "71" {
		a.Problems |= ProblemRegionUnknown
	} else {
		r.InUseAtBirth = true // not a birthplace: nothing to compare with the birth year
		a.Region = r
	}
	a.nationality(a.Number[3:6])
}

// nationality sets Nationality from an ISO 3166-1 numeric or alpha-3 code.
func (a *Analysis) nationality(code string) {
	if c, ok := LookupCountry(code); ok {
		a.Nationality = c
	} else {
		a.Problems |= ProblemNationality
	}
}

func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool     { return 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) {
			return false
		}
	}
	return true
}

// Mask hides an ID number for logs: the first 4 and last 4 characters are kept and the rest
// become '*' ("4403**********2561"). Input shorter than 12 characters is masked entirely, so
// that a mask never reveals most of a short string; "" stays "".
func Mask(id string) string {
	id = strings.TrimSpace(id)
	n := utf8.RuneCountInString(id)
	if n == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(len(id))
	i := 0
	for _, r := range id {
		if n >= 12 && (i < 4 || i >= n-4) {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

// AnalysisRecord is the wire form of an Analysis (the validate command's output line):
// facts the number does not carry are nil.
type AnalysisRecord struct {
	Input        string       `json:"input"`
	Valid        bool         `json:"valid"`
	DocumentType DocumentType `json:"documentType"`
	IDNumber     string       `json:"idNumber"`
	LegacyNumber string       `json:"legacyNumber,omitempty"`
	BirthDate    *string      `json:"birthDate"`
	Gender       *string      `json:"gender"`
	Age          *int         `json:"age"`
	Region       *Region      `json:"region"`
	Nationality  *Country     `json:"nationality"` // foreign permanent residence numbers only
	Problems     Problems     `json:"problems"`
	Warnings     Warnings     `json:"warnings"`
}

// MarshalJSON encodes a as its Record.
func (a Analysis) MarshalJSON() ([]byte, error) { return json.Marshal(a.Record()) }

// Record returns the wire form of a: {input, valid, documentType, idNumber, legacyNumber
// (15-digit inputs only), birthDate, gender, age, region, nationality, problems, warnings}.
func (a Analysis) Record() AnalysisRecord {
	j := AnalysisRecord{
		Input: a.Input, Valid: a.Valid(), DocumentType: a.Type, IDNumber: a.Number,
		LegacyNumber: a.Legacy, Gender: nonEmpty(a.Gender), Problems: a.Problems, Warnings: a.Warnings,
	}
	if !a.Birth.IsZero() {
		j.BirthDate = nonEmpty(a.Birth.String())
		j.Age = &a.Age
	}
	if a.Region.Code != "" {
		j.Region = &a.Region
	}
	if a.Nationality.Numeric != "" {
		j.Nationality = &a.Nationality
	}
	return j
}
