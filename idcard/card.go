package idcard

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// RawFront holds the strings a provider read from the front of a card; "" means absent.
type RawFront struct{ Name, Gender, Ethnicity, BirthDate, Address, IDNumber string }

// RawBack holds the strings a provider read from the back of a card; "" means absent.
// ValidDate is a range "A-B" in any form ParseValidity accepts, or "A-长期".
type RawBack struct {
	Authority, ValidDate string
	// NoAuthority says the provider never reads the issuing authority (WeChat's OCR), so an
	// empty Authority is not a missing field. The zero value expects it: a provider that
	// forgets to say so gets its empty authorities flagged, not silently passed.
	NoAuthority bool
}

// Card is the normalised union of both sides. Every field is nil (null in JSON) when the
// side that carries it is missing or the provider returned nothing for it.
type Card struct {
	Name      *string `json:"name"`
	Gender    *string `json:"gender"`    // male|female
	Ethnicity *string `json:"ethnicity"` // current printed name, without 族
	BirthDate *string `json:"birthDate"` // YYYY-MM-DD, printed or from the number
	Address   *string `json:"address"`
	IDNumber  *string `json:"idNumber"` // normalised; 18 characters for a legacy number
	Authority *string `json:"authority"`
	ValidFrom *string `json:"validFrom"` // YYYY-MM-DD
	ValidTo   *string `json:"validTo"`   // YYYY-MM-DD; nil when long-term
	LongTerm  *bool   `json:"longTerm"`
	// Nationality is the one the number names (foreign permanent residence cards); nil for
	// other documents.
	Nationality *Country `json:"nationality"`
}

// Status is the outcome of one check, and also its effect on the verdict: StatusFail makes
// the card VerdictReject, StatusWarn makes it at least VerdictReview, StatusPass and
// StatusSkip leave the verdict alone.
type Status string

// Check outcomes; StatusSkip means the check's inputs are missing. A skip never hides a
// missing field: CheckFrontComplete and CheckBackComplete report those.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusSkip Status = "skip"
)

// Check is one card check. Messages never contain the ID number, name or address.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
}

// Names of the card checks, in the order Examine reports them.
const (
	CheckFrontComplete      = "front_complete"
	CheckBackComplete       = "back_complete"
	CheckIDNumber           = "id_number"
	CheckBirthConsistent    = "birth_consistent"
	CheckGenderConsistent   = "gender_consistent"
	CheckEthnicityKnown     = "ethnicity_known"
	CheckAddressRegion      = "address_region"
	CheckValiditySpan       = "validity_span"
	CheckIssueDatePlausible = "issue_date_plausible"
	CheckNotExpired         = "not_expired"
)

// Verdict sums up a card's checks.
type Verdict string

// Verdicts: reject if any check fails, review if any warns, else pass (see VerdictOf).
const (
	VerdictPass   Verdict = "pass"
	VerdictReview Verdict = "review"
	VerdictReject Verdict = "reject"
)

// Report is the outcome of Examine.
type Report struct {
	Card    Card    `json:"card"`
	Checks  []Check `json:"checks"`
	Verdict Verdict `json:"verdict"`
	// Warnings are machine codes: the number's analysis warnings, then the names of the checks
	// that warned. Never nil.
	Warnings []string `json:"warnings"`
}

// VerdictOf is the verdict rule, the only one: VerdictReject if any check has StatusFail,
// else VerdictReview if any has StatusWarn, else VerdictPass. Whatever should move a card
// away from pass is a check with that status; nothing else is consulted, so a new check
// (a provider's fraud warning, say) needs no change here.
func VerdictOf(checks []Check) Verdict {
	v := VerdictPass
	for _, c := range checks {
		switch c.Status {
		case StatusFail:
			return VerdictReject
		case StatusWarn:
			v = VerdictReview
		}
	}
	return v
}

