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
	"net/url"
	"strings"
)

const idCardEndpoint = "/cv/ocr/idcard"

// IDCard is what cv/ocr/idcard recognised, in WeChat's raw strings. Type is "Front" (Name,
// ID, Addr, Gender 男/女, Nationality) or "Back" (ValidDate, e.g. "20070105-20270105").
type IDCard struct {
	Type        string
	Name        string
	ID          string
	Addr        string
	Gender      string
	Nationality string
	ValidDate   string
}

type idCardResp struct {
	envelope
	Type        string `json:"type"`
	Name        string `json:"name"`
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Gender      string `json:"gender"`
	Nationality string `json:"nationality"`
	ValidDate   string `json:"valid_date"`
	// One report names the field validDate; both spellings are accepted.
	ValidDateAlt string `json:"validDate"`
}

func (r *idCardResp) card() *IDCard {
	vd := r.ValidDate
	if vd == "" {
		vd = r.ValidDateAlt
	}
	return &IDCard{Type: r.Type, Name: r.Name, ID: r.ID, Addr: r.Addr, Gender: r.Gender,
		Nationality: r.Nationality, ValidDate: vd}
}

func checkMode(mode string) error {
	switch mode {
	case "", "photo", "scan":
		return nil
	}
	return fmt.Errorf("wechat %s: mode %q is not \"\", \"photo\" or \"scan\"", idCardEndpoint, mode)
}

// IDCardByURL recognises the ID card at imgURL, which WeChat downloads itself. mode is ""
// (not sent), "photo" or "scan". imgURL is URL-encoded here, exactly once: pass it raw.
func (c *Client) IDCardByURL(ctx context.Context, imgURL, mode string) (*IDCard, error) {
	if imgURL == "" {
		return nil, fmt.Errorf("wechat %s: empty image URL", idCardEndpoint)
	}
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	q := url.Values{"img_url": {imgURL}}
	if mode != "" {
		q.Set("type", mode)
	}
	req := &request{method: http.MethodPost, endpoint: idCardEndpoint, query: q}
	var resp idCardResp
	if err := c.call(ctx, req, &resp); err != nil {
		return nil, err
	}
	return resp.card(), nil
}

// IDCardByImage recognises the ID card in img, uploaded as multipart form field "img".
// contentType is the image's MIME type ("" = sniffed). img is streamed from the caller's
// slice, never copied, and must not be modified until the call returns.
func (c *Client) IDCardByImage(ctx context.Context, img []byte, contentType, mode string) (*IDCard, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("wechat %s: empty image", idCardEndpoint)
	}
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	req, err := multipartRequest(img, contentType)
	if err != nil {
		return nil, fmt.Errorf("wechat %s: %w", idCardEndpoint, err)
	}
	if mode != "" {
		req.query = url.Values{"type": {mode}}
	}
	var resp idCardResp
	if err := c.call(ctx, req, &resp); err != nil {
		return nil, err
	}
	return resp.card(), nil
}

// imageExt maps the image types WeChat decodes to the file extension it may judge by.
var imageExt = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/bmp":  "bmp",
	"image/webp": "webp",
	"image/gif":  "gif",
}

// multipartRequest builds a multipart/form-data body with the one file field "img" as
// prefix + img + suffix, so that each attempt streams img itself instead of a copy of it.
func multipartRequest(img []byte, contentType string) (*request, error) {
	if contentType == "" {
		contentType = http.DetectContentType(img)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("image content type %q: %w", contentType, err)
	}
	if !strings.HasPrefix(mt, "image/") && mt != "application/octet-stream" {
		return nil, fmt.Errorf("image content type %q is not an image type", mt)
	}
	ext, ok := imageExt[mt]
	if !ok {
		ext = "bin"
	}
	// FormatMediaType re-renders the type so nothing the caller passed reaches the header raw.
	partType := mime.FormatMediaType(mt, params)
	if partType == "" {
		return nil, errors.New("image content type cannot be rendered")
	}
	boundary := multipart.NewWriter(io.Discard).Boundary()
	prefix := []byte("--" + boundary + "\r\n" +
		`Content-Disposition: form-data; name="img"; filename="card.` + ext + "\"\r\n" +
		"Content-Type: " + partType + "\r\n\r\n")
	suffix := []byte("\r\n--" + boundary + "--\r\n")
	return &request{
		method:        http.MethodPost,
		endpoint:      idCardEndpoint,
		contentType:   "multipart/form-data; boundary=" + boundary,
		contentLength: int64(len(prefix) + len(img) + len(suffix)),
		newBody: func() io.Reader {
			return io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(img), bytes.NewReader(suffix))
		},
	}, nil
}
