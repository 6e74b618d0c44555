package market_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestNYSEHoliday(t *testing.T) {
	for _, tt := range []struct {
		date string
		want bool
	}{
		{"2026-01-01", true}, {"2026-01-19", true}, {"2026-02-16", true}, {"2026-04-03", true},
		{"2026-05-25", true}, {"2026-06-19", true}, {"2026-07-03", true}, {"2026-09-07", true},
		{"2026-11-26", true}, {"2026-12-25", true},
		{"2027-06-18", true}, {"2027-07-05", true}, {"2027-12-24", true}, // observed on a weekday
		{"2021-12-31", false}, // New Year's Day 2022 on a Saturday is not made up
		{"2021-06-18", false}, // no Juneteenth before 2022
		{"2026-07-06", false}, {"2026-11-27", false}, {"2026-12-24", false},
	} {
		if got := market.NYSEHoliday(date(tt.date)); got != tt.want {
			t.Errorf("NYSEHoliday(%s) = %v, want %v", tt.date, got, tt.want)
		}
	}
	if market.NYSETradingDate(date("2026-02-07")) || !market.NYSETradingDate(date("2026-02-09")) {
		t.Error("NYSETradingDate: a Saturday trades or a plain Monday does not")
	}
}

// Every date of a generated corporate action is an NYSE trading day
// (issue 9): over several years of the whole universe, no ex, record,
// payable, declaration or due-bill date falls on a weekend or holiday,
// and some ex dates are the trading day a holiday pushed them to.
func TestCorporateActionDatesAreTradingDays(t *testing.T) {
	h := MustHarness(t, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
	acts := h.m.CorporateActions(date("2024-01-01"), date("2029-12-31"), nil,
		func(a market.CorporateAction) time.Time { return a.Ex })
	if len(acts) < 1000 {
		t.Fatalf("%d actions in six years, want many", len(acts))
	}
	afterHoliday := 0
	for _, a := range acts {
		for _, d := range []struct {
			name string
			at   time.Time
		}{{"ex", a.Ex}, {"record", a.Record}, {"payable", a.Payable}, {"declared", a.Declared}, {"due bill", a.DueBill}} {
			if d.name == "due bill" && d.at.IsZero() {
				continue
			}
			if !market.NYSETradingDate(d.at) {
				t.Errorf("%s %s %s: %s date %s (%s) is not a trading day", a.Symbol, a.Type, a.ID, d.name, d.at.Format(time.DateOnly), d.at.Weekday())
			}
		}
		if prev := a.Ex.AddDate(0, 0, -1); market.NYSEHoliday(prev) {
			afterHoliday++
		}
	}
	if afterHoliday == 0 {
		t.Error("no ex date follows a holiday: the test does not reach one")
	}
	t.Logf("%d actions, %d ex dates the day after a holiday", len(acts), afterHoliday)
}
