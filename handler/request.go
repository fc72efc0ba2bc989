package handler

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// jsonSlack is room in a JSON body beyond the encoded images: field names, side, mode, a
// data: URL prefix, whitespace, userInfo.
const jsonSlack = 64 << 10

// requestJSON is the body of POST /v1/idcard and the data of a cloud call. Unknown fields
// (a client's own extras) are ignored. Requests and events are decoded with
// github.com/go-json-experiment/json (jsonv2) rather than encoding/json: on a 2 MB
// imageBase64 body (2.8 MB of text) encoding/json took 13-19 ms here, jsonv2 about 1.4 ms,
// and the budget for the whole request is 10 ms. Responses are still encoded with
// encoding/json, whose output (null for nil, omitempty) is the API's documented shape.
type requestJSON struct {
	imageJSON `json:",inline"`
	Side      string     `json:"side"`
	Mode      string     `json:"mode"`
	Checks    string     `json:"checks"`
	Front     *imageJSON `json:"front"`
	Back      *imageJSON `json:"back"`
	// UserInfo is the caller that older cloud-function runtimes put into the event.
	UserInfo *userInfo `json:"userInfo"`
	// Portrait asks for the holder's photo (Tencent Cloud OCR only).
	Portrait bool `json:"portrait"`
}

// imageJSON is one image in a request body.
type imageJSON struct {
	FileID      *string     `json:"fileId"`
	ImageURL    *string     `json:"imageUrl"`
	ImageBase64 base64Image `json:"imageBase64"`
}

// base64Image is an imageBase64 value, decoded by Handler.jsonOptions as it is read.
type base64Image struct {
	set  bool
	data []byte
}

// userInfo is what older cloud-function runtimes put into the event; the platform sets it.
type userInfo struct {
	AppID  string `json:"appId"`
	OpenID string `json:"openId"`
}

// jsonOptions decodes request JSON: each imageBase64 string goes straight from the JSON text
// (not copied, unless it holds escapes) to imagesrc.DecodeBase64 with the image size limit,
// so that a 2 MB image costs the body and the image and nothing of their size besides.
func jsonOptions(maxImage int64) jsonv2.Options {
	return jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, b *base64Image) error {
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		switch v.Kind() {
		case 'n':
			*b = base64Image{}
			return nil
		case '"':
		default:
			return errors.New("imageBase64 must be a string")
		}
		text := v[1 : len(v)-1]
		if bytes.IndexByte(text, '\\') >= 0 { // escapes ("\/" from some encoders): unquote
			if text, err = jsontext.AppendUnquote(nil, v); err != nil {
				return err
			}
		}
		data, err := imagesrc.DecodeBase64(text, maxImage)
		if err != nil {
			return err
		}
		*b = base64Image{set: true, data: data}
		return nil
	}))
}

// decodeJSONError is the *apperr.Error for a request body or event that did not decode: it
// says what is wrong without echoing the input.
func decodeJSONError(err error) *apperr.Error {
	var ae *apperr.Error
	if errors.As(err, &ae) { // from imagesrc.DecodeBase64: its own code and message
		return ae
	}
	text := jsonErrorText(err)
	if text == "" {
		text = "unreadable"
	}
	return apperr.Wrap(apperr.InvalidRequest, err, "the request body is not valid JSON: %s", text)
}

// jsonErrorText describes a JSON decoding error without echoing the input, or is "" for an
// error that did not come from the JSON decoder.
func jsonErrorText(err error) string {
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case errors.As(err, &syn):
		return "syntax error at offset " + strconv.FormatInt(syn.ByteOffset, 10)
	case errors.As(err, &sem):
		if sem.JSONPointer != "" {
			return string(sem.JSONPointer) + " has the wrong type"
		}
		return "a value has the wrong type"
	}
	return ""
}

// request turns the decoded body into an ocr.Request; the recognition service checks it
// (ocr.Request.Validate).
func (r *requestJSON) request() ocr.Request {
	req := ocr.Request{Side: ocr.Side(r.Side), Mode: r.Mode, Checks: r.Checks, Image: r.imageJSON.image(), Portrait: r.Portrait}
	if r.Front != nil {
		im := r.Front.image()
		req.Front = &im
	}
	if r.Back != nil {
		im := r.Back.image()
		req.Back = &im
	}
	return req
}

func (im *imageJSON) image() ocr.Image {
	var out ocr.Image
	if im.FileID != nil {
		out.FileID = *im.FileID
	}
	if im.ImageURL != nil {
		out.URL = *im.ImageURL
	}
	if im.ImageBase64.set {
		out.Bytes = im.ImageBase64.data
	}
	return out
}

