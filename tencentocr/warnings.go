package tencentocr

import (
	"fmt"
	"slices"

	"github.com/wxocr/scf-idcard-ocr/idcard"
)

// Names of the checks made from IDCardOCR's AdvancedInfo.WarnInfos. Each passes when Tencent
// was asked for the signal and did not raise it.
const (
	CheckBorderComplete = "border_complete"      // -9101
	CheckNotPhotocopy   = "not_photocopy"        // -9102 (any copy), -9108 (black-and-white copy)
	CheckNotReshoot     = "not_reshoot"          // -9103 photo of a screen
	CheckNotTemporary   = "not_temporary"        // -9104 temporary ID card
	CheckNotOccluded    = "not_occluded"         // -9105 something covers the card
	CheckNotEdited      = "not_edited"           // -9106 signs of image editing (PS)
	CheckNoGlare        = "no_glare"             // -9107 reflection on the card
	CheckValidDateSane  = "valid_date_plausible" // -9109 (formerly -9100) invalid validity dates
	CheckNotElectronic  = "not_electronic"       // -9110 electronic ID card (a screen image)
	CheckNoWatermark    = "no_watermark"         // -9111 watermark over the card
	// CheckProviderWarning collects warning codes this table does not know, so that a new
	// signal is never silently taken as a pass.
	CheckProviderWarning = "provider_warning"
)

// signal is one row of the warning table: the check, the status it gets when Tencent raises a
// code for it, and the message then.
type signal struct {
	check  string
	raised idcard.Status
	// what the warning says, and what its absence says.
	warned, clean string
}

// signals is the one table of warning effects, in the order checks are reported.
//
// Effect on the verdict (any fail rejects, any warn sends to review): a photocopy, a photo of
// a screen and an edited image mean the caller does not hold the physical card, so they fail
// and the card can never pass. A temporary or electronic card is a genuine document but not
// the card a KYC flow asks for, and border, occlusion, glare, watermark and date warnings say
// the image may have been read wrongly: those warn, and a person reviews the card.
var signals = []signal{
	{CheckNotPhotocopy, idcard.StatusFail, "the image looks like a photocopy", "no sign of a photocopy"},
	{CheckNotReshoot, idcard.StatusFail, "the image looks like a photo of a screen", "no sign of a screen reshoot"},
	{CheckNotEdited, idcard.StatusFail, "the image shows signs of editing", "no sign of editing"},
	{CheckNotTemporary, idcard.StatusWarn, "the card looks like a temporary ID card", "not a temporary ID card"},
	{CheckNotElectronic, idcard.StatusWarn, "the card looks like an electronic ID card", "not an electronic ID card"},
	{CheckBorderComplete, idcard.StatusWarn, "the card's border is not complete in the image", "the card's border is complete"},
	{CheckNotOccluded, idcard.StatusWarn, "something covers part of the card", "nothing covers the card"},
	{CheckNoGlare, idcard.StatusWarn, "glare covers part of the card", "no glare on the card"},
	{CheckNoWatermark, idcard.StatusWarn, "a watermark covers the card", "no watermark on the card"},
	{CheckValidDateSane, idcard.StatusWarn, "Tencent found the validity dates implausible", "Tencent found the validity dates plausible"},
}

// warnCodes maps each documented WarnInfos code to its check.
var warnCodes = map[int]string{
	-9100: CheckValidDateSane, // the code's former number, still in older documentation
	-9101: CheckBorderComplete,
	-9102: CheckNotPhotocopy,
	-9103: CheckNotReshoot,
	-9104: CheckNotTemporary,
	-9105: CheckNotOccluded,
	-9106: CheckNotEdited,
	-9107: CheckNoGlare,
	-9108: CheckNotPhotocopy,
	-9109: CheckValidDateSane,
	-9110: CheckNotElectronic,
	-9111: CheckNoWatermark,
}

// WarningChecks turns WarnInfos codes into checks: one per signal, in table order, then one
// provider_warning check when a code is unknown. Messages carry no personal data.
func WarningChecks(codes []int) []idcard.Check {
	raised := make(map[string]bool, len(codes))
	var unknown []int
	for _, c := range codes {
		if name, ok := warnCodes[c]; ok {
			raised[name] = true
		} else if !slices.Contains(unknown, c) {
			unknown = append(unknown, c)
		}
	}
	out := make([]idcard.Check, 0, len(signals)+1)
	for _, s := range signals {
		if raised[s.check] {
			out = append(out, idcard.Check{Name: s.check, Status: s.raised, Message: s.warned})
		} else {
			out = append(out, idcard.Check{Name: s.check, Status: idcard.StatusPass, Message: s.clean})
		}
	}
	if len(unknown) > 0 {
		out = append(out, idcard.Check{Name: CheckProviderWarning, Status: idcard.StatusWarn,
			Message: fmt.Sprintf("Tencent raised warning codes this service does not know: %v", unknown)})
	}
	return out
}
