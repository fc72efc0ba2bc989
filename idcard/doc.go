// Package idcard is the Chinese resident ID card domain: it analyses ID numbers (format,
// birth date, checksum, region code against its history), normalises the fields OCR
// providers return, and checks a card's fields against each other.
//
// It is pure Go with no I/O; time-dependent functions take the current time and judge it in
// China Standard Time.
package idcard
