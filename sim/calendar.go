package sim

import (
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// Session decides when the simulated market is open. The simulator has two:
// AlwaysOpen, so that a demo trades at any hour, and NYSE, which follows the
// exchange's regular hours, holidays and early closes in New York time.
type Session interface {
	// Open reports whether regular trading is in session at t.
	Open(t time.Time) bool
	// Day returns the trading day that contains t, or false when t's date
	// is not a trading day.
	Day(t time.Time) (TradingDay, bool)
	// NextOpen returns the first session open strictly after t, or t
	// itself for a session that never closes (AlwaysOpen).
	NextOpen(t time.Time) time.Time
	// NextClose returns the first session close strictly after t.
	NextClose(t time.Time) time.Time
	// Days lists the trading days whose dates fall in [from, to].
	Days(from, to time.Time) []TradingDay
}

// TradingDay is one day of the market calendar.
type TradingDay struct {
	Date  time.Time // midnight, exchange time zone
	Open  time.Time // regular session open
	Close time.Time // regular session close (13:00 on early-close days)
}

var newYork = mustLoadNewYork()

func mustLoadNewYork() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// A machine without tzdata still gets correct dates in winter;
		// importing time/tzdata in cmd keeps this branch theoretical.
		return time.FixedZone("EST", -5*3600)
	}
	return loc
}

// AlwaysOpen is a session that never closes: every calendar day is a
// trading day from 00:00 to 24:00 New York time, and the day's end is its
// close, when day orders expire.
//
// Clients read the clock and the calendar expecting sessions with an open
// before a close, so the endpoints describe it thus (issue 9, item 7):
// GET /v2/clock answers is_open true, next_open the request's own time
// (the first moment at or after it that the market is open) and
// next_close the coming New York midnight, always strictly later; the
// calendar writes each day as 00:00-23:59, since "24:00" is not a time
// that clients parse.
type AlwaysOpen struct{}

// Open always reports true.
func (AlwaysOpen) Open(time.Time) bool { return true }

// Day returns the calendar day of t as a full-day session.
func (AlwaysOpen) Day(t time.Time) (TradingDay, bool) {
	d := dateIn(t, newYork)
	return TradingDay{Date: d, Open: d, Close: d.AddDate(0, 0, 1)}, true
}

// NextOpen returns t: the market is open then.
func (AlwaysOpen) NextOpen(t time.Time) time.Time { return t }

// NextClose returns the next midnight in New York.
func (a AlwaysOpen) NextClose(t time.Time) time.Time {
	d, _ := a.Day(t)
	return d.Close
}

// Days returns every calendar day in [from, to].
func (a AlwaysOpen) Days(from, to time.Time) []TradingDay {
	var out []TradingDay
	for d := dateIn(from, newYork); !d.After(to); d = d.AddDate(0, 0, 1) {
		day, _ := a.Day(d)
		out = append(out, day)
	}
	return out
}

// NYSE follows the New York Stock Exchange's regular session: 09:30-16:00
// New York time on weekdays, closed on exchange holidays, 13:00 close on
// the usual early-close days.
type NYSE struct{}

// Open reports whether t is inside a regular session.
func (n NYSE) Open(t time.Time) bool {
	d, ok := n.Day(t)
	return ok && !t.Before(d.Open) && t.Before(d.Close)
}

// Day returns the trading day of t's New York date.
func (NYSE) Day(t time.Time) (TradingDay, bool) {
	d := dateIn(t, newYork)
	if !nyseTradingDate(d) {
		return TradingDay{}, false
	}
	closeHour := 16
	if nyseEarlyClose(d) {
		closeHour = 13
	}
	return TradingDay{
		Date:  d,
		Open:  d.Add(9*time.Hour + 30*time.Minute),
		Close: d.Add(time.Duration(closeHour) * time.Hour),
	}, true
}

// NextOpen returns the first session open after t.
func (n NYSE) NextOpen(t time.Time) time.Time {
	for d := dateIn(t, newYork); ; d = d.AddDate(0, 0, 1) {
		if day, ok := n.Day(d); ok && day.Open.After(t) {
			return day.Open
		}
	}
}

// NextClose returns the first session close after t.
func (n NYSE) NextClose(t time.Time) time.Time {
	for d := dateIn(t, newYork); ; d = d.AddDate(0, 0, 1) {
		if day, ok := n.Day(d); ok && day.Close.After(t) {
			return day.Close
		}
	}
}

// Days lists the trading days in [from, to].
func (n NYSE) Days(from, to time.Time) []TradingDay {
	var out []TradingDay
	for d := dateIn(from, newYork); !d.After(to); d = d.AddDate(0, 0, 1) {
		if day, ok := n.Day(d); ok {
			out = append(out, day)
		}
	}
	return out
}

func dateIn(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// nyseTradingDate reports whether d's date is an NYSE trading day; the
// holiday rules are the market's (market.NYSEHoliday), which dates the
// corporate actions by them too.
func nyseTradingDate(d time.Time) bool { return market.NYSETradingDate(d) }

func nyseEarlyClose(d time.Time) bool {
	_, m, day := d.Date()
	wd := d.Weekday()
	switch {
	case m == time.July && day == 3 && wd != time.Friday: // Friday July 3 is the observed holiday
		return true
	case m == time.December && day == 24:
		return true
	case m == time.November && wd == time.Friday && day >= 23 && day <= 29: // day after Thanksgiving
		return true
	}
	return false
}
