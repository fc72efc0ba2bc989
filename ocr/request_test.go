package ocr

import (
	"strings"
	"testing"

	"github.com/wxocr/scf-idcard-ocr/apperr"
)

// TestValidate: the request rules every edge relies on, in the one place they live.
func TestValidate(t *testing.T) {
	file := &Image{FileID: "cloud://e.b/a.png"}
	url := &Image{URL: "https://example.com/a.png"}
	for _, tt := range []struct {
		name string
		req  Request
		want string // "" valid, else a piece of the message
	}{
		{"one image", Request{Image: *file}, ""},
		{"one image, each side", Request{Image: *url, Side: SideBack}, ""},
		{"upload", Request{Image: Image{Bytes: []byte{}}, Side: SideAuto, Mode: "scan"}, ""},
		{"pair", Request{Front: file, Back: url}, ""},
		{"pair, side both", Request{Front: file, Back: url, Side: SideBoth}, ""},
		{"front only", Request{Front: file}, ""},
		{"no image", Request{}, "no image"},
		{"two sources", Request{Image: Image{FileID: "cloud://e.b/a", URL: "https://x/y"}}, "exactly one"},
		{"blank fileId", Request{Image: Image{FileID: " "}}, "fileId is blank"},
		{"blank imageUrl", Request{Image: Image{URL: "\t"}}, "imageUrl is blank"},
		{"side both for one image", Request{Image: *file, Side: SideBoth}, "side must be front, back or auto"},
		{"unknown side", Request{Image: *file, Side: "left"}, "side must be"},
		{"unknown mode", Request{Image: *file, Mode: "fax"}, "mode must be"},
		{"image and pair", Request{Image: *file, Front: url}, "not both"},
		{"pair with side front", Request{Front: file, Back: url, Side: SideFront}, "side must be omitted"},
		{"pair, empty front", Request{Front: &Image{}, Back: url}, "front: no image"},
		{"pair, back with two", Request{Front: file, Back: &Image{URL: "https://x/y", Bytes: []byte{1}}}, "back: give exactly one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || apperr.AsError(err).Code != apperr.InvalidRequest || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want INVALID_REQUEST with %q", err, tt.want)
			}
		})
	}
}
