package idcard

import _ "embed" // regions.bin

//go:generate go run ./internal/gen -data ../shared/data/regions -out idcard

// regionData is the region timeline built by internal/gen from the Ministry of Civil Affairs
// yearly editions 1980-2020 and the statistics bureau's 2023 edition. It is read in place:
// embedding it as a string keeps it in read-only data and lookups allocate nothing.
//
//go:embed regions.bin
var regionData string

// Region is a GB/T 2260 code resolved against a year.
type Region struct {
	Code string `json:"code"`
	// Name is province + prefecture + county as they stood in the edition used, e.g.
	// 广东省深圳市盐田区 for 440308 in 1999.
	Name       string `json:"name"`
	Province   string `json:"province"`
	Prefecture string `json:"prefecture"` // "" for province-level codes and counties under no named prefecture (北京市东城区)
	County     string `json:"county"`     // "" for province- and prefecture-level codes
	// Current reports whether the code is in the latest edition.
	Current bool `json:"current"`
	// InUseAtBirth reports whether the code is in the edition nearest the year asked (the
	// birth year in an Analysis); when false the names come from the nearest edition that
	// has the code.
	InUseAtBirth bool `json:"inUseAtBirth"`
	// Edition is the year of the edition the names come from.
	Edition int `json:"edition"`
	// FirstYear and LastYear are the first and last editions listing the code at all.
	FirstYear int `json:"firstYear"`
	LastYear  int `json:"lastYear"`
}

// Section offsets into regionData, read once from its header.
var rt struct {
	years    []int // edition years, ascending
	notice   string
	nCodes   int
	codes    int // offset of code:u32*nCodes
	runStart int // offset of runStart:u32*(nCodes+1)
	runs     int // offset of 8-byte run records
	blob     int // offset of the name blob
}

func init() {
	d := regionData
	if len(d) < 6 || d[:4] != "IDRG" || d[4] != 1 {
		panic("idcard: regions.bin is missing or of an unknown version; run go generate ./idcard/...")
	}
	n := int(d[5])
	p := 6
	rt.years = make([]int, n)
	for i := range n {
		rt.years[i] = int(u16(d, p))
		p += 2
	}
	nl := int(u32(d, p))
	p += 4
	rt.notice = d[p : p+nl]
	p += nl
	rt.nCodes = int(u32(d, p))
	nRuns := int(u32(d, p+4))
	blobLen := int(u32(d, p+8))
	p += 12
	rt.codes = p
	rt.runStart = rt.codes + 4*rt.nCodes
	rt.runs = rt.runStart + 4*(rt.nCodes+1)
	rt.blob = rt.runs + 8*nRuns
	if rt.blob+blobLen != len(d) {
		panic("idcard: regions.bin is truncated; run go generate ./idcard/...")
	}
}

func u16(s string, p int) uint16 { return uint16(s[p]) | uint16(s[p+1])<<8 }

func u32(s string, p int) uint32 {
	return uint32(s[p]) | uint32(s[p+1])<<8 | uint32(s[p+2])<<16 | uint32(s[p+3])<<24
}

// RegionDataNotice returns the attribution and licence text of the embedded region data
// (also in idcard/LICENSE-regions). The licences require it to travel with the data, which
// every binary carries.
func RegionDataNotice() string { return rt.notice }

// RegionEditions returns the years of the editions in the region timeline, ascending.
func RegionEditions() []int { return append([]int(nil), rt.years...) }

// LookupRegion resolves a 6-digit GB/T 2260 code against a year: it uses the edition nearest
// the year and, when that edition lacks the code, the nearest edition that has it. ok is false
// when no edition has the code or code is not 6 ASCII digits.
func LookupRegion(code string, year int) (r Region, ok bool) {
	c, ok := parseCode(code)
	if !ok {
		return Region{}, false
	}
	i, ok := findCode(c)
	if !ok {
		return Region{}, false
	}
	e := nearestEdition(year)
	lo, hi := int(u32(regionData, rt.runStart+4*i)), int(u32(regionData, rt.runStart+4*i+4))
	best, bestDist := -1, 0
	for k := lo; k < hi; k++ {
		p := rt.runs + 8*k
		first, last := int(regionData[p]), int(regionData[p+1])
		dist := 0
		if e < first {
			dist = rt.years[first] - rt.years[e]
		} else if e > last {
			dist = rt.years[e] - rt.years[last]
		}
		// strictly nearer only: on a tie the earlier run, the name as it was, wins
		if best < 0 || dist < bestDist {
			best, bestDist = k, dist
		}
		if dist == 0 {
			break
		}
	}
	p := rt.runs + 8*best
	first, last := int(regionData[p]), int(regionData[p+1])
	off := rt.blob + (int(regionData[p+2]) | int(regionData[p+3])<<8 | int(regionData[p+4])<<16)
	pl, fl, cl := int(regionData[p+5]), int(regionData[p+6]), int(regionData[p+7])
	r.Code = code
	r.Name = regionData[off : off+pl+fl+cl]
	r.Province = r.Name[:pl]
	r.Prefecture = r.Name[pl : pl+fl]
	r.County = r.Name[pl+fl:]
	r.InUseAtBirth = bestDist == 0
	switch {
	case e < first:
		r.Edition = rt.years[first]
	case e > last:
		r.Edition = rt.years[last]
	default:
		r.Edition = rt.years[e]
	}
	r.FirstYear = rt.years[regionData[rt.runs+8*lo]]
	lastEd := int(regionData[rt.runs+8*(hi-1)+1])
	r.LastYear = rt.years[lastEd]
	r.Current = lastEd == len(rt.years)-1
	return r, true
}

// hasCodesUnder reports whether any county-level code of the table lies under the
// prefecture-level code (xxxx02-xxxx99), in any edition. xxxx01 is left out: it is the
// 市辖区 summary row, which a city without counties (620200 嘉峪关 → 620201) also has.
func hasCodesUnder(code string) bool {
	c, ok := parseCode(code)
	if !ok {
		return false
	}
	i, _ := findCode(c + 2)
	return i < rt.nCodes && int(u32(regionData, rt.codes+4*i)) < c+100
}

// editionAfter returns the year of the first edition after year (year itself when none is).
func editionAfter(year int) int {
	for _, y := range rt.years {
		if y > year {
			return y
		}
	}
	return year
}

// parseCode reads exactly 6 ASCII digits.
func parseCode(s string) (int, bool) {
	if len(s) != 6 {
		return 0, false
	}
	c := 0
	for i := 0; i < 6; i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		c = c*10 + int(d)
	}
	return c, true
}

func findCode(c int) (int, bool) {
	lo, hi := 0, rt.nCodes
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int(u32(regionData, rt.codes+4*m)) < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < rt.nCodes && int(u32(regionData, rt.codes+4*lo)) == c
}

// nearestEdition returns the index of the edition nearest year; ties go to the earlier one.
func nearestEdition(year int) int {
	ys := rt.years
	if year <= ys[0] {
		return 0
	}
	for i := 1; i < len(ys); i++ {
		if year <= ys[i] {
			if ys[i]-year < year-ys[i-1] {
				return i
			}
			return i - 1
		}
	}
	return len(ys) - 1
}
