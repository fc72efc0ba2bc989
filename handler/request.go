package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// jsonSlack is room in a JSON body beyond the encoded images: field names, side, mode, a
// data: URL prefix, whitespace, userInfo.
const jsonSlack = 64 << 10

// optString is a JSON string that remembers whether it was present, so that "fileId": ""
// is an error rather than a missing field.
type optString struct {
	set bool
	v   string
}

func (o *optString) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*o = optString{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("must be a string")
	}
	*o = optString{set: true, v: s}
	return nil
}

// b64Field is an imageBase64 value. The handler's parsers decode the text while scanning it
// (scanner.imageBase64) and keep the image in decoded; UnmarshalJSON below is the path of
// encoding/json and of the scanner without inline decoding (the tests' reference). It keeps
// the encoded image without copying it. json.Unmarshal hands UnmarshalJSON
// a slice of its input, and the input is the request body buffer, which the handler owns and
// never modifies while the request is served; viewing that slice as a string saves a copy of
// up to MaxImageBytes*4/3 bytes per request (the difference between 2.4x and 3.7x the image
// in allocations for a base64 upload). Escaped strings (an encoder may write "\/") are
// unquoted into a fresh string.
type b64Field struct {
	set bool
	v   string
	// decoded is the image when the scanner decoded the string as it read it (see
	// scanner.imageBase64); v is then empty.
	decoded []byte
}

func (b *b64Field) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = b64Field{}
		return nil
	}
	if len(data) < 2 || data[0] != '"' {
		return errors.New("must be a string")
	}
	inner := data[1 : len(data)-1]
	if len(inner) > 0 && bytes.IndexByte(inner, '\\') < 0 {
		*b = b64Field{set: true, v: unsafe.String(&inner[0], len(inner))}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("must be a string")
	}
	*b = b64Field{set: true, v: s}
	return nil
}

// imageJSON is one image in a request body.
type imageJSON struct {
	FileID      optString `json:"fileId"`
	ImageURL    optString `json:"imageUrl"`
	ImageBase64 b64Field  `json:"imageBase64"`
}

// requestJSON is the body of POST /v1/idcard and the data of a cloud call. Unknown fields
// (userInfo from older runtimes, a client's own extras) are ignored.
type requestJSON struct {
	imageJSON
	Side     optString  `json:"side"`
	Mode     optString  `json:"mode"`
	Front    *imageJSON `json:"front"`
	Back     *imageJSON `json:"back"`
	UserInfo *userInfo  `json:"userInfo"`
}

// userInfo is what older cloud-function runtimes put into the event; the platform sets it.
type userInfo struct {
	AppID  string `json:"appId"`
	OpenID string `json:"openId"`
}

// source names the request's images for the log line, as sourceOf does for an ocr.Request;
// it is taken from the body because a decoded imageBase64 reaches the service as bytes.
func (r *requestJSON) source() string {
	if r.Front != nil || r.Back != nil {
		return "front=" + r.Front.source() + ",back=" + r.Back.source()
	}
	return r.imageJSON.source()
}

func (im *imageJSON) source() string {
	switch {
	case im == nil:
		return "none"
	case im.present() > 1:
		return "" // refused before anything is logged
	case im.FileID.set:
		return "fileId"
	case im.ImageURL.set:
		return "imageUrl"
	case im.ImageBase64.set:
		return "imageBase64"
	}
	return "none"
}

func (im *imageJSON) present() int {
	n := 0
	if im.FileID.set {
		n++
	}
	if im.ImageURL.set {
		n++
	}
	if im.ImageBase64.set {
		n++
	}
	return n
}

// toImage validates one image object; what names it in messages ("" for the top level).
func (im *imageJSON) toImage(what string) (ocr.Image, error) {
	switch im.present() {
	case 0:
		return ocr.Image{}, apperr.Errorf(apperr.InvalidRequest, "%sno image: give one of fileId, imageUrl or imageBase64", what)
	case 1:
	default:
		return ocr.Image{}, apperr.Errorf(apperr.InvalidRequest, "%sgive exactly one of fileId, imageUrl or imageBase64", what)
	}
	switch {
	case im.FileID.set:
		if strings.TrimSpace(im.FileID.v) == "" {
			return ocr.Image{}, apperr.Errorf(apperr.InvalidRequest, "%sfileId is empty", what)
		}
		return ocr.Image{FileID: strings.TrimSpace(im.FileID.v)}, nil
	case im.ImageURL.set:
		if strings.TrimSpace(im.ImageURL.v) == "" {
			return ocr.Image{}, apperr.Errorf(apperr.InvalidRequest, "%simageUrl is empty", what)
		}
		return ocr.Image{URL: strings.TrimSpace(im.ImageURL.v)}, nil
	default:
		if im.ImageBase64.decoded != nil {
			return ocr.Image{Bytes: im.ImageBase64.decoded}, nil
		}
		if strings.TrimSpace(im.ImageBase64.v) == "" {
			return ocr.Image{}, apperr.Errorf(apperr.InvalidRequest, "%simageBase64 is empty", what)
		}
		return ocr.Image{Base64: im.ImageBase64.v}, nil
	}
}

