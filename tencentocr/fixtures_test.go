package tencentocr

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "tencentcloud", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Tencent's published example answers (testdata/tencentcloud/README.md), decoded field by field.
func TestDecodeOfficialExamples(t *testing.T) {
	cases := []struct {
		file string
		want Result
		side string
	}{
		{"idcardocr-temporary-warning.json", Result{Warnings: []int{-9104}, RequestID: "sd33222eqd1dqq948487"}, ""},
		{"idcardocr-crop.json", Result{Name: "李明", Sex: "男", Nation: "汉", Birth: "1987/1/1",
			Address: "北京市石景山区高新技术园腾讯大楼", IDNumber: "440524198701010014",
			Portrait: "/9j/4AAQSkZJRBA=...........", RequestID: "97c323da-5fd3-4fe6-b0b3-1cf10b04422c"}, SideFront},
		{"idcardocr-front.json", Result{Name: "李明", Sex: "男", Nation: "汉", Birth: "1987/1/1",
			Address: "北京市石景山区高新技术园腾讯大楼", IDNumber: "440524198701010014",
			RequestID: "ab2c132e-9e1c-43d3-b0ef-9b4d80f00330"}, SideFront},
		{"idcardocr-back.json", Result{Authority: "赵县公安局", ValidDate: "2010.07.21-2020.07.21",
			RequestID: "0d394478-6d4d-48fc-8b19-552415bf46de"}, SideBack},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Decode(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			fields := []struct{ name, got, want string }{
				{"Name", got.Name, w.Name}, {"Sex", got.Sex, w.Sex}, {"Nation", got.Nation, w.Nation},
				{"Birth", got.Birth, w.Birth}, {"Address", got.Address, w.Address}, {"IdNum", got.IDNumber, w.IDNumber},
				{"Authority", got.Authority, w.Authority}, {"ValidDate", got.ValidDate, w.ValidDate},
				{"Portrait", got.Portrait, w.Portrait}, {"RequestId", got.RequestID, w.RequestID},
				{"side", got.Side(), tc.side},
			}
			for _, f := range fields {
				if f.got != f.want {
					t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
				}
			}
			if !slices.Equal(got.Warnings, w.Warnings) {
				t.Errorf("Warnings = %v, want %v", got.Warnings, w.Warnings)
			}
		})
	}
}

func TestDecodeOfficialError(t *testing.T) {
	_, err := Decode(readFixture(t, "error-signature-failure.json"))
	var api *APIError
	if !errors.As(err, &api) || api.Code != "AuthFailure.SignatureFailure" || api.RequestID != "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6" ||
		api.Message != "The provided credentials could not be validated. Please check your signature is correct." {
		t.Fatalf("err = %#v", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	bad := []string{
		``, `[]`, `{"Response":{}}`, `{"Response":{"RequestId":"r","AdvancedInfo":"{"}}`,
		`{"Response":{"RequestId":"r","AdvancedInfo":"{\"WarnInfos\":[\"x\"]}"}}`,
		`{"Response":{"RequestId":"r","AdvancedInfo":"{\"WarnInfos\":[-9102.5]}"}}`,
	}
	for _, b := range bad {
		_, err := Decode([]byte(b))
		var api *APIError
		if !errors.As(err, &api) || api.Code != "ClientError.ParseJsonError" {
			t.Errorf("Decode(%q) = %v", b, err)
		}
	}
	// Numbers may come as strings.
	r, err := Decode([]byte(`{"Response":{"RequestId":"r","AdvancedInfo":"{\"WarnInfos\":[\"-9103\"],\"Quality\":\"55\"}"}}`))
	if err != nil || !slices.Equal(r.Warnings, []int{-9103}) || r.Quality == nil || *r.Quality != 55 {
		t.Fatalf("lenient numbers: %+v %v", r, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"idcardocr-temporary-warning.json", "idcardocr-crop.json", "idcardocr-front.json", "idcardocr-back.json", "error-signature-failure.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "tencentcloud", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if (r == nil) == (err == nil) {
			t.Fatalf("Decode returned %v and %v", r, err)
		}
		var api *APIError
		if err != nil && !errors.As(err, &api) {
			t.Fatalf("error of another type: %T", err)
		}
	})
}
