package emulator

import (
	"net/url"
	"testing"
)

// Cloud Hosting's open interface service: a call without any token parameter is served; a
// token that is present is still checked, and without the option a missing token is 41001.
func TestOpenInterfaceServesCallsWithoutToken(t *testing.T) {
	h := newHarness(t, Options{OpenInterface: true})
	imgURL := h.downloadURLWith(url.Values{}, "cards/front.png")
	wantFront(t, h.postJSON(PathOCRIDCard, url.Values{"img_url": {imgURL}}, ""))
	wantCode(t, "a wrong token is still refused", h.postJSON(PathOCRIDCard, url.Values{"access_token": {"forged"}, "img_url": {imgURL}}, ""), CodeInvalidCredential)
	wantCode(t, "an empty token is still refused", h.postJSON(PathOCRIDCard, url.Values{"access_token": {""}, "img_url": {imgURL}}, ""), CodeTokenMissing)

	closed := newHarness(t, Options{})
	wantCode(t, "no token without the open interface", closed.postJSON(PathOCRIDCard, url.Values{"img_url": {imgURL}}, ""), CodeTokenMissing)
}