// parseRequestJSON turns cloud-call data into an ocr.Request. Image text is decoded as it
// is scanned (maxImage > 0; see scanner.imageBase64); otherwise data is aliased by the result
// (see b64Field) and must not be modified while it is in use.
func parseRequestJSON(data []byte, maxImage int64) (ocr.Request, *userInfo, string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return ocr.Request{}, nil, "", apperr.Errorf(apperr.InvalidRequest, "the request body is empty")
	}
	if data[0] != '{' {
		return ocr.Request{}, nil, "", apperr.Errorf(apperr.InvalidRequest, "the request body must be a JSON object")
	}
	s := &scanner{data: data, maxImage: maxImage}
	req, ui, err := parseScanned(s)
	return req, ui, s.source, err
}

// parseRequestStream is parseRequestJSON for a body read from r, which holds at most size
// bytes: the text is scanned as it arrives and image text is decoded on the way, so a
// 2.8 MB body is neither buffered nor scanned twice, and decoding overlaps the upload. The
// caller checks the read error and the size limit, which come first (see readJSONBody).
func parseRequestStream(r io.Reader, size, maxImage int64) (ocr.Request, *userInfo, *scanner, error) {
	s := &scanner{src: r, srcSize: size, maxImage: maxImage, data: make([]byte, 0, 4096)}
	// Leading space as bytes.TrimSpace sees it (Unicode), not only JSON's; offsets in errors
	// count from after it, as in parseRequestJSON.
	var rest []byte
	for {
		rest = bytes.TrimLeftFunc(s.data, unicode.IsSpace)
		if len(rest) > 0 && utf8.FullRune(rest) || !s.fill() {
			break
		}
	}
	s.pos = len(s.data) - len(rest)
	s.shift = -s.pos
	if len(rest) == 0 {
		return ocr.Request{}, nil, s, apperr.Errorf(apperr.InvalidRequest, "the request body is empty")
	}
	if rest[0] != '{' {
		return ocr.Request{}, nil, s, apperr.Errorf(apperr.InvalidRequest, "the request body must be a JSON object")
	}
	req, ui, err := parseScanned(s)
	return req, ui, s, err
}

// parseScanned decodes the request object at the scanner's position and checks it.
func parseScanned(s *scanner) (ocr.Request, *userInfo, error) {
	var body requestJSON
	if err := s.request(&body); err != nil {
		return ocr.Request{}, nil, apperr.Wrap(apperr.InvalidRequest, err, "the request body is not valid JSON: %s", jsonErrorText(err))
	}
	s.source = body.source()
	req := ocr.Request{}
	mode, err := ocr.ParseMode(body.Mode.v)
	if err != nil {
		return req, nil, err
	}
	req.Mode = mode
	if body.Front != nil || body.Back != nil {
		if body.imageJSON.present() > 0 {
			return req, nil, apperr.Errorf(apperr.InvalidRequest, "give either one image or front and back, not both")
		}
		switch body.Side.v {
		case "", "auto", "both":
		default:
			return req, nil, apperr.Errorf(apperr.InvalidRequest, "side must be omitted (or both) when front and back are given")
		}
		if body.Front != nil {
			im, err := body.Front.toImage("front: ")
			if err != nil {
				return req, nil, err
			}
			req.Front = &im
		}
		if body.Back != nil {
			im, err := body.Back.toImage("back: ")
			if err != nil {
				return req, nil, err
			}
			req.Back = &im
		}
		return req, body.UserInfo, nil
	}
	side, err := ocr.ParseSide(body.Side.v)
	if err != nil {
		return req, nil, err
	}
	req.Side = side
	im, err := body.imageJSON.toImage("")
	if err != nil {
		return req, nil, err
	}
	req.Image = im
	return req, body.UserInfo, nil
}

// jsonErrorText describes a decoding error without echoing the input.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at offset " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return typ.Field + " has the wrong type"
		}
		return "a value has the wrong type"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	// Our own UnmarshalJSON errors ("must be a string") name no field; keep them short.
	return err.Error()
}

// readBody reads at most limit bytes; a larger body is IMAGE_TOO_LARGE. It sizes the buffer
// from Content-Length so a large upload is read without regrowing.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // +1 so that reading EOF needs no growth
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, apperr.Wrap(apperr.InvalidRequest, err, "could not read the request body")
		}
	}
	if int64(len(buf)) > limit {
		return nil, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	return buf, nil
}

