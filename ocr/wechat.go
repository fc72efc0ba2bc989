package ocr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// ProviderWeChat is the WeChat provider's name.
const ProviderWeChat = "wechat"

// WeChatOCR is the part of *wechat.Client the WeChat provider calls.
type WeChatOCR interface {
	IDCardByURL(ctx context.Context, imgURL, mode string) (*wechat.IDCard, error)
	IDCardByImage(ctx context.Context, img []byte, contentType, mode string) (*wechat.IDCard, error)
}

// WeChatProvider reads cards with WeChat's cv/ocr/idcard.
type WeChatProvider struct {
	wx WeChatOCR
}

// NewWeChatProvider returns the WeChat provider on wx (a *wechat.Client).
func NewWeChatProvider(wx WeChatOCR) *WeChatProvider { return &WeChatProvider{wx: wx} }

// Name implements Provider.
func (p *WeChatProvider) Name() string { return ProviderWeChat }

// QuotaReset implements QuotaResetter: WeChat's daily quota (45009, 101003) resets at the
// next midnight in Asia/Shanghai.
func (p *WeChatProvider) QuotaReset(now time.Time) time.Time {
	return chinaday.NextMidnight(now)
}

// Recognize implements Provider.
func (p *WeChatProvider) Recognize(ctx context.Context, in Input) (*Reading, error) {
	var (
		card *wechat.IDCard
		err  error
	)
	if in.URL != "" {
		card, err = p.wx.IDCardByURL(ctx, in.URL, in.Mode)
	} else {
		card, err = p.wx.IDCardByImage(ctx, in.Bytes, in.ContentType, in.Mode)
	}
	if err != nil {
		mapped := mapError(ctx, err)
		var api *wechat.APIError
		if in.URL != "" && errors.As(err, &api) && api.ErrCode == wechat.ErrCodeInvalidImageURL {
			ae := *apperr.AsError(mapped)
			ae.Err = fmt.Errorf("%w: %w", ErrURLUnreachable, err)
			return nil, &ae
		}
		return nil, mapped
	}
	r := &Reading{
		Front: &idcard.RawFront{
			Name:      card.Name,
			Gender:    card.Gender,
			Ethnicity: card.Nationality,
			Address:   card.Addr,
			IDNumber:  card.ID,
		},
		// WeChat's OCR returns neither the issuing authority nor the printed birth date: the
		// authority's absence is not a missing field.
		Back: &idcard.RawBack{ValidDate: card.ValidDate, NoAuthority: true},
	}
	switch {
	case strings.EqualFold(card.Type, "Front"):
		r.Side = SideFront
	case strings.EqualFold(card.Type, "Back"):
		r.Side = SideBack
	}
	return r, nil
}
