// Package bigcard makes the 2 MB ID-card image the upload benchmarks send: a real PNG that the
// WeChat emulator recognises, padded to size with a private ancillary chunk so that it is as
// big as the largest upload the function accepts without costing the emulator a big decode.
package bigcard

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"

	"github.com/wxocr/scf-idcard-ocr/emulator"
)

// Size is the image size: 1 KiB under the 2 MiB upload limit (MAX_IMAGE_BYTES and WeChat's),
// so that it is the largest "2 MB" upload and still accepted.
const Size = 2<<20 - 1024

// IDNumber is the ID number the emulator answers for the image (the sample front card's).
const IDNumber = "440305199505132561"

// frontFields are the sample front card's WeChat response fields (emulator's cards/front.png).
var frontFields = map[string]string{
	"type": "Front", "name": "张三", "id": IDNumber, "gender": "女", "nationality": "汉",
	"addr": "广东省深圳市南山区粤海街道科技园路1号",
}

// padType is a private, ancillary, safe-to-copy chunk type ("bnPd": lower-case first and
// second letters, upper-case third as PNG requires), which decoders skip.
const padType = "bnPd"

// PNG returns a Size-byte PNG carrying the sample front card. The padding is pseudo-random
// (fixed seed, so the bytes are the same on every run) so that nothing along the way could
// shrink it by compression, as with a real photo.
func PNG() []byte {
	base := emulator.EncodeCardPNG(frontFields)
	// IEND is the last 12 bytes of every PNG; the padding goes right before it.
	iend := base[len(base)-12:]
	if !bytes.Equal(iend[4:8], []byte("IEND")) {
		panic("bigcard: emulator PNG does not end with IEND")
	}
	n := Size - len(base) - 12
	pad := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'}).Read(pad)

	out := make([]byte, 0, Size)
	out = append(out, base[:len(base)-12]...)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	start := len(out)
	out = append(out, padType...)
	out = append(out, pad...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	return append(out, iend...)
}

// CallEvent returns a wx.cloud.callFunction event (the caller's data) uploading img as
// imageBase64, as a Mini Program sends it.
func CallEvent(img []byte) []byte {
	b, err := json.Marshal(map[string]string{"imageBase64": base64.StdEncoding.EncodeToString(img), "side": "front"})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return b
}
