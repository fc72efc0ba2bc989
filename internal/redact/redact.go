// Package redact keeps what a URL grants out of logs and error messages. A cloud-storage
// download URL carries its signature in the query (sign=…&t=…), a caller's presigned URL its
// credentials, and a WeChat API URL its access_token: anyone reading such a URL in a log could
// fetch the ID-card photo or call WeChat as us. Only the scheme, host and path are kept,
// which is what an operator needs to tell which service failed.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// URL returns raw reduced to scheme://host/path: no user info, query or fragment. Text that
// does not parse as a URL is reduced by Text instead.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Text(raw)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Text returns s with every URL in it reduced to scheme://host/path. It finds URLs by their
// "://" (also percent-encoded as "%3A%2F%2F", as when one URL travels in another's query) and
// cuts each at the first character that cannot be part of it (space, quote, angle bracket),
// so it works on error messages such as `Get "https://…?sign=…": EOF`.
func Text(s string) string {
	if !strings.Contains(s, "://") && !containsFold(s, "%3A%2F%2F") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		sep, n := nextSep(s[i:])
		if sep < 0 {
			break
		}
		start := i + sep
		// Walk back over the scheme.
		for start > i && isSchemeChar(s[start-1]) {
			start--
		}
		end := i + sep + n
		for end < len(s) && !isURLEnd(s[end]) {
			end++
		}
		b.WriteString(s[i:start])
		b.WriteString(reduce(s[start:i+sep], s[i+sep+n:end], s[i+sep:i+sep+n]))
		i = end
	}
	b.WriteString(s[i:])
	return b.String()
}

// Error returns err with its message passed through Text. errors.Is and errors.As still see
// err's chain, so callers can classify it (a deadline stays a deadline); only what Error()
// prints changes. nil stays nil, and an error without URLs is returned as it is.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := Text(msg)
	if red == msg {
		return err
	}
	return &redacted{msg: red, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Is lets errors.Is match through the wrapper without printing the original.
func (e *redacted) Is(target error) bool { return errors.Is(e.err, target) }

// nextSep finds the next "://" or its percent-encoded form and returns its offset and length.
func nextSep(s string) (int, int) {
	plain := strings.Index(s, "://")
	enc := indexFold(s, "%3A%2F%2F")
	switch {
	case plain < 0 && enc < 0:
		return -1, 0
	case enc < 0 || (plain >= 0 && plain < enc):
		return plain, 3
	default:
		return enc, 9
	}
}

// reduce rebuilds one URL from its scheme, separator and rest (authority, path, query,
// fragment), keeping the host and path only. An encoded URL keeps its encoding.
func reduce(scheme, rest, sep string) string {
	encoded := sep != "://"
	cut := len(rest)
	for _, stop := range []string{"?", "#"} {
		if j := strings.Index(rest, stop); j >= 0 && j < cut {
			cut = j
		}
	}
	if encoded {
		for _, stop := range []string{"%3F", "%23", "&"} {
			if j := indexFold(rest, stop); j >= 0 && j < cut {
				cut = j
			}
		}
	}
	rest = rest[:cut]
	// Drop user info: it is everything up to the last '@' before the path.
	auth := len(rest)
	if encoded {
		if j := indexFold(rest, "%2F"); j >= 0 {
			auth = j
		}
	} else if j := strings.IndexByte(rest, '/'); j >= 0 {
		auth = j
	}
	from := 0
	if j := strings.LastIndex(rest[:auth], "@"); j >= 0 {
		from = j + 1
	}
	if j := lastIndexFold(rest[:auth], "%40"); j >= 0 && j+3 > from {
		from = j + 3
	}
	rest = rest[from:]
	return scheme + sep + rest
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// isURLEnd reports the characters that end a URL quoted in text.
func isURLEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '<', '>', '\\':
		return true
	}
	return c < 0x20 || c == 0x7f
}

func containsFold(s, sub string) bool { return indexFold(s, sub) >= 0 }

// indexFold is strings.Index ignoring ASCII case (percent-encodings come in both cases).
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
