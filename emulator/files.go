package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing/fstest"
	"time"
)

// maxFilesPerBatch is the reported per-call limit of tcb/batchdownloadfile; enforcing it makes
// clients that forget to split batches fail here rather than in production.
const maxFilesPerBatch = 50

// Per-file statuses of tcb/batchdownloadfile (non-zero means that file failed).
const (
	FileStatusOK           = 0
	FileStatusInvalidID    = -501001
	FileStatusNotExist     = -503003
	fileMsgInvalidID       = "INVALID_FILEID"
	fileMsgNotExist        = "STORAGE_FILE_NONEXIST"
	maxServedFileBytes     = 32 << 20
	defaultDownloadMaxAge  = 7200 * time.Second
	maxBatchDownloadBodyIn = 1 << 20
)

type batchDownloadRequest struct {
	Env      string `json:"env"`
	FileList []struct {
		FileID string `json:"fileid"`
		MaxAge int64  `json:"max_age"`
	} `json:"file_list"`
}

type fileURL struct {
	FileID      string `json:"fileid"`
	DownloadURL string `json:"download_url"`
	Status      int    `json:"status"`
	ErrMsg      string `json:"errmsg"`
}

type batchDownloadResponse struct {
	ErrCode  int       `json:"errcode"`
	ErrMsg   string    `json:"errmsg"`
	FileList []fileURL `json:"file_list"`
}

// parseFileID splits cloud://<env>.<bucket>/<path>.
func parseFileID(id string) (env, bucket, path string, ok bool) {
	rest, ok := strings.CutPrefix(id, "cloud://")
	if !ok {
		return "", "", "", false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", "", false
	}
	env, bucket, ok = strings.Cut(host, ".")
	if !ok || env == "" || bucket == "" || strings.Contains(bucket, "/") || !fs.ValidPath(path) || path == "." {
		return "", "", "", false
	}
	return env, bucket, path, true
}

// serveBatchDownload is POST /tcb/batchdownloadfile: a signed download URL pointing back at
// the emulator for every file that exists, a per-file status otherwise.
func (e *Emulator) serveBatchDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e.fail(w, CodeRequirePOST, "")
		return
	}
	if !e.checkToken(w, r) {
		return
	}
	var req batchDownloadRequest
	if !e.readJSON(w, r, maxBatchDownloadBodyIn, &req) {
		return
	}
	switch {
	case req.Env == "":
		e.fail(w, CodeInvalidArgs, "env missing")
		return
	case len(req.FileList) == 0:
		e.fail(w, CodeInvalidArgs, "file_list empty")
		return
	case len(req.FileList) > maxFilesPerBatch:
		e.fail(w, CodeInvalidArgs, "file_list longer than "+strconv.Itoa(maxFilesPerBatch))
		return
	}

	now := e.now()
	base := requestBase(r)
	resp := batchDownloadResponse{ErrMsg: "ok", FileList: make([]fileURL, 0, len(req.FileList))}
	for _, f := range req.FileList {
		out := fileURL{FileID: f.FileID}
		env, bucket, path, ok := parseFileID(f.FileID)
		switch {
		case !ok:
			out.Status, out.ErrMsg = FileStatusInvalidID, fileMsgInvalidID
		case env != req.Env:
			out.Status, out.ErrMsg = FileStatusInvalidID, fileMsgInvalidID+": file belongs to another env"
		case !e.fileExists(path):
			out.Status, out.ErrMsg = FileStatusNotExist, fileMsgNotExist
		default:
			maxAge := time.Duration(f.MaxAge) * time.Second
			if maxAge <= 0 {
				maxAge = defaultDownloadMaxAge
			}
			out.Status, out.ErrMsg = FileStatusOK, "ok"
			out.DownloadURL = e.downloadURL(base, env, bucket, path, now.Add(maxAge))
		}
		resp.FileList = append(resp.FileList, out)
	}
	writeJSON(w, http.StatusOK, resp)
}

// requestBase is scheme://host as the client reached the emulator.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) fileExists(path string) bool {
	if e.files == nil {
		return false
	}
	st, err := fs.Stat(e.files, path)
	return err == nil && st.Mode().IsRegular()
}

