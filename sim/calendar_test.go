package sim

import (
	"testing"
	"time"
)

func TestNYSECalendar(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02", s, newYork)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		date    string
		trading bool
		close   int // hour, when trading
	}{
		{"2026-01-01", false, 0}, // New Year's Day
		{"2026-01-02", true, 16},
		{"2026-01-19", false, 0}, // MLK
		{"2026-02-16", false, 0}, // Washington's Birthday
		{"2026-04-03", false, 0}, // Good Friday
		{"2026-05-25", false, 0}, // Memorial Day
		{"2026-06-19", false, 0}, // Juneteenth
		{"2026-07-03", false, 0}, // Independence Day observed (July 4 is a Saturday)
		{"2026-09-07", false, 0}, // Labor Day
		{"2026-11-26", false, 0}, // Thanksgiving
		{"2026-11-27", true, 13}, // day after Thanksgiving
		{"2026-12-24", true, 13},
		{"2026-12-25", false, 0},
		{"2026-11-23", true, 16},
		{"2026-11-21", false, 0}, // Saturday
		{"2027-12-24", false, 0}, // Christmas observed (Dec 25 is a Saturday)
		{"2027-12-31", true, 16}, // New Year's Day 2028 is a Saturday: not made up
		{"2025-07-03", true, 13},
	}
	for _, tt := range tests {
		d, ok := NYSE{}.Day(day(tt.date))
		if ok != tt.trading {
			t.Errorf("%s trading = %v, want %v", tt.date, ok, tt.trading)
			continue
		}
		if ok && d.Close.Hour() != tt.close {
			t.Errorf("%s close = %v, want %d:00", tt.date, d.Close, tt.close)
		}
	}
}

func TestNYSENextOpenClose(t *testing.T) {
	// Friday after the close: next open is Monday 09:30.
	fri := time.Date(2026, 11, 20, 17, 0, 0, 0, newYork)
	if got, want := (NYSE{}).NextOpen(fri), time.Date(2026, 11, 23, 9, 30, 0, 0, newYork); !got.Equal(want) {
		t.Errorf("NextOpen = %v, want %v", got, want)
	}
	if got, want := (NYSE{}).NextClose(fri), time.Date(2026, 11, 23, 16, 0, 0, 0, newYork); !got.Equal(want) {
		t.Errorf("NextClose = %v, want %v", got, want)
	}
	mid := time.Date(2026, 11, 23, 12, 0, 0, 0, newYork)
	if !(NYSE{}).Open(mid) {
		t.Error("Monday noon should be open")
	}
	if (NYSE{}).Open(fri) {
		t.Error("Friday 17:00 should be closed")
	}
}
