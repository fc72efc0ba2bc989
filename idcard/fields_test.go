package idcard

import "testing"

func TestNormalizeGender(t *testing.T) {
	for in, want := range map[string]string{"男": "male", "女": "female", " 男 ": "male", "女性": "female", "M": "male", "female": "female", "Ｆ": "female"} {
		if got, ok := NormalizeGender(in); !ok || got != want {
			t.Errorf("NormalizeGender(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "未知", "男女", "x"} {
		if got, ok := NormalizeGender(in); ok {
			t.Errorf("NormalizeGender(%q) = %q, want not ok", in, got)
		}
	}
}

func TestNormalizeEthnicity(t *testing.T) {
	tests := []struct {
		in, want string
		known    bool
	}{
		{"汉", "汉", true}, {"汉族", "汉", true}, {" 汉 族 ", "汉", true}, {"蒙古族", "蒙古", true},
		{"崩龙", "德昂", true}, {"崩龙族", "德昂", true}, {"毛难", "毛南", true}, {"毛难族", "毛南", true},
		{"土家族", "土家", true}, {"土", "土", true}, {"土族", "土", true}, {"其他", "其他", true},
		{"外国血统中国籍人士", "外国血统中国籍人士", true}, {"穿青人", "穿青人", false}, {"族", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		got, known := NormalizeEthnicity(tt.in)
		if got != tt.want || known != tt.known {
			t.Errorf("NormalizeEthnicity(%q) = %q, %v; want %q, %v", tt.in, got, known, tt.want, tt.known)
		}
	}
	if len(ethnicities) != 58 {
		t.Errorf("%d ethnic names, want 56 groups + 其他 + 外国血统中国籍人士", len(ethnicities))
	}
}

func TestCleanText(t *testing.T) {
	tests := map[string]string{
		"  广东省深圳市 南山区 科技园１２号 ": "广东省深圳市南山区科技园12号",
		"广东省\t深圳市\n南山区":        "广东省深圳市南山区",
		"北京市朝阳区（东）路":           "北京市朝阳区(东)路",
		"Room  12,　Block Ａ":    "Room 12, Block A",
		"张　三":                  "张三",
		"":                     "",
		"深圳市公安局南山分局":           "深圳市公安局南山分局",
		"A 号":                  "A号",
	}
	for in, want := range tests {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanName(t *testing.T) {
	tests := map[string]string{
		"买买提•艾力":        "买买提·艾力",
		"买买提・艾力":        "买买提·艾力",
		"买买提.艾力":        "买买提·艾力",
		"买买提·艾力":        "买买提·艾力",
		" 张 三 ":         "张三",
		"JOHN J. SMITH": "JOHN J. SMITH",
	}
	for in, want := range tests {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
