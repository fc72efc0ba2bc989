// Package idcard is the Chinese resident ID card domain: it analyses ID numbers (format,
// birth date, checksum, region code against its history), normalises the fields OCR
// providers return, and checks a card's fields against each other.
//
// It is pure Go with no I/O; time-dependent functions take the current time and judge it in
// China Standard Time.
//
// # Verdict
//
// Examine returns checks and a verdict by one rule (VerdictOf): reject if any check fails,
// review if any warns, else pass. A check's status is its effect; skip has none, so fields
// that were not read are judged by front_complete (no number or name: fail; no gender,
// ethnicity or address: warn) and back_complete (no validity period: fail; no authority,
// from a provider that reads it: warn). Checks made elsewhere join through Report.Add.
//
// # Region codes
//
// GB 11643-1999 makes the first six digits the GB/T 2260 code of the county (city, banner,
// district) of first registration. The embedded timeline (internal/gen) holds the Ministry
// of Civil Affairs editions 1980-2020 and the statistics bureau's 2023 edition, plus the
// statistics bureau's 市辖区 rows (a city's districts taken together: xxxx01, and xx0100 under
// the municipalities), which the Ministry lists nowhere though real numbers carry them
// (440301 深圳, 440101 广州, 371001 威海 …). Those rows are as published for 2002-2018; for
// the other years a xxxx01 code counts as listed while its prefecture xxxx00 is a city (a
// name ending in 市) without a break up to its first statistics edition, or on from 2018.
// So a 市辖区 number of someone born before 2002 is judged like any other code: nothing is
// raised when the city existed in the birth year, and region_not_yet_in_use when the city was
// created after it, the same signal as for a county created after the birth year. That
// signal leaves the verdict alone: a number is assigned at first registration, at or after
// birth and often years later, so a code first used after the birth year fits it. The
// 1980-1982 editions' 市区 codes (xxxx20, replaced by xxxx01 from 1983) are in the timeline
// too, inferred from those editions' rule (every provincial city with counties had one, per
// zh.wikipedia.org 中华人民共和国行政区划代码, as relied on by jxlwqq/id-validator); old numbers
// carry them (140120 太原市市区).
//
// What the other levels mean as the first six digits:
//   - A province code (xx0000) names no county: problem region_not_county, the number is
//     invalid. 810000, 820000 and 830000 are the Hong Kong, Macao and Taiwan residence
//     permits' own codes and are recognised as such.
//   - A prefecture code (xxxx00) is the county level itself for a prefecture-level city
//     without counties (东莞 441900, 中山 442000, 儋州 460400, 嘉峪关 620200, whose only row
//     under it is its 市辖区 620201): valid, nothing raised. Under
//     any other prefecture it names no county: warning region_prefecture_level (review).
//   - A code retired before the holder was born (birth year after the first edition that no
//     longer lists it; 110201 was last listed in 1981) cannot have been assigned to them:
//     warning region_retired_before_birth (review). A code retired later is a legitimate old
//     code: warning region_retired, which leaves the verdict alone.
//
// # Birth dates
//
// GB 11643 sets no lower bound. Numbers were first assigned with the first-generation cards
// in 1984 and nobody has been verified to live past 122, so a birth year before
// EarliestBirthYear (1862) is a birth_date problem; a holder over 120 raises age_over_120
// (review).
//
// # Foreign permanent residence numbers
//
// The 2023 card (issued from 1 December 2023) has an 18-character number built like a
// resident number: "9" (the foreigner's mark; resident numbers start 1-8), two digits for the
// province of the accepting office, three for the nationality (the ISO 3166-1 numeric code
// that replaced the 2017 card's three letters), the birth date YYYYMMDD, two sequence digits,
// a digit whose parity gives the sex (odd male) and an ISO 7064 MOD 11-2 check character
// computed as for resident numbers. Analyze checks each part that can be checked: a
// mainland province (11-65) in the latest edition, a nationality in countries.csv (ISO
// 3166-1, from datasets/country-codes, PDDL; see countries.md), the date and the check
// character, and reports the province as Region and the country as Nationality. The 2017
// card's number (three letters + 12 digits) is checked for format and for its letters being
// an ISO 3166-1 alpha-3 code.
//
// Sources relied on: the National Immigration Administration's machine-reading rules for the
// new card ("新版外国人永久居留身份证机读信息规则（2023版）", as republished by card-reader vendors,
// e.g. http://www.eastcoms.com/service/pro/840.html: 18 characters, first digit 9, the
// country letters turned into a numeric code, MOD 11-2 check as for citizens), and the
// open-source validator github.com/howardli/CredentialKit
// (ForeignerPermanentResidenceIdNumberProcessor and its tests: digits 2-3 province + "0000", 4-6 ISO numeric country, 7-14 birth date, 17
// sex, 18 MOD 11-2; example 911398199012310021, Kazakhstan, Beijing, female).
package idcard
