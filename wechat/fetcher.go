package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wxocr/scf-idcard-ocr/token"
)

type tokenResp struct {
	envelope
	AccessToken string  `json:"access_token"`
	ExpiresIn   flexInt `json:"expires_in"`
}

var _ token.Fetcher = (*tokenFetcher)(nil)

// tokenFetcher is shared by both token endpoints; build makes the endpoint's request.
type tokenFetcher struct {
	t     *transport
	err   error // an invalid option, reported by every Fetch
	build func(force bool) (*request, error)
}

// NewStableTokenFetcher fetches tokens from POST /cgi-bin/stable_token. In normal mode WeChat
// hands every caller the same token until shortly before it expires, which makes it safe for
// many instances; force asks for force_refresh=true, which invalidates the previous token and
// is limited to 20 a day. An invalid option is returned as an error by every Fetch.
func NewStableTokenFetcher(appID, secret string, opts ...Option) token.Fetcher {
	f := newTokenFetcher(appID, secret, opts)
	f.build = func(force bool) (*request, error) {
		req, err := jsonRequest("/cgi-bin/stable_token", struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}{"client_credential", appID, secret, force})
		if err != nil {
			return nil, errors.New("wechat /cgi-bin/stable_token: cannot encode request")
		}
		req.secrets = []string{secret}
		return req, nil
	}
	return f
}

// NewLegacyTokenFetcher fetches tokens from GET /cgi-bin/token. Every fetch invalidates the
// previous token (after a 5-minute overlap), so instances must coordinate; force is ignored.
// The appsecret travels in the URL, which is therefore never logged or put in an error.
func NewLegacyTokenFetcher(appID, secret string, opts ...Option) token.Fetcher {
	f := newTokenFetcher(appID, secret, opts)
	f.build = func(bool) (*request, error) {
		return &request{
			method:   http.MethodGet,
			endpoint: "/cgi-bin/token",
			query:    url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}},
			secrets:  []string{secret},
		}, nil
	}
	return f
}

func newTokenFetcher(appID, secret string, opts []Option) *tokenFetcher {
	s, err := buildSettings(opts)
	if err == nil && (appID == "" || secret == "") {
		err = errors.New("wechat: token fetcher needs an appid and an appsecret")
	}
	if err != nil {
		return &tokenFetcher{err: err}
	}
	return &tokenFetcher{t: &transport{settings: s}}
}

// Fetch implements token.Fetcher.
func (f *tokenFetcher) Fetch(ctx context.Context, force bool) (token.Token, error) {
	if f.err != nil {
		return token.Token{}, f.err
	}
	req, err := f.build(force)
	if err != nil {
		return token.Token{}, err
	}
	var resp tokenResp
	// The token endpoints take no token: the zero token.Token sends none.
	if err := f.t.do(ctx, req, token.Token{}, &resp); err != nil {
		return token.Token{}, err
	}
	if resp.AccessToken == "" {
		return token.Token{}, fmt.Errorf("wechat %s: answer has no access_token", req.endpoint)
	}
	if resp.ExpiresIn <= 0 {
		return token.Token{}, fmt.Errorf("wechat %s: answer has no positive expires_in", req.endpoint)
	}
	// FetchedAt is taken after the answer so that ExpiresAt never lies late.
	now := f.t.now()
	return token.Token{
		Value:     resp.AccessToken,
		ExpiresAt: now.Add(time.Duration(resp.ExpiresIn) * time.Second),
		FetchedAt: now,
	}, nil
}
