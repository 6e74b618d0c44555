package bars

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// FetchRequest says what Fetch records.
type FetchRequest struct {
	Symbols []string
	// From and To select the New York days to record: every day that
	// overlaps [From, To), whole. Days that have not ended at least
	// FetchSettle ago are left out: their bars are not final. From must be
	// in 1970 or later (set it: every day gets a file).
	From, To time.Time
	// Timeframe is Alpaca's bar timeframe; "1Min" when empty.
	Timeframe string
	// Feed is the market-data feed (alpaca.FeedSIP, alpaca.FeedIEX, ...);
	// empty lets the server choose.
	Feed string
	// PageLimit is the number of bars per request, at most (and by
	// default) 10,000, the API's largest page: the fewest requests.
	PageLimit int
}

// FetchSettle is how long after a day's end Fetch waits before recording
// it: Alpaca serves the latest 15 minutes of SIP data only to
// subscribers, and late corrections land shortly after the close.
const FetchSettle = 15 * time.Minute

// Progress is reported by Fetch once at the start and after every day it
// writes.
type Progress struct {
	// Symbol and Day are the day just written; empty in the first
	// report.
	Symbol string
	Day    Day
	// Done counts the symbol-days recorded, those already in the store
	// included, out of Total.
	Done, Total int
	// Bars counts the bars this call has written.
	Bars int
}

// Fetch records bars from Alpaca's market-data API (or anything that
// serves it, such as the broker simulator) into the store: per symbol,
// every day of req's window that the store does not have yet. It asks for
// each run of consecutive missing days in one paged request, through c,
// so the client's rate limiter and retries apply, and writes each day as
// soon as its last bar has arrived; a day without bars is written empty,
// so that it is not asked for again. It is therefore resumable: after an
// interruption (ctx, an error), running it again requests only the days
// still missing. progress, when not nil, is called from Fetch's
// goroutine.
func Fetch(ctx context.Context, c *alpaca.Client, s *Store, req FetchRequest, progress func(Progress)) error {
	tf := req.Timeframe
	if tf == "" {
		tf = "1Min"
	}
	if err := checkTimeframe(tf); err != nil {
		return err
	}
	if len(req.Symbols) == 0 {
		return errors.New("bars: fetch: no symbols")
	}
	// Every day is a file, an empty one even before the data begins: a
	// forgotten From must not become half a million of them.
	if req.From.Year() < 1970 || req.To.Year() > 2200 {
		return fmt.Errorf("bars: fetch: window %s..%s: want From in 1970 or later and To before 2200", req.From.Format(time.DateOnly), req.To.Format(time.DateOnly))
	}
	for _, sym := range req.Symbols {
		if _, err := s.symbolDir(sym, tf); err != nil {
			return err
		}
	}
	pageLimit := req.PageLimit
	if pageLimit <= 0 || pageLimit > 10000 {
		pageLimit = 10000
	}
	var days []Day
	settled := time.Now().Add(-FetchSettle)
	if req.From.Before(req.To) {
		for d := DayOf(req.From); d.Start().Before(req.To); d = d.AddDays(1) {
			if d.AddDays(1).Start().After(settled) {
				break
			}
			days = append(days, d)
		}
	}
	p := Progress{Total: len(days) * len(req.Symbols)}
	report := func() {
		if progress != nil {
			progress(p)
		}
	}
	type run struct {
		symbol      string
		first, last Day
	}
	var runs []run
	for _, sym := range req.Symbols {
		for i := 0; i < len(days); {
			if s.Has(sym, tf, days[i]) {
				p.Done++
				i++
				continue
			}
			j := i
			for j+1 < len(days) && !s.Has(sym, tf, days[j+1]) {
				j++
			}
			runs = append(runs, run{sym, days[i], days[j]})
			i = j + 1
		}
	}
	report()
	for _, r := range runs {
		next := r.first // the first day of the run not written yet
		var day []Bar   // bars of the day being received
		var dayOf Day
		// flushUntil writes the run's days before d: the day being
		// received with its bars, the others empty.
		flushUntil := func(d Day) error {
			for next.Before(d) && !r.last.Before(next) {
				var bs []Bar
				if next == dayOf {
					bs = day
				}
				if err := s.Write(r.symbol, tf, next, bs); err != nil {
					return err
				}
				p.Symbol, p.Day = r.symbol, next
				p.Done++
				p.Bars += len(bs)
				report()
				next = next.AddDays(1)
			}
			return nil
		}
		_, err := c.GetMultiBars(ctx, []string{r.symbol}, alpaca.BarsRequest{
			HistoricalRequest: alpaca.HistoricalRequest{
				Start:     r.first.Start(),
				End:       r.last.AddDays(1).Start().Add(-time.Nanosecond),
				PageLimit: pageLimit,
				Feed:      req.Feed,
			},
			TimeFrame: tf,
			OnPage: func(page map[string][]alpaca.Bar) error {
				for _, w := range page[r.symbol] {
					b := fromWire(w)
					d := DayOf(b.Time)
					if d.Before(r.first) || r.last.Before(d) {
						continue // outside the window asked for
					}
					if d.Before(next) || d.Before(dayOf) {
						return fmt.Errorf("the server sent a bar at %s after later ones", b.Time.Format(time.RFC3339))
					}
					if d != dayOf {
						if err := flushUntil(d); err != nil {
							return err
						}
						dayOf, day = d, day[:0]
					}
					day = append(day, b)
				}
				return nil
			},
		})
		if err != nil {
			return fmt.Errorf("bars: fetch %s %s..%s: %w", r.symbol, r.first, r.last, err)
		}
		if err := flushUntil(r.last.AddDays(1)); err != nil {
			return err
		}
	}
	return nil
}
