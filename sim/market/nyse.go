package market

import "time"

// The New York Stock Exchange's holidays, here so that both the broker's
// calendar (package sim) and the corporate actions' dates (corpactions.go)
// follow the same rules (issue 9).

// NYSETradingDate reports whether d's date (in d's location) is an NYSE
// trading day: a weekday that is not a holiday.
func NYSETradingDate(d time.Time) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !NYSEHoliday(d)
}

// NYSEHoliday reports whether d's date (in d's location) is a New York
// Stock Exchange holiday: New Year's Day, Martin Luther King Jr. Day,
// Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from
// 2022), Independence Day, Labor Day, Thanksgiving and Christmas. It
// applies the exchange's rules: fixed-date holidays falling on a Sunday
// move to Monday and on a Saturday to Friday, except New Year's Day,
// whose Saturday case is not made up on the previous December 31.
func NYSEHoliday(d time.Time) bool {
	y, m, day := d.Date()
	wd := d.Weekday()
	observed := func(hm time.Month, hd int) bool {
		h := time.Date(y, hm, hd, 0, 0, 0, 0, d.Location())
		switch h.Weekday() {
		case time.Saturday:
			h = h.AddDate(0, 0, -1)
		case time.Sunday:
			h = h.AddDate(0, 0, 1)
		}
		return h.Month() == m && h.Day() == day
	}
	nthWeekday := func(hm time.Month, n int, w time.Weekday) bool {
		if m != hm || wd != w {
			return false
		}
		return (day-1)/7+1 == n
	}
	lastWeekday := func(hm time.Month, w time.Weekday) bool {
		return m == hm && wd == w && day+7 > daysIn(m, y)
	}
	switch {
	case m == time.January && day == 1 && wd != time.Saturday && wd != time.Sunday,
		m == time.January && day == 2 && wd == time.Monday:
		return true
	case nthWeekday(time.January, 3, time.Monday), // Martin Luther King Jr. Day
		nthWeekday(time.February, 3, time.Monday),   // Washington's Birthday
		lastWeekday(time.May, time.Monday),          // Memorial Day
		nthWeekday(time.September, 1, time.Monday),  // Labor Day
		nthWeekday(time.November, 4, time.Thursday): // Thanksgiving
		return true
	case y >= 2022 && observed(time.June, 19),
		observed(time.July, 4),
		observed(time.December, 25):
		return true
	}
	gf := easter(y).AddDate(0, 0, -2)
	return m == gf.Month() && day == gf.Day()
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// easter returns Easter Sunday of year y (Gregorian computus).
func easter(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	mm := (a + 11*h + 22*l) / 451
	month := (h + l - 7*mm + 114) / 31
	day := (h+l-7*mm+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