func (e *Emulator) sign(env, bucket, path string, exp int64) string {
	m := hmac.New(sha256.New, e.signKey)
	m.Write([]byte(env + "\n" + bucket + "\n" + path + "\n" + strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (e *Emulator) downloadURL(base, env, bucket, path string, exp time.Time) string {
	u := url.URL{Path: PathFiles + "/" + env + "/" + bucket + "/" + path}
	t := exp.Unix()
	u.RawQuery = url.Values{"sign": {e.sign(env, bucket, path, t)}, "t": {strconv.FormatInt(t, 10)}}.Encode()
	return base + u.String()
}

// serveFile answers a download URL handed out by serveBatchDownload, checking its signature
// and expiry like a COS pre-signed URL.
func (e *Emulator) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, PathFiles+"/")
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || !fs.ValidPath(parts[2]) {
		http.NotFound(w, r)
		return
	}
	env, bucket, path := parts[0], parts[1], parts[2]
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("t"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("sign")), []byte(e.sign(env, bucket, path, exp))) {
		http.Error(w, "403 signature mismatch", http.StatusForbidden)
		return
	}
	if !e.now().Before(time.Unix(exp, 0)) {
		http.Error(w, "403 request has expired", http.StatusForbidden)
		return
	}
	if e.files == nil {
		http.NotFound(w, r)
		return
	}
	f, err := e.files.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxServedFileBytes))
	if err != nil {
		http.Error(w, "read file", http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, path, st.ModTime(), bytes.NewReader(data))
}

// sampleCards are the fields of the generated sample cards, by file name under cards/. They
// are consistent with the ID rules: valid check digits, sex from the sequence's parity, and
// validity spans that fit the holder's age at issue (see testdata/cards/README.md).
var sampleCards = map[string]map[string]string{
	"front.png": {
		"type": "Front", "name": "张三", "id": "440305199505132561", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号", "birth": "1995/5/13",
	},
	// The same front with Tencent Cloud's fraud signals (WarnInfos codes under "warnings";
	// WeChat's cv/ocr/idcard ignores them): a photocopy, a photo of a screen, and a temporary
	// ID card.
	"front-photocopy.png": {
		"type": "Front", "name": "张三", "id": "440305199505132561", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号", "birth": "1995/5/13", "warnings": "-9102",
	},
	"front-reshoot.png": {
		"type": "Front", "name": "张三", "id": "440305199505132561", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号", "birth": "1995/5/13", "warnings": "-9103",
	},
	"front-temporary.png": {
		"type": "Front", "name": "张三", "id": "440305199505132561", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号", "birth": "1995/5/13", "warnings": "-9104",
	},
	// Issued 2019-03-08 at age 23: 16-25 → 10 years.
	"back.png": {"type": "Back", "valid_date": "20190308-20290308", "authority": "深圳市公安局南山分局"},
	// The same holder's previous card, issued 2012-07-01 at age 17: 10 years, ended 2022.
	"back-expired.png": {"type": "Back", "valid_date": "20120701-20220701", "authority": "深圳市公安局南山分局"},
	"front-senior.png": {
		"type": "Front", "name": "李四", "id": "110105196003150312", "gender": "男", "nationality": "汉",
		"addr": "北京市朝阳区建国路1号", "birth": "1960/3/15",
	},
	// The senior holder's card, issued 2008-06-18 at age 48: 46+ → long-term.
	"back-longterm.png": {"type": "Back", "valid_date": "20080618-长期", "authority": "北京市公安局朝阳分局"},
	// Partial recognitions (issue 7 §3): a front whose fields all came back empty, a front
	// with a name but no number, and a back without its validity period. None may pass.
	"front-empty.png": {"type": "Front"},
	"front-no-number.png": {
		"type": "Front", "name": "张三", "gender": "女", "nationality": "汉",
		"addr": "广东省深圳市南山区粤海街道科技园路1号",
	},
	"back-no-validity.png": {"type": "Back", "authority": "深圳市公安局南山分局"},
	// Check digit of 371002200610020000 should be 3; everything else agrees with the number.
	"front-bad-checksum.png": {
		"type": "Front", "name": "王五", "id": "371002200610020000", "gender": "女", "nationality": "汉",
		"addr": "山东省威海市环翠区新威路1号", "birth": "2006/10/2",
	},
}

// SampleFiles returns an in-memory file system with the sample cards under cards/, generated
// now by EncodeCardPNG (and EncodeCardJPEG for cards/front.jpg): front.png, back.png,
// back-expired.png, back-longterm.png, front-senior.png, front-bad-checksum.png,
// front-photocopy.png, front-reshoot.png, front-temporary.png, front-empty.png,
// front-no-number.png, back-no-validity.png, front.jpg, and blank.png (decodable, no carrier: 101001). Serve it with Options{Files: SampleFiles()} as
// cloud://<env>.<bucket>/cards/front.png etc.
func SampleFiles() fs.FS {
	m := fstest.MapFS{}
	for name, fields := range sampleCards {
		m["cards/"+name] = &fstest.MapFile{Data: EncodeCardPNG(fields), Mode: 0o644}
	}
	m["cards/front.jpg"] = &fstest.MapFile{Data: EncodeCardJPEG(sampleCards["front.png"]), Mode: 0o644}
	m["cards/blank.png"] = &fstest.MapFile{Data: EncodePlainPNG(), Mode: 0o644}
	return m
}
