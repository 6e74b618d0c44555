package bars_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/bars"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// barRequests records the bar requests a client sends: symbols and start
// of each.
type barRequests struct {
	mu   sync.Mutex
	reqs []string
	next http.RoundTripper
}

func (b *barRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v2/stocks/bars" {
		q := r.URL.Query()
		b.mu.Lock()
		b.reqs = append(b.reqs, q.Get("symbols")+" "+q.Get("start"))
		b.mu.Unlock()
	}
	return b.next.RoundTrip(r)
}

func (b *barRequests) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.reqs
	b.reqs = nil
	return out
}

// Fetch against the broker simulator over TCP: every day of the window is
// recorded (days before the simulator's history as empty days), an
// interrupted fetch resumes at the first day it had not finished, and a
// complete store costs no requests.
func TestFetchResumes(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 7})
	rec := &barRequests{next: http.DefaultTransport}
	c, err := alpaca.New(b.URL, alpaca.WithCredentials("PKFETCH", "secret"), alpaca.WithTransport(rec))
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t)
	// The simulator's history is the week before it started: today-9 has
	// no bars, today-7 some, today-6 to yesterday all. Fetch leaves out
	// today, and yesterday if it ended less than FetchSettle ago.
	today := bars.DayOf(time.Now())
	// Pages of a day and a half, so that a run of days takes several.
	req := bars.FetchRequest{Symbols: []string{"AAPL", "MSFT"}, From: today.AddDays(-9).Start(), To: today.AddDays(-1).Start().Add(time.Minute), PageLimit: 2000}
	if time.Since(today.AddDays(-1).Start()) < 24*time.Hour+bars.FetchSettle {
		req.To = today.AddDays(-1).Start() // yesterday has not settled yet
	}
	days := 0
	end := today.AddDays(-9) // the day after the window's last
	for ; end.Start().Before(req.To); end = end.AddDays(1) {
		days++
	}

	// Interrupt after the third day written: the rest of the page in hand
	// is still written, day by day, then the next request fails.
	ctx, cancel := context.WithCancel(context.Background())
	var last bars.Progress
	err = bars.Fetch(ctx, c, s, req, func(p bars.Progress) {
		last = p
		if p.Done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fetch: %v", err)
	}
	if last.Total != 2*days || last.Done < 3 || last.Done >= days {
		t.Fatalf("progress at the interruption: %+v (of %d days a symbol)", last, days)
	}
	first := rec.take()
	if len(first) == 0 || first[0] != "AAPL "+today.AddDays(-9).Start().UTC().Format(time.RFC3339) || slices.ContainsFunc(first, func(r string) bool { return r[:5] == "MSFT " }) {
		t.Fatalf("requests before the interruption: %q", first)
	}
	stored, _ := s.Days("AAPL", "1Min")
	if len(stored) != last.Done {
		t.Fatalf("%d days stored, progress says %d", len(stored), last.Done)
	}
	resume := stored[len(stored)-1].AddDays(1)

	// The second run asks for AAPL from the first day not stored, then
	// MSFT.
	var reports []bars.Progress
	if err := bars.Fetch(context.Background(), c, s, req, func(p bars.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	second := rec.take()
	if len(second) < 2 || second[0] != "AAPL "+resume.Start().UTC().Format(time.RFC3339) || second[len(second)-1][:5] != "MSFT " {
		t.Fatalf("resumed requests: %q, want AAPL from %s then MSFT", second, resume)
	}
	if r := reports[0]; r.Done != last.Done || r.Total != 2*days || r.Bars != 0 {
		t.Fatalf("first report of the resumed fetch: %+v", r)
	}
	if r := reports[len(reports)-1]; r.Done != 2*days || r.Symbol != "MSFT" || r.Bars == 0 {
		t.Fatalf("last report: %+v", r)
	}

	// Complete: no requests at all.
	if err := bars.Fetch(context.Background(), c, s, req, nil); err != nil {
		t.Fatal(err)
	}
	if again := rec.take(); len(again) != 0 {
		t.Fatalf("a complete store still requested %q", again)
	}

	// What is stored is what the broker serves, day by day; days before
	// its history are recorded empty.
	for _, sym := range req.Symbols {
		got, err := s.Read(sym, "1Min", req.From, end.Start())
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.GetBars(context.Background(), sym, alpaca.BarsRequest{TimeFrame: "1Min",
			HistoricalRequest: alpaca.HistoricalRequest{Start: req.From, End: end.Start().Add(-time.Nanosecond), PageLimit: 10000}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 5*1380 || !reflect.DeepEqual(got, wireToBars(want)) {
			t.Fatalf("%s: stored %d bars, the broker serves %d", sym, len(got), len(want))
		}
		d := today.AddDays(-9)
		bs, err := s.Read(sym, "1Min", d.Start(), d.AddDays(1).Start())
		if !s.Has(sym, "1Min", d) || err != nil || len(bs) != 0 {
			t.Fatalf("%s %s before the history: has %v, %d bars, %v", sym, d, s.Has(sym, "1Min", d), len(bs), err)
		}
	}
}

func wireToBars(ws []alpaca.Bar) []bars.Bar {
	out := make([]bars.Bar, len(ws))
	for i, w := range ws {
		out[i] = bars.Bar{Time: w.Timestamp.UTC(), Open: w.Open, High: w.High, Low: w.Low, Close: w.Close, Volume: w.Volume, TradeCount: w.TradeCount, VWAP: w.VWAP}
	}
	return out
}
