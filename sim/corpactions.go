package sim

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// Corporate actions on accounts (issue 9 item 6). The market generates
// splits and cash dividends (market.CorporateAction); the broker applies
// each at 00:00 New York of its dates, to every account:
//
//   - on a split's ex date, open orders in the symbol are canceled (the
//     simplest honest reading of Alpaca's practice, which cancels or
//     adjusts them: a canceled order is never filled at a stale price),
//     then the position's quantity is multiplied by new_rate/old_rate and
//     its average entry price divided by it, cost basis unchanged, and a
//     SPLIT activity is recorded;
//   - on a cash dividend's ex date, the quantity held (the holding at the
//     end of the day before) fixes the entitlement; on its payable date
//     the cash, quantity × rate, is credited (debited for a short
//     position) with a DIV activity. Open orders are left as they are.
//
// The market divides the symbol's price at the same instant (see
// market/splitwalk.go), so a position's value goes on across a split.
// Under a stepped clock AdvanceClock stops at the instant and applies the
// action before the market steps to it, so nothing fills in between.
// Under a running clock a goroutine applies it a little ahead, two market
// ticks before the instant: the market steps on its own ticker, and a
// resting order at a pre-split price must be gone before the first
// post-split quote could fill it. For those two ticks the position is
// split and the price not yet. Actions dated before the server started
// are not applied: no account held anything then.

// corpState is what the broker keeps of corporate actions.
type corpState struct {
	mu sync.Mutex
	// through is the clock time up to which actions have been applied.
	through time.Time
	// pending are dividend entitlements fixed on an ex date, awaiting
	// their payable date.
	pending []entitlement
	// nextAt, computed at nextFrom, caches nextCorporateAction.
	nextAt, nextFrom time.Time
	nextOK           bool
}

type entitlement struct {
	a   *account
	act market.CorporateAction
	qty match.Qty
}

// caEvent is an action's effect due at one instant.
type caEvent struct {
	at  time.Time
	pay bool // a dividend's payment, rather than its ex date
	act market.CorporateAction
}

// caInstant is when the broker applies something dated d: 00:00 New York.
func caInstant(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, newYork)
}

