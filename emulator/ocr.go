package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg" // decodable formats: what WeChat accepts
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// maxDrainBytes is how much of an oversized upload is read and discarded so the client gets
// its 101002 instead of a connection closed under its request.
const maxDrainBytes = 16 << 20

// ocrResponse is cv/ocr/idcard's answer; empty fields are left out as WeChat leaves out the
// other side's fields.
type ocrResponse struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	Type        string `json:"type"`
	Name        string `json:"name,omitempty"`
	ID          string `json:"id,omitempty"`
	Addr        string `json:"addr,omitempty"`
	Gender      string `json:"gender,omitempty"`
	Nationality string `json:"nationality,omitempty"`
	ValidDate   string `json:"valid_date,omitempty"`
}

// serveOCR is POST /cv/ocr/idcard?access_token=…[&img_url=…][&type=photo|scan], the image
// either fetched from img_url or uploaded as multipart field "img".
func (e *Emulator) serveOCR(w http.ResponseWriter, r *http.Request) {
	defer func() { _, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrainBytes)) }()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		e.fail(w, CodeRequirePOST, "")
		return
	}
	if !e.checkToken(w, r) {
		return
	}
	q := r.URL.Query()
	if mode := q.Get("type"); mode != "" && mode != "photo" && mode != "scan" {
		e.fail(w, CodeInvalidArgs, "type must be photo or scan")
		return
	}

	var img []byte
	var code int
	if rawURL, present := rawQueryValue(r.URL.RawQuery, "img_url"); present {
		if strings.Contains(rawURL, "://") {
			// Users report -1 for an img_url that was not URL-encoded at all.
			e.fail(w, CodeSystemBusy, "")
			return
		}
		img, code = e.fetchImage(r.Context(), q.Get("img_url"))
	} else {
		img, code = readUpload(r)
	}
	if code != 0 {
		e.fail(w, code, "")
		return
	}
	resp, code := recognise(img)
	if code != 0 {
		e.fail(w, code, "")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// rawQueryValue finds key's still-encoded value, to tell how the caller encoded it.
func rawQueryValue(rawQuery, key string) (string, bool) {
	for part := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// fetchImage downloads img_url as WeChat would: http(s) only, bounded in time and size.
// After the one decoding of the query, a double-encoded URL still reads "https%3A%2F%2F…" and
// has no scheme, so it fails here with 101000 as users report.
func (e *Emulator) fetchImage(ctx context.Context, raw string) ([]byte, int) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, CodeInvalidImageURL
	}
	ctx, cancel := context.WithTimeout(ctx, e.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, CodeInvalidImageURL
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, CodeInvalidImageURL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, CodeInvalidImageURL
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxImageBytes+1))
	if err != nil {
		return nil, CodeInvalidImageURL
	}
	if len(data) > MaxImageBytes {
		return nil, CodeImageDecodeFailed
	}
	return data, 0
}

// readUpload reads multipart field "img", at most MaxImageBytes.
func readUpload(r *http.Request) ([]byte, int) {
	if r.Method != http.MethodPost {
		return nil, CodeMediaMissing
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, CodeMediaMissing
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, CodeDataFormat
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, CodeMediaMissing
		}
		if err != nil {
			return nil, CodeDataFormat
		}
		if part.FormName() != "img" {
			continue // NextPart discards the rest of this part
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxImageBytes+1))
		switch {
		case err != nil:
			return nil, CodeDataFormat
		case len(data) > MaxImageBytes:
			return nil, CodeImageDecodeFailed
		}
		return data, 0
	}
}

// recognise applies the recognition contract to an image.
func recognise(img []byte) (*ocrResponse, int) {
	if len(img) > MaxImageBytes {
		return nil, CodeImageDecodeFailed
	}
	if _, _, err := image.DecodeConfig(bytes.NewReader(img)); err != nil {
		return nil, CodeImageDecodeFailed
	}
	text, ok := extractCardJSON(img)
	if !ok {
		return nil, CodeCertificateMissing
	}
	fields, ok := parseCardJSON(text)
	if !ok {
		return nil, CodeCertificateMissing
	}
	resp := &ocrResponse{
		ErrMsg:      "ok",
		Type:        fields["type"],
		Name:        fields["name"],
		ID:          fields["id"],
		Addr:        fields["addr"],
		Gender:      fields["gender"],
		Nationality: fields["nationality"],
		ValidDate:   fields["valid_date"],
	}
	if resp.Type == "" {
		resp.Type = "Front"
		if resp.ValidDate != "" {
			resp.Type = "Back"
		}
	}
	return resp, 0
}

// parseCardJSON reads the carrier's JSON object, keeping string members only; anything that
// is not a JSON object counts as no card.
func parseCardJSON(text []byte) (map[string]string, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil || raw == nil {
		return nil, false
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out, true
}
