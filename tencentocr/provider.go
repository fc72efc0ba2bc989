package tencentocr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/wxocr/scf-idcard-ocr/apperr"
	"github.com/wxocr/scf-idcard-ocr/idcard"
	"github.com/wxocr/scf-idcard-ocr/ocr"
)

// Provider is Tencent Cloud OCR as an ocr.Provider: the card's fields (with the issuing
// authority and the printed birth date, which WeChat does not read) and WarnInfos as checks.
type Provider struct {
	c *Client
}

// NewProvider wraps a Client.
func NewProvider(c *Client) *Provider { return &Provider{c: c} }

// Name is "tencent".
func (p *Provider) Name() string { return ProviderName }

// FraudSignals reports true: Recognize returns photocopy, reshoot and edit signals as checks.
func (p *Provider) FraudSignals() bool { return true }

// Recognize reads one image. Errors are *apperr.Error through the error table; a URL Tencent
// could not download wraps ocr.ErrURLUnreachable.
func (p *Provider) Recognize(ctx context.Context, in ocr.Input) (*ocr.Reading, error) {
	req := Request{ImageURL: in.URL, Portrait: in.Portrait}
	if in.URL == "" {
		if base64.StdEncoding.EncodedLen(len(in.Bytes)) > MaxImageBase64Bytes {
			return nil, apperr.Errorf(apperr.ImageTooLarge, "the image is larger than Tencent Cloud OCR accepts (10 MB as base64)")
		}
		req.ImageBase64 = base64.StdEncoding.EncodeToString(in.Bytes)
	}
	switch in.Side {
	case ocr.SideFront:
		req.Side = SideFront
	case ocr.SideBack:
		req.Side = SideBack
	}
	res, err := p.c.IDCard(ctx, req)
	if err != nil {
		ae := apperr.AsError(AppError(err))
		if errors.Is(err, ErrURLUnreachable) {
			cp := *ae
			cp.Err = fmt.Errorf("%w: %w", ocr.ErrURLUnreachable, err)
			return nil, &cp
		}
		return nil, ae
	}
	return reading(res, req.Side), nil
}

// reading maps a Result onto the service's Reading. A temporary-card answer may come with no
// field at all (Tencent's own example does); the side asked for is then the side read.
func reading(res *Result, asked string) *ocr.Reading {
	rd := &ocr.Reading{Checks: WarningChecks(res.Warnings)}
	side := res.Side()
	if side == "" {
		side = asked
	}
	switch side {
	case SideFront:
		rd.Side = ocr.SideFront
		rd.Front = &idcard.RawFront{
			Name: res.Name, Gender: res.Sex, Ethnicity: res.Nation, BirthDate: res.Birth,
			Address: res.Address, IDNumber: res.IDNumber,
		}
		rd.Portrait = res.Portrait
	case SideBack:
		rd.Side = ocr.SideBack
		rd.Back = &idcard.RawBack{Authority: res.Authority, ValidDate: res.ValidDate}
	}
	return rd
}
