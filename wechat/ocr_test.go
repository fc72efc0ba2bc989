package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

func TestIDCardByURLRequestAndFrontAnswer(t *testing.T) {
	// Already percent-encoded bytes, a query and a CJK character: WeChat must receive exactly
	// this string after decoding the query once.
	const imgURL = "https://img.example.com/cards/a%20b.jpg?sign=x%2By&name=身份证&t=1"
	e := newEnv(t, tokens("TOKEN-A"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		want := "access_token=TOKEN-A&img_url=" +
			"https%3A%2F%2Fimg.example.com%2Fcards%2Fa%2520b.jpg%3Fsign%3Dx%252By%26name%3D%E8%BA%AB%E4%BB%BD%E8%AF%81%26t%3D1"
		if r.URL.RawQuery != want {
			t.Errorf("raw query\n got %s\nwant %s", r.URL.RawQuery, want)
		}
		if got := r.URL.Query().Get("img_url"); got != imgURL {
			t.Errorf("img_url decoded once = %q, want %q", got, imgURL)
		}
		if r.URL.Query().Has("type") {
			t.Error("type sent although mode is empty")
		}
		if b, _ := io.ReadAll(r.Body); len(b) != 0 {
			t.Errorf("body %q, want none", b)
		}
		writeJSON(w, 200, testdata(t, "idcard_front.json"))
	})
	card, err := e.client.IDCardByURL(context.Background(), imgURL, "")
	if err != nil {
		t.Fatal(err)
	}
	want := IDCard{Type: "Front", Name: "张三", ID: "440305199505132561", Addr: "广东省深圳市南山区科技园路1号", Gender: "女", Nationality: "汉"}
	if *card != want {
		t.Errorf("card %+v, want %+v", *card, want)
	}
}

func TestIDCardByURLMode(t *testing.T) {
	for _, mode := range []string{"photo", "scan"} {
		e := newEnv(t, tokens("T"))
		e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
			if got := r.URL.Query()["type"]; len(got) != 1 || got[0] != mode {
				t.Errorf("type = %v, want [%s]", got, mode)
			}
			writeJSON(w, 200, testdata(t, "idcard_front.json"))
		})
		if _, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", mode); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, tokens("T"))
	if _, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "color"); err == nil {
		t.Error("mode color accepted")
	}
	if _, err := e.client.IDCardByURL(context.Background(), "", ""); err == nil {
		t.Error("empty URL accepted")
	}
}

func TestIDCardBackAnswers(t *testing.T) {
	for file, want := range map[string]string{
		"idcard_back_string_errcode.json": "20070105-20270105", // errcode "0" as a string
		"idcard_back_camel.json":          "20150302-长期",       // validDate alias
	} {
		e := newEnv(t, tokens("T"))
		e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, testdata(t, file))
		})
		card, err := e.client.IDCardByURL(context.Background(), "https://x.example/b.jpg", "")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if card.Type != "Back" || card.ValidDate != want {
			t.Errorf("%s: card %+v, want Back %s", file, *card, want)
		}
	}
}

// expectedMultipart is the exact body IDCardByImage must send for boundary.
func expectedMultipart(boundary, filename, partType string, img []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"img\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n", boundary, filename, partType)
	b.Write(img)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

