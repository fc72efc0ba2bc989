package idcard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeGender maps a printed gender (男, 女, also 男性/女性, M/F, male/female) to
// "male" or "female"; ok is false for anything else.
func NormalizeGender(s string) (gender string, ok bool) {
	switch strings.ToLower(CleanText(s)) {
	case "男", "男性", "m", "male":
		return "male", true
	case "女", "女性", "f", "female":
		return "female", true
	}
	return "", false
}

// ethnicities holds the printed names of the 56 ethnic groups and the two other entries a
// card may carry.
var ethnicities = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼
		哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南
		仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲
		门巴 珞巴 基诺 其他 外国血统中国籍人士`) {
		m[n] = true
	}
	return m
}()

// renamedEthnicities maps names printed on older cards to today's.
var renamedEthnicities = map[string]string{"崩龙": "德昂", "毛难": "毛南"}

// NormalizeEthnicity returns the current printed name of an ethnic group: whitespace
// removed, a trailing 族 stripped, 崩龙 → 德昂 and 毛难 → 毛南. known reports whether the
// result is one of the recognised names.
func NormalizeEthnicity(s string) (name string, known bool) {
	name = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	if !ethnicities[name] { // 外国血统中国籍人士 and the like keep their last character
		name = strings.TrimSuffix(name, "族")
	}
	if n, ok := renamedEthnicities[name]; ok {
		name = n
	}
	return name, ethnicities[name]
}

// CleanText tidies a printed name, address or authority: full-width ASCII forms become
// ASCII and the ideographic space a space; whitespace next to a non-ASCII character (a stray
// gap between Chinese characters) is dropped, other runs of whitespace become one space, and
// the ends are trimmed. No other character changes.
func CleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	var prev rune // last rune written, 0 at the start
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0
		}
		if unicode.IsSpace(r) {
			pendingSpace = true
			continue
		}
		if pendingSpace && prev != 0 && prev < utf8.RuneSelf && r < utf8.RuneSelf {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// nameDots are the characters OCR returns for the middle dot that separates the parts of a
// transliterated name (买买提·艾力).
var nameDots = strings.NewReplacer("•", "·", "・", "·", "･", "·", "‧", "·", "∙", "·", "⋅", "·", "ㆍ", "·")

// CleanName is CleanText for a person's name; it also turns the look-alikes of the middle
// dot into ·, and a '.' between two Chinese characters too.
func CleanName(s string) string {
	s = nameDots.Replace(CleanText(s))
	if !strings.Contains(s, ".") {
		return s
	}
	rs := []rune(s)
	for i := 1; i+1 < len(rs); i++ {
		if rs[i] == '.' && rs[i-1] >= utf8.RuneSelf && rs[i+1] >= utf8.RuneSelf {
			rs[i] = '·'
		}
	}
	return string(rs)
}