// readJSONBody parses a JSON body as it is read. What goes wrong with reading comes first,
// as when the body was read whole before parsing: a read error, then a body over the limit
// (IMAGE_TOO_LARGE, also when its text is malformed), then the text's own faults.
func (h *Handler) readJSONBody(r *http.Request) (ocr.Request, string, error) {
	limit := 2*(h.maxImage*4/3+4) + jsonSlack
	if r.ContentLength > limit {
		return ocr.Request{}, "", apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	size := limit
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	lr := &io.LimitedReader{R: r.Body, N: limit + 1}
	req, _, s, err := parseRequestStream(lr, size, h.maxImage)
	if err != nil && !s.eof {
		// Read what is left of the body (no more than the limit) to tell which comes first.
		n, cerr := io.Copy(io.Discard, lr)
		s.read += n
		if cerr != nil {
			s.rerr = cerr
		}
	}
	if s.rerr != nil {
		return ocr.Request{}, "", apperr.Wrap(apperr.InvalidRequest, s.rerr, "could not read the request body")
	}
	if s.read > limit {
		return ocr.Request{}, "", apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	return req, s.source, err
}

// parseHTTPRequest reads POST /v1/idcard in any of its three forms: JSON, multipart with a
// file field image (or front and back) plus optional side and mode fields, or a raw image
// body (image/* or application/octet-stream) with side and mode in the query.
func (h *Handler) parseHTTPRequest(r *http.Request) (ocr.Request, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/json", nil // curl -d without -H still means JSON here
	}
	if err != nil {
		return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "unreadable Content-Type")
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/plain":
		req, src, err := h.readJSONBody(r)
		if ri := infoFrom(r.Context()); ri != nil {
			ri.source = src
		}
		return req, err
	case mt == "multipart/form-data":
		return h.parseMultipart(r, params["boundary"])
	case strings.HasPrefix(mt, "image/") || mt == "application/octet-stream":
		body, err := readBody(r, h.maxImage)
		if err != nil {
			return ocr.Request{}, err
		}
		q := r.URL.Query()
		side, err := ocr.ParseSide(q.Get("side"))
		if err != nil {
			return ocr.Request{}, err
		}
		mode, err := ocr.ParseMode(q.Get("mode"))
		if err != nil {
			return ocr.Request{}, err
		}
		return ocr.Request{Image: ocr.Image{Bytes: body}, Side: side, Mode: mode}, nil
	}
	return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "unsupported Content-Type %q: use application/json, multipart/form-data or an image type", mt)
}

// parseMultipart streams the parts, reading each file into memory once with the image size
// limit and each text field with a small limit; nothing goes to temporary files.
func (h *Handler) parseMultipart(r *http.Request, boundary string) (ocr.Request, error) {
	if boundary == "" {
		return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "multipart body without a boundary")
	}
	if r.ContentLength > 2*h.maxImage+jsonSlack {
		return ocr.Request{}, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", 2*h.maxImage+jsonSlack)
	}
	// The whole body is capped too, so many small parts cannot add up without bound.
	mr := multipart.NewReader(io.LimitReader(r.Body, 2*h.maxImage+jsonSlack), boundary)
	var (
		files      = map[string][]byte{}
		side, mode string
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
		}
		name := part.FormName()
		switch name {
		case "image", "front", "back":
			if _, dup := files[name]; dup {
				return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "the field %s is given twice", name)
			}
			data, err := io.ReadAll(io.LimitReader(part, h.maxImage+1))
			if err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
			if int64(len(data)) > h.maxImage {
				return ocr.Request{}, apperr.Errorf(apperr.ImageTooLarge, "the image exceeds %d bytes", h.maxImage)
			}
			files[name] = data
		case "side", "mode":
			v, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
			if name == "side" {
				side = strings.TrimSpace(string(v))
			} else {
				mode = strings.TrimSpace(string(v))
			}
		default:
			// Unknown fields are drained and ignored, like unknown JSON fields.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
		}
		part.Close()
	}
	m, err := ocr.ParseMode(mode)
	if err != nil {
		return ocr.Request{}, err
	}
	req := ocr.Request{Mode: m}
	img, single := files["image"]
	front, hasFront := files["front"]
	back, hasBack := files["back"]
	switch {
	case single && (hasFront || hasBack):
		return req, apperr.Errorf(apperr.InvalidRequest, "give either the field image or front and back, not both")
	case single:
		s, err := ocr.ParseSide(side)
		if err != nil {
			return req, err
		}
		req.Side = s
		req.Image = ocr.Image{Bytes: nonNil(img)}
	case hasFront || hasBack:
		if side != "" && side != "auto" && side != "both" {
			return req, apperr.Errorf(apperr.InvalidRequest, "side must be omitted (or both) when front and back are given")
		}
		if hasFront {
			req.Front = &ocr.Image{Bytes: nonNil(front)}
		}
		if hasBack {
			req.Back = &ocr.Image{Bytes: nonNil(back)}
		}
	default:
		return req, apperr.Errorf(apperr.InvalidRequest, "no image: the multipart body needs a file field named image")
	}
	return req, nil
}

// nonNil keeps a zero-byte upload distinguishable from no upload.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