// source names the request's images for the log line: the service sees a decoded
// imageBase64 as bytes, like an upload.
func (r *requestJSON) source() string {
	if r.Front != nil || r.Back != nil {
		return "front=" + r.Front.source() + ",back=" + r.Back.source()
	}
	return r.imageJSON.source()
}

func (im *imageJSON) source() string {
	var names []string
	if im != nil && im.FileID != nil {
		names = append(names, "fileId")
	}
	if im != nil && im.ImageURL != nil {
		names = append(names, "imageUrl")
	}
	if im != nil && im.ImageBase64.set {
		names = append(names, "imageBase64")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// readBody reads at most limit bytes; a larger body is IMAGE_TOO_LARGE. It sizes the buffer
// from Content-Length so a large upload is read without regrowing.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	buf, err := readLimited(r.Body, limit, r.ContentLength)
	if err != nil {
		return nil, apperr.Wrap(apperr.InvalidRequest, err, "could not read the request body")
	}
	if int64(len(buf)) > limit {
		return nil, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	return buf, nil
}

// readLimited reads r to its end or to limit+1 bytes, whichever comes first, into one buffer
// of sizeHint+1 bytes when sizeHint > 0 (a Content-Length), so that reading a large body
// neither regrows the buffer (io.ReadAll doubles it) nor grows it just to see EOF (as
// bytes.Buffer.ReadFrom does); a longer read than the hint grows it as append does. The
// result is never nil, so an empty upload stays distinguishable from none.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	size := int64(512)
	if sizeHint > 0 {
		size = min(sizeHint, limit) + 1
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseJSON reads and decodes a JSON request body.
func (h *Handler) parseJSON(r *http.Request) (ocr.Request, string, error) {
	body, err := readBody(r, 2*(h.maxImage*4/3+4)+jsonSlack)
	if err != nil {
		return ocr.Request{}, "", err
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return ocr.Request{}, "", apperr.Errorf(apperr.InvalidRequest, "the request body is empty")
	case trimmed[0] != '{':
		return ocr.Request{}, "", apperr.Errorf(apperr.InvalidRequest, "the request body must be a JSON object")
	}
	var data requestJSON
	if err := jsonv2.Unmarshal(trimmed, &data, h.jsonOpts); err != nil {
		return ocr.Request{}, "", decodeJSONError(err)
	}
	return data.request(), data.source(), nil
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
		req, src, err := h.parseJSON(r)
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
		return ocr.Request{Image: ocr.Image{Bytes: body}, Side: ocr.Side(q.Get("side")), Mode: q.Get("mode"), Checks: q.Get("checks")}, nil
	}
	return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "unsupported Content-Type %q: use application/json, multipart/form-data or an image type", mt)
}

// parseMultipart streams the parts, reading each file into memory once with the image size
// limit and each text field with a small limit; nothing goes to temporary files.
func (h *Handler) parseMultipart(r *http.Request, boundary string) (ocr.Request, error) {
	if boundary == "" {
		return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "multipart body without a boundary")
	}
	limit := 2*h.maxImage + jsonSlack
	if r.ContentLength > limit {
		return ocr.Request{}, apperr.Errorf(apperr.ImageTooLarge, "the request body exceeds %d bytes", limit)
	}
	// The whole body is capped too, so many small parts cannot add up without bound.
	mr := multipart.NewReader(io.LimitReader(r.Body, limit), boundary)
	var req ocr.Request
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
			if req.Image.Bytes != nil && name == "image" || req.Front != nil && name == "front" || req.Back != nil && name == "back" {
				return ocr.Request{}, apperr.Errorf(apperr.InvalidRequest, "the field %s is given twice", name)
			}
			// The body's length bounds the part's: one buffer, no regrowing.
			data, err := readLimited(part, h.maxImage, r.ContentLength)
			if err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
			if int64(len(data)) > h.maxImage {
				return ocr.Request{}, apperr.Errorf(apperr.ImageTooLarge, "the image exceeds %d bytes", h.maxImage)
			}
			// data is never nil: a 0-byte upload is an empty image, not none.
			switch name {
			case "image":
				req.Image.Bytes = data
			case "front":
				req.Front = &ocr.Image{Bytes: data}
			default:
				req.Back = &ocr.Image{Bytes: data}
			}
		case "side", "mode", "checks":
			v, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
			switch v := strings.TrimSpace(string(v)); name {
			case "side":
				req.Side = ocr.Side(v)
			case "mode":
				req.Mode = v
			default:
				req.Checks = v
			}
		default:
			// Unknown fields are drained and ignored, like unknown JSON fields.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return ocr.Request{}, apperr.Wrap(apperr.InvalidRequest, err, "malformed multipart body")
			}
		}
		part.Close()
	}
	return req, nil
}
