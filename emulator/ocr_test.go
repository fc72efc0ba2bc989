package emulator

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/bmp"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(SampleFiles(), "cards/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantFront(t *testing.T, m wx) {
	t.Helper()
	wantCode(t, "front", m, 0)
	want := map[string]string{
		"type": "Front", "name": "张三", "id": "440305199505132561", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号",
	}
	for k, v := range want {
		if m.str(k) != v {
			t.Errorf("%s = %q, want %q", k, m.str(k), v)
		}
	}
	if _, ok := m["valid_date"]; ok {
		t.Error("front answer carries valid_date")
	}
}

func TestOCRUploadRecognisesSampleCards(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	wantFront(t, h.ocrUpload(tok, "img", sample(t, "front.png")))
	wantFront(t, h.ocrUpload(tok, "img", sample(t, "front.jpg")))

	backs := map[string]string{
		"back.png":          "20190308-20290308",
		"back-expired.png":  "20120701-20220701",
		"back-longterm.png": "20080618-长期",
	}
	for name, vd := range backs {
		m := h.ocrUpload(tok, "img", sample(t, name))
		wantCode(t, name, m, 0)
		if m.str("type") != "Back" || m.str("valid_date") != vd {
			t.Errorf("%s: %v", name, m)
		}
		for _, k := range []string{"name", "id", "authority"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s: back answer carries %q (WeChat returns valid_date only)", name, k)
			}
		}
	}
	m := h.ocrUpload(tok, "img", sample(t, "front-bad-checksum.png"))
	if m.str("id") != "371002200610020000" || m.str("gender") != "女" {
		t.Errorf("bad-checksum front: %v", m)
	}
	m = h.ocrUpload(tok, "img", sample(t, "front-senior.png"))
	if m.str("id") != "110105196003150312" || m.str("gender") != "男" {
		t.Errorf("senior front: %v", m)
	}
}

