package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// tc3Algorithm is the only signature algorithm of Tencent Cloud API 3.0 the emulator accepts.
const tc3Algorithm = "TC3-HMAC-SHA256"

// signatureMaxSkew is how far X-TC-Timestamp may be from the server's clock
// (AuthFailure.SignatureExpire: "Timestamp and server time cannot differ by more than five
// minutes").
const signatureMaxSkew = 5 * time.Minute

// tc3Auth is a parsed Authorization header:
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
type tc3Auth struct {
	secretID, date, service string
	signedHeaders           []string
	signature               string
}

func parseTC3Auth(h string) (tc3Auth, bool) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != tc3Algorithm {
		return tc3Auth{}, false
	}
	var a tc3Auth
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return tc3Auth{}, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 4 || f[3] != "tc3_request" || f[0] == "" {
				return tc3Auth{}, false
			}
			a.secretID, a.date, a.service = f[0], f[1], f[2]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.secretID == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return tc3Auth{}, false
	}
	return a, true
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tc3Signature computes the signature of r (whose body is body) as the server does, from the
// headers the client says it signed. It is written from Tencent Cloud's published signing
// procedure (https://cloud.tencent.com/document/api/866/33519), independently of the SDK, so
// that a client signing wrongly is caught.
func tc3Signature(r *http.Request, body []byte, a tc3Auth, secretKey, timestamp string) string {
	var ch strings.Builder
	names := append([]string(nil), a.signedHeaders...)
	sort.Strings(names)
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		v := r.Header.Get(n)
		if n == "host" {
			v = r.Host
		}
		ch.WriteString(n + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	payloadHash := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payloadHash = sha256Hex([]byte("UNSIGNED-PAYLOAD"))
	}
	canonicalQuery := ""
	if r.Method == http.MethodGet {
		canonicalQuery = canonicalQueryString(r.URL.Query())
	}
	canonical := strings.Join([]string{
		r.Method, "/", canonicalQuery, ch.String(), strings.Join(names, ";"), payloadHash,
	}, "\n")
	scope := a.date + "/" + a.service + "/tc3_request"
	toSign := strings.Join([]string{tc3Algorithm, timestamp, scope, sha256Hex([]byte(canonical))}, "\n")
	kDate := hmacSHA256([]byte("TC3"+secretKey), a.date)
	kService := hmacSHA256(kDate, a.service)
	kSigning := hmacSHA256(kService, "tc3_request")
	return hex.EncodeToString(hmacSHA256(kSigning, toSign))
}

func canonicalQueryString(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(q.Get(k)))
	}
	return b.String()
}

// verifyTC3 checks a Tencent Cloud API 3.0 request's signature and returns "" or the error
// code Tencent answers: AuthFailure.InvalidAuthorization (malformed header),
// AuthFailure.SecretIdNotFound (unknown key), AuthFailure.SignatureExpire (timestamp more
// than five minutes from the clock), AuthFailure.SignatureFailure (wrong signature, or a
// credential scope that does not match the timestamp or the service), AuthFailure.TokenFailure
// (temporary keys without their session token).
func (e *Emulator) verifyTC3(r *http.Request, body []byte) string {
	a, ok := parseTC3Auth(r.Header.Get("Authorization"))
	if !ok {
		return "AuthFailure.InvalidAuthorization"
	}
	if a.secretID != e.tcSecretID {
		return "AuthFailure.SecretIdNotFound"
	}
	ts := r.Header.Get("X-TC-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "AuthFailure.InvalidAuthorization"
	}
	t := time.Unix(sec, 0)
	if d := e.now().Sub(t); d > signatureMaxSkew || d < -signatureMaxSkew {
		return "AuthFailure.SignatureExpire"
	}
	signedHost := false
	for _, h := range a.signedHeaders {
		signedHost = signedHost || strings.EqualFold(h, "host")
	}
	want := tc3Signature(r, body, a, e.tcSecretKey, ts)
	if !signedHost || a.service != "ocr" || a.date != t.UTC().Format("2006-01-02") ||
		!hmac.Equal([]byte(want), []byte(a.signature)) {
		return "AuthFailure.SignatureFailure"
	}
	if e.tcToken != "" && !hmac.Equal([]byte(r.Header.Get("X-TC-Token")), []byte(e.tcToken)) {
		return "AuthFailure.TokenFailure"
	}
	return ""
}
