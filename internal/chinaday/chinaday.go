// Package chinaday is the calendar day WeChat's daily limits count in, and ours with them
// (the token-refresh forces, each provider's quota and budget, each caller's daily limit):
// each day ends at midnight China Standard Time. China has kept UTC+8 without daylight saving
// since 1991, so a fixed zone is exact and needs no tzdata in the function's image.
package chinaday

import "time"

// Zone is China Standard Time, UTC+8.
var Zone = time.FixedZone("Asia/Shanghai", 8*60*60)

// NextMidnight is the first midnight in China after now: when the day's limits reset.
func NextMidnight(now time.Time) time.Time {
	t := now.In(Zone)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, Zone)
}

// Day names now's day in China as YYYYMMDD, for the keys of daily counters: a counter that
// somehow lost its expiry still stops counting at midnight.
func Day(now time.Time) string { return now.In(Zone).Format("20060102") }