// Add appends checks made outside Examine (from a provider's own warnings, for example) and
// updates Verdict and Warnings by the same rule as Examine's checks.
func (r *Report) Add(checks ...Check) {
	r.Checks = slices.Grow(r.Checks, len(checks)) // one allocation, not one per doubling
	for _, c := range checks {
		r.Checks = append(r.Checks, c)
		if c.Status == StatusWarn {
			r.Warnings = append(r.Warnings, c.Name)
		}
	}
	r.Verdict = VerdictOf(r.Checks)
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
}

// applicationLag is how long before the issue date an application may have been made: the
// law ties the validity period to the age when applying, so a card issued shortly after a
// 16th, 26th or 46th birthday may carry the shorter period.
const applicationLag = 92 // days

// Examine normalises the fields of a card and checks them against each other and against
// now (judged in China Standard Time). Either side may be nil.
func Examine(front *RawFront, back *RawBack, now time.Time) Report {
	today := DateOf(now)
	var card Card
	var an *Analysis
	var printedBirth Date
	printedBirthBad := false
	if front != nil {
		card.Name = nonEmpty(CleanName(front.Name))
		card.Address = nonEmpty(CleanText(front.Address))
		if g, ok := NormalizeGender(front.Gender); ok {
			card.Gender = &g
		}
		if front.Ethnicity != "" {
			e, _ := NormalizeEthnicity(front.Ethnicity)
			card.Ethnicity = nonEmpty(e)
		}
		if strings.TrimSpace(front.IDNumber) != "" {
			a := Analyze(front.IDNumber, now)
			an = &a
			card.IDNumber = nonEmpty(a.Number)
			if a.Nationality.Numeric != "" {
				nat := a.Nationality
				card.Nationality = &nat
			}
		}
		if strings.TrimSpace(front.BirthDate) != "" {
			d, err := ParseDate(front.BirthDate)
			printedBirth, printedBirthBad = d, err != nil
		}
		switch {
		case !printedBirth.IsZero():
			card.BirthDate = nonEmpty(printedBirth.String())
		case an != nil && !an.Birth.IsZero():
			card.BirthDate = nonEmpty(an.Birth.String())
		}
	}
	var validity Validity
	validityBad, haveValidity := false, false
	if back != nil {
		card.Authority = nonEmpty(CleanText(back.Authority))
		if strings.TrimSpace(back.ValidDate) != "" {
			v, err := ParseValidity(back.ValidDate)
			if err != nil {
				validityBad = true
			} else {
				validity, haveValidity = v, true
				card.ValidFrom = nonEmpty(v.From.String())
				if !v.LongTerm {
					card.ValidTo = nonEmpty(v.To.String())
				}
				lt := v.LongTerm
				card.LongTerm = &lt
			}
		}
	}
	birth := printedBirth
	if birth.IsZero() && an != nil {
		birth = an.Birth
	}

	checks := []Check{
		checkFrontComplete(front, card),
		checkBackComplete(back, card),
		checkIDNumber(an),
		checkBirth(an, front, printedBirth, printedBirthBad),
		checkGender(an, front),
		checkEthnicity(front),
		checkAddress(an, front, today),
		checkSpan(an, birth, validity, haveValidity, validityBad, back),
		checkIssueDate(birth, validity, haveValidity, today),
		checkExpiry(validity, haveValidity, today),
	}
	r := Report{Warnings: []string{}, Card: card}
	if an != nil {
		r.Warnings = append(r.Warnings, an.Warnings.Strings()...)
	}
	r.Add(checks...)
	return r
}

