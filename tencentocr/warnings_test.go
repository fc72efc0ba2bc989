package tencentocr

import (
	"testing"

	"github.com/wxocr/scf-idcard-ocr/idcard"
)

func TestWarningChecksClean(t *testing.T) {
	checks := WarningChecks(nil)
	if len(checks) != 10 {
		t.Fatalf("%d checks, want 10", len(checks))
	}
	for _, c := range checks {
		if c.Status != idcard.StatusPass || c.Message == "" {
			t.Errorf("%+v", c)
		}
	}
}

// Each documented code raises its own check with the documented effect: photocopy, reshoot
// and editing fail (the card can never pass), the rest warn.
func TestWarningChecksEachCode(t *testing.T) {
	cases := []struct {
		code   int
		check  string
		status idcard.Status
	}{
		{-9100, CheckValidDateSane, idcard.StatusWarn},
		{-9101, CheckBorderComplete, idcard.StatusWarn},
		{-9102, CheckNotPhotocopy, idcard.StatusFail},
		{-9103, CheckNotReshoot, idcard.StatusFail},
		{-9104, CheckNotTemporary, idcard.StatusWarn},
		{-9105, CheckNotOccluded, idcard.StatusWarn},
		{-9106, CheckNotEdited, idcard.StatusFail},
		{-9107, CheckNoGlare, idcard.StatusWarn},
		{-9108, CheckNotPhotocopy, idcard.StatusFail},
		{-9109, CheckValidDateSane, idcard.StatusWarn},
		{-9110, CheckNotElectronic, idcard.StatusWarn},
		{-9111, CheckNoWatermark, idcard.StatusWarn},
	}
	for _, tc := range cases {
		var raised []idcard.Check
		for _, c := range WarningChecks([]int{tc.code}) {
			if c.Status != idcard.StatusPass {
				raised = append(raised, c)
			}
		}
		if len(raised) != 1 || raised[0].Name != tc.check || raised[0].Status != tc.status {
			t.Errorf("%d raised %+v, want %s %s", tc.code, raised, tc.check, tc.status)
		}
	}
}

func TestWarningChecksUnknownCode(t *testing.T) {
	checks := WarningChecks([]int{-9999, -9999, -9102})
	last := checks[len(checks)-1]
	if last.Name != CheckProviderWarning || last.Status != idcard.StatusWarn || last.Message != "Tencent raised warning codes this service does not know: [-9999]" {
		t.Fatalf("%+v", last)
	}
}
