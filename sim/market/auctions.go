package market

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Opening and closing auctions (GET /v2/stocks/auctions, issue 9 item 6),
// read off the minute bars: a weekday's opening auction prints at 09:30
// New York at the open of the 09:30 bar, its closing auction at the
// close of the day's last bar before 16:00, once the market's clock has
// passed 16:00. Each auction is reported twice, as Alpaca reports the
// primary exchange's prints: the auction trade (condition O, or 6 at the
// close) and the official price (Q, or M). Sizes are drawn from the
// seed, a few times the bar's volume. Days without the bars (before the
// history, in the future, or outside the session) have none.

// auction is one auction print, with the data API's abbreviated keys (the
// Go SDK's marketdata.Auction; Alpaca's market-data OpenAPI file of
// 2025-04 does not describe the endpoint).
type auction struct {
	T time.Time `json:"t"`
	P float64   `json:"p"`
	S uint32    `json:"s"`
	X string    `json:"x"`
	C string    `json:"c"`
}

// dailyAuctions is one symbol's auctions of one day (marketdata.DailyAuctions).
type dailyAuctions struct {
	D string    `json:"d"`
	O []auction `json:"o"`
	C []auction `json:"c"`
}

type auctionsResponse struct {
	Auctions      map[string][]dailyAuctions `json:"auctions"`
	NextPageToken *string                    `json:"next_page_token"`
}

// primaryCode is the SIP code of a listing exchange, where the auctions
// happen.
func primaryCode(exchange string) string {
	switch exchange {
	case ExchangeNYSE:
		return "N"
	case ExchangeARCA:
		return "P"
	case ExchangeBATS:
		return "Z"
	case ExchangeAMEX:
		return "A"
	default:
		return "Q"
	}
}

// auctionSeq yields symbol si's days with an auction, each stamped with
// its 09:30 New York, in [from, to].
func (m *Market) auctionSeq(si int, from, to int64, desc bool, yield func(dailyAuctions, int64) bool) {
	v := m.view(si)
	if len(v.bars) == 0 {
		return
	}
	// Only days with bars can have auctions: clamp the walk to them.
	from = max(from, (v.bars[0].m-1440)*nsPerMinute)
	to = min(to, (v.bars[len(v.bars)-1].m+1440)*nsPerMinute)
	if from > to {
		return
	}
	first := time.Unix(0, from).In(m.loc)
	last := time.Unix(0, to).In(m.loc)
	d0 := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, m.loc)
	d1 := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, m.loc)
	n := 0
	for d := d0; !d.After(d1); d = d.AddDate(0, 0, 1) {
		n++
	}
	for k := range n {
		i := k
		if desc {
			i = n - 1 - k
		}
		d := d0.AddDate(0, 0, i)
		open := time.Date(d.Year(), d.Month(), d.Day(), 9, 30, 0, 0, m.loc)
		if t := open.UnixNano(); t < from || t > to {
			continue
		}
		if da, ok := m.auctionsOn(si, &v, d, open); ok {
			if !yield(da, open.UnixNano()) {
				return
			}
		}
	}
}

// auctionsOn builds day d's auctions of symbol si from view v.
func (m *Market) auctionsOn(si int, v *view, d, open time.Time) (dailyAuctions, bool) {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return dailyAuctions{}, false
	}
	closing := time.Date(d.Year(), d.Month(), d.Day(), 16, 0, 0, 0, m.loc)
	om, cm := open.Unix()/60, closing.Unix()/60
	i := sort.Search(len(v.bars), func(i int) bool { return v.bars[i].m >= om })
	if i == len(v.bars) || v.bars[i].m != om {
		return dailyAuctions{}, false
	}
	sym := m.syms[si]
	x := primaryCode(sym.Exchange)
	h := hashString(fmt.Sprintf("auction/%d/%s/%d", m.seed, sym.Symbol, om))
	ob := v.bars[i]
	osz := uint32(min(uint64(1<<31), max(100, ob.v*(2+h%6))))
	ot := open.Add(time.Duration(100+h>>8%900) * time.Millisecond).UTC()
	da := dailyAuctions{D: d.Format(time.DateOnly), O: []auction{
		{T: ot, P: dollars(ob.o), S: osz, X: x, C: "O"},
		{T: ot.Add(time.Duration(1+h>>20%5000) * time.Microsecond), P: dollars(ob.o), S: osz, X: x, C: "Q"},
	}, C: []auction{}}
	// The close: the last bar before 16:00, once the day's session is over
	// by the market's clock (no auction before it happens).
	if m.curMin.Load() >= cm {
		j := sort.Search(len(v.bars), func(j int) bool { return v.bars[j].m >= cm }) - 1
		if j >= i {
			cb := v.bars[j]
			csz := uint32(min(uint64(1<<31), max(100, cb.v*(4+h>>32%8))))
			ct := closing.Add(time.Duration(100+h>>40%900) * time.Millisecond).UTC()
			da.C = []auction{
				{T: ct, P: dollars(cb.c), S: csz, X: x, C: "6"},
				{T: ct.Add(time.Duration(1+h>>50%5000) * time.Microsecond), P: dollars(cb.c), S: csz, X: x, C: "M"},
			}
		}
	}
	return da, true
}

func (m *Market) handleAuctions(w http.ResponseWriter, r *http.Request) {
	q, e := m.parseQuery(r, "", false)
	if e != nil {
		writeError(w, r, e)
		return
	}
	days, next := page(m, q, m.auctionSeq)
	writeJSON(w, r, http.StatusOK, auctionsResponse{Auctions: days, NextPageToken: next})
}