// caDate is the calendar date (midnight UTC, as the market dates actions)
// of t in New York.
func caDate(t time.Time) time.Time {
	y, m, d := t.In(newYork).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func onEx(a market.CorporateAction) time.Time      { return a.Ex }
func onPayable(a market.CorporateAction) time.Time { return a.Payable }

// applyCorporateActions applies every action effect due in (through,
// now]. Effects are due only at New York midnights, so a call within the
// day of the previous one costs nothing.
func (s *Server) applyCorporateActions(now time.Time) {
	c := &s.corp
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.through
	if !now.After(from) {
		return
	}
	c.through = now
	d0, d1 := caDate(from), caDate(now)
	if d0.Equal(d1) {
		return
	}
	var evs []caEvent
	for _, a := range s.market.CorporateActions(d0, d1, nil, onEx) {
		evs = append(evs, caEvent{at: caInstant(a.Ex), act: a})
	}
	for _, a := range s.market.CorporateActions(d0, d1, nil, onPayable) {
		if a.Type == market.CashDividend {
			evs = append(evs, caEvent{at: caInstant(a.Payable), pay: true, act: a})
		}
	}
	slices.SortStableFunc(evs, func(x, y caEvent) int { return x.at.Compare(y.at) })
	for _, ev := range evs {
		if !ev.at.After(from) || ev.at.After(now) {
			continue
		}
		switch {
		case ev.pay:
			s.payDividend(ev)
		case ev.act.Type == market.CashDividend:
			s.entitle(ev)
		default:
			s.split(ev)
		}
	}
}

// activityID is Alpaca's "<YYYYMMDDhhmmssmmm>::<uuid>", the uuid derived
// from the action and the account so that a run repeats.
func activityID(at time.Time, actionID, accountID string) string {
	h := sha1.Sum([]byte(actionID + "/" + accountID))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	stamp := at.UTC().Format("20060102150405.000")
	return strings.Replace(stamp, ".", "", 1) + "::" +
		fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// split applies a split to every account. The caller holds s.corp.mu.
func (s *Server) split(ev caEvent) {
	act := ev.act
	for _, a := range s.accounts.all() {
		a.mu.Lock()
		now := a.clock(s.now())
		s.cancelSymbolOrders(a, now, act.Symbol)
		if before, after, ok := a.eng.Split(act.Symbol, act.NewRate, act.OldRate); ok {
			qty, zero := (after - before).Decimal(), decimal.Zero
			kind := "forward"
			if act.Type == market.ReverseSplit {
				kind = "reverse"
			}
			a.book(s, ev.at, alpaca.Activity{
				ID: activityID(ev.at, act.ID, a.id), ActivityType: "SPLIT", Date: act.Ex.Format(time.DateOnly),
				Symbol: act.Symbol, Qty: &qty, NetAmount: &zero, Status: "executed",
				Description: fmt.Sprintf("%s split %d:%d, %s shares became %s", kind, act.NewRate, act.OldRate, before, after),
			})
		}
		a.publish(s, a.evbuf)
		a.mu.Unlock()
		a.ringActivities(s)
	}
}

// cancelSymbolOrders cancels every open order of a in symbol, legs
// included. The caller holds a.mu and publishes a.evbuf.
func (s *Server) cancelSymbolOrders(a *account, now time.Time, symbol string) {
	// A canceled parent takes its legs with it, so the list shrinks by
	// more than one at a time; the bound only guards against an order
	// that refuses to cancel.
	for range 1000 {
		open, err := a.eng.Orders(match.OrderFilter{Status: "open", Limit: 500, Symbols: []string{symbol}})
		if err != nil || len(open) == 0 {
			return
		}
		progress := false
		for _, o := range open {
			var cerr error
			if a.evbuf, cerr = a.eng.Cancel(now, o.ID.String(), a.evbuf); cerr == nil {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

// entitle fixes each holder's dividend entitlement on the ex date. The
// caller holds s.corp.mu.
func (s *Server) entitle(ev caEvent) {
	for _, a := range s.accounts.all() {
		a.mu.Lock()
		q := a.eng.PositionQty(ev.act.Symbol)
		a.mu.Unlock()
		if q != 0 {
			s.corp.pending = append(s.corp.pending, entitlement{a: a, act: ev.act, qty: q})
		}
	}
}

// payDividend credits the dividend to the accounts entitled to it. The
// caller holds s.corp.mu.
func (s *Server) payDividend(ev caEvent) {
	keep := s.corp.pending[:0]
	for _, e := range s.corp.pending {
		if e.act.ID != ev.act.ID {
			keep = append(keep, e)
			continue
		}
		amount := match.Value(e.qty, match.Price(e.act.CashCents*(match.PriceScale/match.MoneyScale)))
		if e.qty < 0 {
			amount = -amount
		}
		net, qty := amount.Decimal(), e.qty.Decimal()
		rate := decimal.New(e.act.CashCents, -2)
		e.a.mu.Lock()
		e.a.eng.CreditCash(amount)
		e.a.book(s, ev.at, alpaca.Activity{
			ID: activityID(ev.at, e.act.ID, e.a.id), ActivityType: "DIV", Date: e.act.Payable.Format(time.DateOnly),
			Symbol: e.act.Symbol, Qty: &qty, PerShareAmount: &rate, NetAmount: &net, Status: "executed",
			Description: fmt.Sprintf("cash dividend of $%s a share on %s shares", rate.StringFixed(2), e.qty),
		})
		e.a.mu.Unlock()
		e.a.ringActivities(s)
	}
	clear(s.corp.pending[len(keep):])
	s.corp.pending = keep
}

// corpLoop applies the actions under a running clock, each a lead of two
// market ticks (in clock time) ahead of its New York midnight.
func (s *Server) corpLoop() {
	lead := 2 * s.cfg.TickInterval
	if c := s.cfg.Clock; c != nil {
		lead = time.Duration(float64(lead) * c.speed)
	}
	for {
		next, ok := s.nextCorporateAction(s.now().Add(lead))
		if !ok {
			// None within a year: look again in a day.
			next = s.now().Add(24 * time.Hour)
		}
		if !s.sleepUntil(next.Add(-lead)) {
			return
		}
		if ok {
			s.applyCorporateActions(next)
		}
	}
}

// nextCorporateAction is the first instant after t at which an action
// takes effect, for AdvanceClock to stop at; false when none within a
// year. AdvanceClock asks at every step and the clock only moves
// forward, so the answer is kept until the clock reaches it.
func (s *Server) nextCorporateAction(t time.Time) (time.Time, bool) {
	c := &s.corp
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nextOK && c.nextAt.After(t) && !c.nextFrom.After(t) {
		return c.nextAt, true
	}
	d, ok := s.market.NextCorporateActionDate(caDate(t))
	for ok && !caInstant(d).After(t) {
		d, ok = s.market.NextCorporateActionDate(d)
	}
	c.nextAt, c.nextFrom, c.nextOK = caInstant(d), t, ok
	return c.nextAt, ok
}

// idStamp is the time part of an activity id, which orders as the time.
func idStamp(id string) string {
	s, _, _ := strings.Cut(id, "::")
	return s
}

// activityTime is the time an activity id records (to the millisecond).
func activityTime(id string) time.Time {
	st := idStamp(id)
	if len(st) != 17 {
		return time.Time{}
	}
	t, err := time.Parse("20060102150405.000", st[:14]+"."+st[14:])
	if err != nil {
		return time.Time{}
	}
	return t
}

// Announcements (GET /v2/corporate_actions/announcements[/{id}]): the
// market's actions as Alpaca's Trading API announces them, each visible
// from its declaration date on, as a real announcement only exists once
// made.

// announcement is Alpaca's Announcement (broker OpenAPI; the Trading
// API's route returns the same model). The Go SDK's alpaca.Announcement
// spells the second field corporate_actions_id; the specification's
// corporate_action_id is sent.
type announcement struct {
	ID                      string  `json:"id"`
	CorporateActionID       string  `json:"corporate_action_id"`
	CAType                  string  `json:"ca_type"`
	CASubType               string  `json:"ca_sub_type"`
	InitiatingSymbol        string  `json:"initiating_symbol"`
	InitiatingOriginalCusip string  `json:"initiating_original_cusip"`
	TargetSymbol            string  `json:"target_symbol"`
	TargetOriginalCusip     string  `json:"target_original_cusip"`
	DeclarationDate         string  `json:"declaration_date"`
	ExDate                  string  `json:"ex_date"`
	RecordDate              string  `json:"record_date"`
	PayableDate             string  `json:"payable_date"`
	Cash                    string  `json:"cash"`
	OldRate                 string  `json:"old_rate"`
	NewRate                 string  `json:"new_rate"`
	ExpirationDate          *string `json:"expiration_date,omitempty"`
}

func announcementOf(a market.CorporateAction) announcement {
	out := announcement{
		ID: a.ID, CorporateActionID: a.CUSIP + "_" + strings.ToUpper(a.ID[len(a.ID)-4:]),
		InitiatingSymbol: a.Symbol, InitiatingOriginalCusip: a.CUSIP, TargetSymbol: a.Symbol, TargetOriginalCusip: a.CUSIP,
		DeclarationDate: a.Declared.Format(time.DateOnly), ExDate: a.Ex.Format(time.DateOnly),
		RecordDate: a.Record.Format(time.DateOnly), PayableDate: a.Payable.Format(time.DateOnly),
		Cash: "0", OldRate: strconv.FormatInt(max(a.OldRate, 1), 10), NewRate: strconv.FormatInt(max(a.NewRate, 1), 10),
	}
	switch a.Type {
	case market.ForwardSplit:
		out.CAType, out.CASubType = "split", "stock_split"
	case market.ReverseSplit:
		out.CAType, out.CASubType = "split", "reverse_split"
	case market.CashDividend:
		out.CAType, out.CASubType = "dividend", "cash"
		out.Cash = decimal.New(a.CashCents, -2).StringFixed(2)
	}
	return out
}

// announcementTypes are the ca_types values Alpaca accepts.
var announcementTypes = []string{"dividend", "merger", "spinoff", "split"}

// announcementDates are the date_type values, and what each selects.
var announcementDates = map[string]func(market.CorporateAction) time.Time{
	"declaration_date": func(a market.CorporateAction) time.Time { return a.Declared },
	"ex_date":          onEx,
	"record_date":      func(a market.CorporateAction) time.Time { return a.Record },
	"payable_date":     onPayable,
}

// maxAnnouncementRange is Alpaca's bound on until - since.
const maxAnnouncementRange = 90 * 24 * time.Hour

func (s *Server) listAnnouncements(w http.ResponseWriter, r *http.Request, _ *account) {
	q := r.URL.Query()
	raw := q.Get("ca_types")
	if raw == "" {
		invalid(w, "ca_types is required")
		return
	}
	types := map[string]bool{}
	for _, t := range strings.Split(raw, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if !slices.Contains(announcementTypes, t) {
			invalid(w, "invalid ca_types: "+t+" (want dividend, merger, spinoff or split)")
			return
		}
		types[t] = true
	}
	var since, until time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		v := q.Get(p.name)
		if v == "" {
			invalid(w, p.name+" is required")
			return
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			invalid(w, "invalid "+p.name+": expected YYYY-MM-DD")
			return
		}
		*p.dst = d
	}
	if until.Before(since) {
		invalid(w, "until must not be before since")
		return
	}
	if until.Sub(since) > maxAnnouncementRange {
		invalid(w, "the date range is limited to 90 days")
		return
	}
	dt := q.Get("date_type")
	if dt == "" {
		dt = "declaration_date" // our default: announcements made in the range
	}
	on, ok := announcementDates[dt]
	if !ok {
		invalid(w, "invalid date_type: want declaration_date, ex_date, record_date or payable_date")
		return
	}
	var syms []string
	if v := q.Get("symbol"); v != "" {
		syms = append(syms, v)
	}
	cusip := q.Get("cusip")
	today := caDate(s.now())
	out := []announcement{}
	for _, a := range s.market.CorporateActions(since, until, syms, on) {
		kind := "split"
		if a.Type == market.CashDividend {
			kind = "dividend"
		}
		if !types[kind] || a.Declared.After(today) || cusip != "" && a.CUSIP != cusip {
			continue
		}
		out = append(out, announcementOf(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAnnouncement(w http.ResponseWriter, r *http.Request, _ *account) {
	a, ok := s.market.CorporateAction(r.PathValue("id"))
	if !ok || a.Declared.After(caDate(s.now())) {
		notFound(w, "announcement not found")
		return
	}
	writeJSON(w, http.StatusOK, announcementOf(a))
}
