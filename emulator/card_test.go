package emulator

import (
	"bytes"
	"encoding/binary"
	"image"
	"io/fs"
	"maps"
	"testing"
	"unicode/utf8"
)

func TestEncodeCardPNGIsConformant(t *testing.T) {
	fields := map[string]string{"type": "Back", "valid_date": "20080618-长期", "emoji": "😀"}
	p := EncodeCardPNG(fields)
	if _, f, err := image.Decode(bytes.NewReader(p)); err != nil || f != "png" {
		t.Fatalf("decode: %q %v", f, err)
	}
	text, ok := extractCardJSON(p)
	if !ok {
		t.Fatal("no carrier")
	}
	for _, b := range text {
		if b >= 0x80 {
			t.Fatalf("tEXt is not ASCII (tEXt is Latin-1): %q", text)
		}
	}
	got, ok := parseCardJSON(text)
	if !ok || !maps.Equal(got, fields) {
		t.Fatalf("round trip %v, want %v", got, fields)
	}
	if !bytes.Equal(p, EncodeCardPNG(fields)) {
		t.Fatal("EncodeCardPNG is not deterministic")
	}
}

func TestEncodeCardJPEG(t *testing.T) {
	fields := map[string]string{"name": "张三"}
	j := EncodeCardJPEG(fields)
	if _, f, err := image.Decode(bytes.NewReader(j)); err != nil || f != "jpeg" {
		t.Fatalf("decode: %q %v", f, err)
	}
	text, ok := extractCardJSON(j)
	if got, _ := parseCardJSON(text); !ok || !maps.Equal(got, fields) {
		t.Fatalf("round trip %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("oversized COM payload did not panic")
		}
	}()
	EncodeCardJPEG(map[string]string{"x": string(make([]byte, 70000))})
}

func TestPNGCarrierWalksChunks(t *testing.T) {
	plain := EncodePlainPNG()
	good := withChunk(plain, "tEXt", []byte(CardKeyword+"\x00{\"a\":\"b\"}"))
	if text, ok := extractCardJSON(good); !ok || string(text) != `{"a":"b"}` {
		t.Fatalf("%q %v", text, ok)
	}
	// A bad CRC ends the walk: the chunk is not trusted.
	bad := bytes.Clone(good)
	bad[33+8+len(CardKeyword)+1+6] = 'c' // {"a":"b"} → {"a":"c"}, CRC not updated
	if _, ok := extractCardJSON(bad); ok {
		t.Fatal("carrier with a bad CRC accepted")
	}
	// The keyword bytes inside another chunk's data are not a carrier.
	hidden := withChunk(plain, "prVt", []byte("tEXt"+CardKeyword+"\x00{}"))
	if _, ok := extractCardJSON(hidden); ok {
		t.Fatal("keyword inside a private chunk accepted")
	}
	// A carrier after IEND is ignored.
	after := append(bytes.Clone(plain), good[33:33+12+len(CardKeyword)+10]...)
	if _, ok := extractCardJSON(after); ok {
		t.Fatal("carrier after IEND accepted")
	}
	// A length running past the end stops the walk without panicking.
	huge := bytes.Clone(good)
	binary.BigEndian.PutUint32(huge[33:], 0xFFFFFFF0)
	if _, ok := extractCardJSON(huge); ok {
		t.Fatal("oversized chunk length accepted")
	}
}

func TestJPEGCarrierSkipsOtherComments(t *testing.T) {
	j := EncodeCardJPEG(map[string]string{"id": "1"})
	banner := []byte{0xFF, 0xFE, 0x00, 0x0A, 'L', 'a', 'v', 'c', '6', '0', '.', '1'}
	withBanner := append(append(bytes.Clone(j[:2]), banner...), j[2:]...)
	if text, ok := extractCardJSON(withBanner); !ok || string(text) != `{"id":"1"}` {
		t.Fatalf("%q %v", text, ok)
	}
	// Fill bytes before a marker are allowed.
	filled := append(append(bytes.Clone(j[:2]), 0xFF, 0xFF), j[2:]...)
	if _, ok := extractCardJSON(filled); !ok {
		t.Fatal("fill bytes broke the walk")
	}
}

func TestSampleFilesListing(t *testing.T) {
	want := []string{"back-expired.png", "back-longterm.png", "back-no-validity.png", "back.png", "blank.png", "front-bad-checksum.png", "front-empty.png", "front-no-number.png", "front-photocopy.png", "front-reshoot.png", "front-senior.png", "front-temporary.png", "front.jpg", "front.png"}
	ents, err := fs.ReadDir(SampleFiles(), "cards")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(want) {
		t.Fatalf("cards/ = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("cards/ = %v, want %v", got, want)
		}
	}
	if _, ok := extractCardJSON(sample(t, "blank.png")); ok {
		t.Fatal("blank.png carries card data")
	}
}

// The sample data must pass the ID rules it is meant to exercise (or fail the one it is
// meant to fail): check digit, sex parity, validity span by age at issue.
func TestSampleCardsAreConsistent(t *testing.T) {
	checkDigit := func(id string) byte {
		w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
		sum := 0
		for i := range 17 {
			sum += int(id[i]-'0') * w[i]
		}
		return "10X98765432"[sum%11]
	}
	for name, f := range sampleCards {
		if f["type"] != "Front" || name == "front-empty.png" || name == "front-no-number.png" {
			continue // the partial fronts are meant to lack fields
		}
		id := f["id"]
		valid := checkDigit(id) == id[17]
		if valid == (name == "front-bad-checksum.png") {
			t.Errorf("%s: check digit valid=%v", name, valid)
		}
		female := (id[16]-'0')%2 == 0
		if (f["gender"] == "女") != female {
			t.Errorf("%s: gender %s disagrees with digit 17 of the number", name, f["gender"])
		}
		if !utf8.ValidString(f["addr"]) || f["name"] == "" || f["nationality"] != "汉" {
			t.Errorf("%s: incomplete %v", name, f)
		}
	}
	// Span by age at issue: birth dates from the fronts.
	spans := []struct {
		back, birth string
		years       int // 0 = long-term
	}{
		{"back.png", "19950513", 10},
		{"back-expired.png", "19950513", 10},
		{"back-longterm.png", "19600315", 0},
	}
	for _, s := range spans {
		vd := sampleCards[s.back]["valid_date"]
		from, to := vd[:8], vd[9:]
		age := atoi(from[:4]) - atoi(s.birth[:4])
		if from[4:] < s.birth[4:] {
			age--
		}
		years := 0
		switch {
		case age < 16:
			years = 5
		case age <= 25:
			years = 10
		case age <= 45:
			years = 20
		}
		if years != s.years {
			t.Errorf("%s: issued at age %d → %d years, sample says %d", s.back, age, years, s.years)
		}
		if years == 0 {
			if to != "长期" {
				t.Errorf("%s: long-term card ends %q", s.back, to)
			}
			continue
		}
		if want := itoa4(atoi(from[:4])+years) + from[4:]; to != want {
			t.Errorf("%s: ends %s, want %s", s.back, to, want)
		}
	}
	if end := sampleCards["back-expired.png"]["valid_date"][9:]; end >= "20260101" {
		t.Errorf("expired back ends %s", end)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func itoa4(n int) string {
	return string([]byte{byte('0' + n/1000), byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}