// checkFrontComplete: without the number or the name nothing identifies the holder, so the
// card is rejected (retake the photo); a missing gender, ethnicity or address leaves the
// identity read and checked, and asks for a person to look.
func checkFrontComplete(f *RawFront, c Card) Check {
	const n = CheckFrontComplete
	if f == nil {
		return check(n, StatusSkip, "no front")
	}
	var hard, soft []string
	if strings.TrimSpace(f.IDNumber) == "" {
		hard = append(hard, "idNumber")
	}
	if !hasLetter(c.Name) { // "·" alone is punctuation the provider read, not a name
		hard = append(hard, "name")
	}
	if strings.TrimSpace(f.Gender) == "" {
		soft = append(soft, "gender")
	}
	if strings.TrimSpace(f.Ethnicity) == "" {
		soft = append(soft, "ethnicity")
	}
	if !hasLetter(c.Address) {
		soft = append(soft, "address")
	}
	return completeness(n, hard, soft)
}

// checkBackComplete: the validity period is all a back carries that can be checked, so a
// back without one is rejected; a missing authority (from a provider that reads it) is
// reviewed.
func checkBackComplete(b *RawBack, c Card) Check {
	const n = CheckBackComplete
	if b == nil {
		return check(n, StatusSkip, "no back")
	}
	var hard, soft []string
	if strings.TrimSpace(b.ValidDate) == "" {
		hard = append(hard, "validDate")
	}
	if c.Authority == nil && !b.NoAuthority {
		soft = append(soft, "authority")
	}
	return completeness(n, hard, soft)
}

func hasLetter(s *string) bool {
	return s != nil && strings.IndexFunc(*s, unicode.IsLetter) >= 0
}