func TestOCRAnswerIsWeChatShaped(t *testing.T) {
	h := newHarness(t, Options{})
	// Raw bytes: Chinese is not \u-escaped, errcode is a number and comes first.
	u := h.downloadURL(h.token(), "cards/front.png")
	resp, err := http.Post(h.srv.URL+PathOCRIDCard+"?"+url.Values{"access_token": {h.token()}, "img_url": {u}}.Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !bytes.HasPrefix(raw, []byte(`{"errcode":0,"errmsg":"ok","type":"Front","name":"张三"`)) {
		t.Fatalf("raw answer %s", raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

// withChunk inserts a PNG chunk right after IHDR.
func withChunk(p []byte, typ string, data []byte) []byte {
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, typ...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	const ihdrEnd = 33
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

// padTo grows a card PNG to exactly n bytes with a private ancillary chunk.
func padTo(t *testing.T, p []byte, n int) []byte {
	t.Helper()
	out := withChunk(p, "emPd", make([]byte, n-len(p)-12))
	if len(out) != n {
		t.Fatalf("padded to %d, want %d", len(out), n)
	}
	return out
}

// webpConfigOnly is a VP8L header for a 1x1 image: DecodeConfig accepts it.
var webpConfigOnly = []byte("RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f\x00\x00\x00\x00\x00")

func TestOCRImageOutcomes(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	front := sample(t, "front.png")
	var bmpBuf bytes.Buffer
	if err := bmp.Encode(&bmpBuf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	var jpegBuf bytes.Buffer
	if err := jpeg.Encode(&jpegBuf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	if _, f, err := image.DecodeConfig(bytes.NewReader(webpConfigOnly)); err != nil || f != "webp" {
		t.Fatalf("webp fixture: %v %q", err, f)
	}
	cases := []struct {
		name string
		img  []byte
		code int
	}{
		{"exactly 2 MB", padTo(t, front, MaxImageBytes), 0},
		{"2 MB + 1 byte", padTo(t, front, MaxImageBytes+1), CodeImageDecodeFailed},
		{"blank png", sample(t, "blank.png"), CodeCertificateMissing},
		{"bmp", bmpBuf.Bytes(), CodeCertificateMissing},
		{"webp", webpConfigOnly, CodeCertificateMissing},
		{"jpeg without carrier", jpegBuf.Bytes(), CodeCertificateMissing},
		{"truncated jpeg header", jpegBuf.Bytes()[:3], CodeImageDecodeFailed},
		{"garbage", []byte("definitely not an image"), CodeImageDecodeFailed},
		{"empty", nil, CodeImageDecodeFailed},
		{"truncated png", front[:40], CodeImageDecodeFailed},
		{"carrier is not JSON", withChunk(EncodePlainPNG(), "tEXt", []byte(CardKeyword+"\x00not json")), CodeCertificateMissing},
		{"carrier is a JSON array", withChunk(EncodePlainPNG(), "tEXt", []byte(CardKeyword+"\x00[1]")), CodeCertificateMissing},
		{"other keyword", withChunk(EncodePlainPNG(), "tEXt", []byte("Comment\x00{\"id\":\"1\"}")), CodeCertificateMissing},
		{"keyword in zTXt", withChunk(EncodePlainPNG(), "zTXt", []byte(CardKeyword+"\x00{}")), CodeCertificateMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, c.name, h.ocrUpload(tok, "img", c.img), c.code)
		})
	}
}

func TestOCRJPEGWithBareJSONComment(t *testing.T) {
	h := newHarness(t, Options{})
	j := EncodeCardJPEG(nil) // SOI, COM "idcard-emulator\0{}", rest
	comLen := int(binary.BigEndian.Uint16(j[4:6]))
	plain := append(append([]byte{}, j[:2]...), j[4+comLen:]...)
	payload := []byte(` {"type":"Back","valid_date":"20190308-20290308"}`)
	com := append([]byte{0xFF, 0xFE, 0, 0}, payload...)
	binary.BigEndian.PutUint16(com[2:], uint16(len(payload)+2))
	withCom := append(append(append([]byte{}, plain[:2]...), com...), plain[2:]...)
	m := h.ocrUpload(h.token(), "img", withCom)
	wantCode(t, "bare JSON COM", m, 0)
	if m.str("type") != "Back" || m.str("valid_date") != "20190308-20290308" {
		t.Fatalf("%v", m)
	}
	wantCode(t, "jpeg without COM", h.ocrUpload(h.token(), "img", plain), CodeCertificateMissing)
}

func TestOCRInferTypeWhenAbsent(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	if m := h.ocrUpload(tok, "img", EncodeCardPNG(map[string]string{"valid_date": "20190308-20290308"})); m.str("type") != "Back" {
		t.Fatalf("%v", m)
	}
	if m := h.ocrUpload(tok, "img", EncodeCardPNG(map[string]string{"name": "张三"})); m.str("type") != "Front" {
		t.Fatalf("%v", m)
	}
}

func TestOCRRequestErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	front := sample(t, "front.png")
	wantCode(t, "field image instead of img", h.ocrUpload(tok, "image", front), CodeMediaMissing)
	wantCode(t, "no image at all", h.postJSON(PathOCRIDCard, url.Values{"access_token": {tok}}, ""), CodeMediaMissing)
	wantCode(t, "missing token", h.ocrUpload("", "img", front), CodeTokenMissing)
	wantCode(t, "unknown token", h.ocrUpload("95_nope", "img", front), CodeInvalidCredential)

	req, _ := http.NewRequest(http.MethodPut, h.srv.URL+PathOCRIDCard+"?access_token="+tok, nil)
	_, m := h.do(req)
	wantCode(t, "PUT", m, CodeRequirePOST)

	req, _ = http.NewRequest(http.MethodPost, h.srv.URL+PathOCRIDCard+"?access_token="+tok, strings.NewReader("--x\r\nbroken"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	_, m = h.do(req)
	wantCode(t, "broken multipart", m, CodeDataFormat)

	u := h.downloadURL(tok, "cards/front.png")
	for _, mode := range []string{"photo", "scan"} {
		m := h.postJSON(PathOCRIDCard, url.Values{"access_token": {tok}, "img_url": {u}, "type": {mode}}, "")
		wantCode(t, "type="+mode, m, 0)
	}
	wantCode(t, "type=fax", h.postJSON(PathOCRIDCard, url.Values{"access_token": {tok}, "img_url": {u}, "type": {"fax"}}, ""), CodeInvalidArgs)

	h.clock.Add(7200 * time.Second)
	wantCode(t, "expired token", h.ocrUpload(tok, "img", front), CodeTokenExpired)
}

func TestOCRByURL(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.token()
	u := h.downloadURL(tok, "cards/front.png")
	wantFront(t, h.ocrURL(tok, u))
	wantCode(t, "blank by url", h.ocrURL(tok, h.downloadURL(tok, "cards/blank.png")), CodeCertificateMissing)

	// A URL-serving origin for sizes and garbage.
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big.png":
			_, _ = w.Write(padTo(t, sample(t, "front.png"), MaxImageBytes+1))
		case "/exact.png":
			_, _ = w.Write(padTo(t, sample(t, "front.png"), MaxImageBytes))
		case "/garbage":
			_, _ = w.Write([]byte("<html>not an image</html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	wantCode(t, "exactly 2 MB by url", h.ocrURL(tok, origin.URL+"/exact.png"), 0)
	wantCode(t, "over 2 MB by url", h.ocrURL(tok, origin.URL+"/big.png"), CodeImageDecodeFailed)
	wantCode(t, "garbage by url", h.ocrURL(tok, origin.URL+"/garbage"), CodeImageDecodeFailed)
	wantCode(t, "404 by url", h.ocrURL(tok, origin.URL+"/missing.png"), CodeInvalidImageURL)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/a.png"
	ln.Close()
	wantCode(t, "refused connection", h.ocrURL(tok, closed), CodeInvalidImageURL)

	tampered := strings.Replace(u, "sign=", "sign=0", 1)
	wantCode(t, "tampered signature (403)", h.ocrURL(tok, tampered), CodeInvalidImageURL)
	wantCode(t, "ftp scheme", h.ocrURL(tok, "ftp://example.com/a.png"), CodeInvalidImageURL)
	wantCode(t, "empty img_url", h.ocrURL(tok, ""), CodeInvalidImageURL)
	wantCode(t, "relative url", h.ocrURL(tok, "/cards/front.png"), CodeInvalidImageURL)
	wantCode(t, "double-encoded", h.ocrURL(tok, url.QueryEscape(u)), CodeInvalidImageURL)

	// Not encoded at all: the raw query carries "://".
	raw := h.srv.URL + PathOCRIDCard + "?access_token=" + url.QueryEscape(tok) + "&img_url=" + u
	req, _ := http.NewRequest(http.MethodPost, raw, nil)
	_, m := h.do(req)
	wantCode(t, "unencoded img_url", m, CodeSystemBusy)
}

func TestOCRFetchTimeout(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	h := newHarness(t, Options{FetchTimeout: 50 * time.Millisecond})
	wantCode(t, "stalled origin", h.ocrURL(h.token(), slow.URL+"/a.png"), CodeInvalidImageURL)
}
