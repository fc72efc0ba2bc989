package imagesrc

import (
	"encoding/binary"
	"sync"
)

// stdAlphabet is the standard base64 alphabet, in value order.
const stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// pairBad marks a character pair that is not two standard-alphabet characters.
const pairBad = 0xF000

// pairTable maps two source bytes, read as a little-endian uint16 (first byte low), to their
// 12 decoded bits, or to pairBad. Looking characters up in pairs halves the table look-ups
// of encoding/base64's decoder, which dominates the CPU cost of a 2 MB base64 upload; the
// table is 128 KiB, of which the 4,096 valid entries touch 64 rows of 512 bytes. It is built
// on first use, not at start-up, so that a cold start which never decodes base64 does not pay
// for it.
var pairTable = sync.OnceValue(func() *[1 << 16]uint16 {
	var val [256]uint16
	for i := range val {
		val[i] = pairBad
	}
	for i := 0; i < len(stdAlphabet); i++ {
		val[stdAlphabet[i]] = uint16(i)
	}
	t := new([1 << 16]uint16)
	for i := range t {
		a, b := val[i&0xff], val[i>>8]
		if a == pairBad || b == pairBad {
			t[i] = pairBad
		} else {
			t[i] = a<<6 | b
		}
	}
	return t
})

// decodeStd decodes the longest run of whole 4-character quanta of the standard alphabet at
// the start of src into dst, stopping before the first quantum that holds any other byte
// (padding, a line break, an escape, a closing quote) or that no longer fits in dst. It
// returns the source bytes consumed (a multiple of 4) and the bytes written (3 per quantum).
// Whole quanta decode the same way whatever follows them, so a caller can decode a text
// piecewise with decodeStd and finish the rest, from nsrc on, with any decoder.
func decodeStd(dst, src []byte) (nsrc, ndst int) {
	t := pairTable()
	// 16 characters to 12 bytes a round, written as two overlapping 8-byte stores (hence
	// the 16 bytes of room in dst).
	for len(src)-nsrc >= 16 && len(dst)-ndst >= 16 {
		in := src[nsrc : nsrc+16 : nsrc+16]
		x := binary.LittleEndian.Uint64(in)
		y := binary.LittleEndian.Uint64(in[8:])
		a, b, c, d := t[uint16(x)], t[uint16(x>>16)], t[uint16(x>>32)], t[uint16(x>>48)]
		e, f, g, h := t[uint16(y)], t[uint16(y>>16)], t[uint16(y>>32)], t[uint16(y>>48)]
		if (a|b|c|d|e|f|g|h)&pairBad != 0 {
			break
		}
		out := dst[ndst : ndst+16 : ndst+16]
		binary.BigEndian.PutUint64(out, uint64(a)<<52|uint64(b)<<40|uint64(c)<<28|uint64(d)<<16)
		binary.BigEndian.PutUint64(out[6:], uint64(e)<<52|uint64(f)<<40|uint64(g)<<28|uint64(h)<<16)
		nsrc += 16
		ndst += 12
	}
	for len(src)-nsrc >= 4 && len(dst)-ndst >= 3 {
		a := t[uint16(src[nsrc])|uint16(src[nsrc+1])<<8]
		b := t[uint16(src[nsrc+2])|uint16(src[nsrc+3])<<8]
		if (a|b)&pairBad != 0 {
			break
		}
		v := uint32(a)<<12 | uint32(b)
		dst[ndst], dst[ndst+1], dst[ndst+2] = byte(v>>16), byte(v>>8), byte(v)
		nsrc += 4
		ndst += 3
	}
	return nsrc, ndst
}