func completeness(n string, hard, soft []string) Check {
	switch {
	case len(hard) > 0:
		return check(n, StatusFail, "not read: %s", strings.Join(append(hard, soft...), ", "))
	case len(soft) > 0:
		return check(n, StatusWarn, "not read: %s", strings.Join(soft, ", "))
	}
	return check(n, StatusPass, "every field read")
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func check(name string, st Status, format string, args ...any) Check {
	return Check{Name: name, Status: st, Message: fmt.Sprintf(format, args...)}
}

func checkIDNumber(a *Analysis) Check {
	const n = CheckIDNumber
	if a == nil {
		return check(n, StatusSkip, "no ID number")
	}
	if !a.Valid() {
		return check(n, StatusFail, "invalid %s: %s", a.Type, strings.Join(a.Problems.Strings(), ", "))
	}
	var b strings.Builder
	st := StatusPass
	switch {
	case a.Warnings&ReviewWarnings != 0:
		st = StatusWarn
		fmt.Fprintf(&b, "%s with warnings: %s", a.Type, strings.Join(a.Warnings.Strings(), ", "))
	case a.Warnings != 0: // facts a genuine number often shows: reported, verdict unchanged
		fmt.Fprintf(&b, "valid %s (%s)", a.Type, strings.Join(a.Warnings.Strings(), ", "))
	default:
		fmt.Fprintf(&b, "valid %s", a.Type)
	}
	switch {
	case a.Type == ForeignPermanent2023:
		fmt.Fprintf(&b, ", accepted in %s", a.Region.Name)
	case a.Region.Code != "" && a.Warnings != 0:
		fmt.Fprintf(&b, ", region as at birth %s (listed %d-%d)", a.Region.Name, a.Region.FirstYear, a.Region.LastYear)
	case a.Region.Code != "":
		fmt.Fprintf(&b, ", region %s", a.Region.Name)
	}
	if a.Nationality.Numeric != "" {
		fmt.Fprintf(&b, ", nationality %s %s", a.Nationality.Alpha3, a.Nationality.Name)
	}
	return check(n, st, "%s", b.String())
}

func checkBirth(a *Analysis, f *RawFront, printed Date, bad bool) Check {
	const n = CheckBirthConsistent
	switch {
	case f == nil || (printed.IsZero() && !bad):
		return check(n, StatusSkip, "no printed birth date")
	case bad:
		return check(n, StatusFail, "printed birth date is not a date")
	case a == nil || a.Birth.IsZero():
		return check(n, StatusSkip, "the ID number carries no readable birth date")
	case printed != a.Birth:
		return check(n, StatusFail, "printed birth date differs from the ID number's")
	}
	return check(n, StatusPass, "printed birth date matches the ID number")
}

func checkGender(a *Analysis, f *RawFront) Check {
	const n = CheckGenderConsistent
	if f == nil || strings.TrimSpace(f.Gender) == "" {
		return check(n, StatusSkip, "no printed gender")
	}
	g, ok := NormalizeGender(f.Gender)
	switch {
	case !ok:
		return check(n, StatusFail, "printed gender is neither 男 nor 女")
	case a == nil || a.Gender == "":
		return check(n, StatusSkip, "the ID number carries no gender")
	case g != a.Gender:
		return check(n, StatusFail, "printed gender %s, ID number says %s", g, a.Gender)
	}
	return check(n, StatusPass, "printed gender matches the ID number")
}

func checkEthnicity(f *RawFront) Check {
	const n = CheckEthnicityKnown
	if f == nil || strings.TrimSpace(f.Ethnicity) == "" {
		return check(n, StatusSkip, "no printed ethnicity")
	}
	if _, ok := NormalizeEthnicity(f.Ethnicity); !ok {
		return check(n, StatusFail, "printed ethnicity is not a recognised ethnic group")
	}
	return check(n, StatusPass, "recognised ethnic group")
}

// provinceSuffixes and prefectureSuffixes are stripped to get a name's stem, so an address
// that uses a later form (宜春市 for 宜春地区) still matches.
var (
	provinceSuffixes   = []string{"维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"}
	prefectureSuffixes = []string{"自治州", "地区", "行政区", "盟", "市"}
	countySuffixes     = []string{"自治县", "自治旗", "林区", "特区", "县", "旗", "市", "区"}
)

// matchPlace reports whether addr starts with name or with its stem (at least two
// characters) and returns the rest of addr after the match.
func matchPlace(addr, name string, suffixes []string) (string, bool) {
	if name == "" {
		return addr, false
	}
	if strings.HasPrefix(addr, name) {
		return addr[len(name):], true
	}
	for _, suf := range suffixes {
		stem, ok := strings.CutSuffix(name, suf)
		if ok && len([]rune(stem)) >= 2 && strings.HasPrefix(addr, stem) {
			rest := addr[len(stem):]
			for _, s := range suffixes { // 宜春市 for 宜春地区: skip whatever suffix the address uses
				if r, ok := strings.CutPrefix(rest, s); ok {
					return r, true
				}
			}
			return rest, true
		}
	}
	return addr, false
}

func checkAddress(a *Analysis, f *RawFront, today Date) Check {
	const n = CheckAddressRegion
	switch {
	case f == nil || strings.TrimSpace(f.Address) == "":
		return check(n, StatusSkip, "no printed address")
	case a == nil || a.Region.Code == "":
		return check(n, StatusSkip, "no region code to compare with")
	case a.Type != ResidentID && a.Type != ResidentIDLegacy15:
		return check(n, StatusSkip, "%s carries no birthplace region", a.Type)
	}
	addr := CleanText(f.Address)
	cur, _ := LookupRegion(a.Region.Code, today.Year)
	provinceOK := false
	for _, r := range []Region{a.Region, cur} {
		rest, ok := matchPlace(addr, r.Province, provinceSuffixes)
		if !ok {
			continue
		}
		provinceOK = true
		if r.Prefecture == "" {
			return check(n, StatusPass, "address is in %s", r.Province)
		}
		if _, ok := matchPlace(rest, r.Prefecture, prefectureSuffixes); ok {
			return check(n, StatusPass, "address is in %s%s", r.Province, r.Prefecture)
		}
		// addresses of county-level cities usually skip the prefecture (江苏省昆山市…)
		if _, ok := matchPlace(rest, r.County, countySuffixes); ok {
			return check(n, StatusPass, "address is in %s%s", r.Province, r.County)
		}
	}
	if provinceOK {
		return check(n, StatusWarn, "address is in the province but not in the prefecture of the number's region (%s; today %s)", a.Region.Name, cur.Name)
	}
	return check(n, StatusWarn, "address is not in the province of the number's region (%s; today %s); the holder may have moved", a.Region.Name, cur.Name)
}

// spanRule returns the validity period in years for a holder of age at issue, 0 for
// long-term.
func spanRule(t DocumentType, age int) int {
	switch t {
	case HKMacaoPermit, TaiwanPermit:
		return 5
	case ForeignPermanent2017, ForeignPermanent2023:
		if age < 18 {
			return 5
		}
		return 10
	}
	switch {
	case age < 16:
		return 5
	case age <= 25:
		return 10
	case age <= 45:
		return 20
	}
	return 0
}

func spanText(years int) string {
	if years == 0 {
		return "long-term"
	}
	return fmt.Sprintf("%d years", years)
}

// spanFits reports whether v is the period of the given length (0 = long-term). A card
// issued on 29 February ends on 28 February or 1 March of a common year.
func spanFits(v Validity, years int) bool {
	if years == 0 || v.LongTerm {
		return years == 0 && v.LongTerm
	}
	end := v.From.AddYears(years)
	if v.To == end {
		return true
	}
	return v.From.Month == 2 && v.From.Day == 29 && end.Day == 28 && v.To == Date{end.Year, 3, 1}
}

func checkSpan(a *Analysis, birth Date, v Validity, have, bad bool, b *RawBack) Check {
	const n = CheckValiditySpan
	switch {
	case b == nil || (!have && !bad):
		return check(n, StatusSkip, "no validity period")
	case bad:
		return check(n, StatusFail, "validity period is not a date range")
	case !v.LongTerm && !v.From.Before(v.To):
		return check(n, StatusFail, "validity period ends on or before it starts")
	case birth.IsZero():
		return check(n, StatusSkip, "birth date unknown")
	case v.From.Before(birth):
		return check(n, StatusSkip, "issue date before birth (see issue_date_plausible)")
	}
	t := ResidentID
	if a != nil && a.Type != UnknownDocument {
		t = a.Type
	}
	age := birth.AgeOn(v.From)
	want := spanRule(t, age)
	if spanFits(v, want) {
		return check(n, StatusPass, "%s fits age %d at issue", spanText(want), age)
	}
	if want != 0 && !v.LongTerm && (v.To.Month != v.From.Month || v.To.Day != v.From.Day) && !spanFits(v, v.To.Year-v.From.Year) {
		return check(n, StatusFail, "period does not end on the start's month and day")
	}
	earlyAge := birth.AgeOn(v.From.addDays(-applicationLag))
	if early := spanRule(t, earlyAge); early != want && spanFits(v, early) {
		return check(n, StatusWarn, "%s fits age %d when applying shortly before issue, not age %d at issue", spanText(early), earlyAge, age)
	}
	return check(n, StatusFail, "age %d at issue calls for %s", age, spanText(want))
}

func checkIssueDate(birth Date, v Validity, have bool, today Date) Check {
	const n = CheckIssueDatePlausible
	switch {
	case !have:
		return check(n, StatusSkip, "no readable issue date")
	case today.Before(v.From):
		return check(n, StatusFail, "issue date %s is in the future", v.From)
	case !birth.IsZero() && v.From.Before(birth):
		return check(n, StatusFail, "issue date %s is before the birth date", v.From)
	case birth.IsZero():
		return check(n, StatusPass, "issue date %s is not in the future (birth date unknown)", v.From)
	}
	return check(n, StatusPass, "issue date %s is after birth and not in the future", v.From)
}

func checkExpiry(v Validity, have bool, today Date) Check {
	const n = CheckNotExpired
	switch {
	case !have:
		return check(n, StatusSkip, "no readable validity period")
	case v.LongTerm:
		return check(n, StatusPass, "long-term")
	case v.To.Before(today):
		return check(n, StatusFail, "expired on %s", v.To)
	}
	return check(n, StatusPass, "valid until %s", v.To)
}