func TestIDCardByImageMultipartExact(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake png bytes \r\n--not-a-boundary")
	jpeg := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 fake jpeg")
	cases := []struct {
		name, contentType string
		img               []byte
		filename, part    string
		mode              string
	}{
		{"jpeg", "image/jpeg", jpeg, "card.jpg", "image/jpeg", ""},
		{"png with mode", "image/png", png, "card.png", "image/png", "scan"},
		{"sniffed", "", png, "card.png", "image/png", ""},
		{"params kept", "image/jpeg; charset=binary", jpeg, "card.jpg", "image/jpeg; charset=binary", "photo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tokens("T"))
			e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost {
					t.Errorf("method %s", r.Method)
				}
				wantQuery := "access_token=T"
				if tc.mode != "" {
					wantQuery += "&type=" + tc.mode
				}
				if r.URL.RawQuery != wantQuery {
					t.Errorf("query %q, want %q", r.URL.RawQuery, wantQuery)
				}
				mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
					t.Fatalf("content type %q: %v", r.Header.Get("Content-Type"), err)
				}
				body, _ := io.ReadAll(r.Body)
				if r.ContentLength != int64(len(body)) {
					t.Errorf("Content-Length %d, body %d bytes", r.ContentLength, len(body))
				}
				if want := expectedMultipart(params["boundary"], tc.filename, tc.part, tc.img); !bytes.Equal(body, want) {
					t.Errorf("body\n got %q\nwant %q", body, want)
				}
				// And a standard multipart parser agrees.
				mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
				p, err := mr.NextPart()
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(p)
				if p.FormName() != "img" || p.FileName() != tc.filename || p.Header.Get("Content-Type") != tc.part || !bytes.Equal(got, tc.img) {
					t.Errorf("part %s %s %s %q", p.FormName(), p.FileName(), p.Header.Get("Content-Type"), got)
				}
				if _, err := mr.NextPart(); err != io.EOF {
					t.Errorf("more than one part: %v", err)
				}
				writeJSON(w, 200, testdata(t, "idcard_front.json"))
			})
			card, err := e.client.IDCardByImage(context.Background(), tc.img, tc.contentType, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if card.Name != "张三" {
				t.Errorf("card %+v", *card)
			}
		})
	}
}

func TestIDCardByImageRejectsBadInput(t *testing.T) {
	e := newEnv(t, tokens("T"))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) { calls.inc() })
	for _, tc := range []struct {
		img         []byte
		contentType string
		mode        string
	}{
		{nil, "image/jpeg", ""},
		{[]byte("x"), "image/jpeg\r\nX-Injected: 1", ""},
		{[]byte("x"), "text/html", ""},
		{[]byte("x"), "image/jpeg", "colour"},
	} {
		if _, err := e.client.IDCardByImage(context.Background(), tc.img, tc.contentType, tc.mode); err == nil {
			t.Errorf("%q %q %q accepted", tc.img, tc.contentType, tc.mode)
		}
	}
	if calls.get() != 0 {
		t.Errorf("%d upstream calls for rejected input", calls.get())
	}
}

// TestIDCardByImageDoesNotCopyImage bounds the bytes allocated per 2 MB upload (client and
// the loopback server together) far below the image size: the image is streamed, not copied.
func TestIDCardByImageDoesNotCopyImage(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation measurement")
	}
	img := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 512*1024) // 2 MiB
	e := newEnv(t, tokens("T"))
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		// Discard instead of buffering, so the server adds no image-sized allocation either.
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || n != r.ContentLength || n < int64(len(img)) {
			t.Errorf("server read %d of %d: %v", n, r.ContentLength, err)
		}
		writeJSON(w, 200, testdata(t, "idcard_front.json"))
	})
	ctx := context.Background()
	if _, err := e.client.IDCardByImage(ctx, img, "image/jpeg", ""); err != nil { // warm the connection
		t.Fatal(err)
	}
	const runs = 5
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := e.client.IDCardByImage(ctx, img, "image/jpeg", ""); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / runs
	if perCall > uint64(len(img))/8 {
		t.Errorf("allocated %d bytes per call for a %d-byte image: the image is being copied", perCall, len(img))
	}
	t.Logf("allocated %d bytes per 2 MiB upload (client + server)", perCall)
}

func TestIDCardErrorsAreTyped(t *testing.T) {
	e := newEnv(t, tokens("T"))
	calls := &counter{}
	e.mux.HandleFunc("/cv/ocr/idcard", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeJSON(w, 200, testdata(t, "idcard_not_found.json"))
	})
	_, err := e.client.IDCardByURL(context.Background(), "https://x.example/a.jpg", "")
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v, want *APIError", err, err)
	}
	if ae.ErrCode != ErrCodeCardNotFound || ae.HTTPStatus != 200 || ae.Endpoint != "/cv/ocr/idcard" ||
		!strings.HasPrefix(ae.ErrMsg, "certificate not found") {
		t.Errorf("APIError %+v", *ae)
	}
	if calls.get() != 1 {
		t.Errorf("101001 sent %d times, want 1 (business errors are not retried)", calls.get())
	}
}
