package sim

import (
	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// tuRecord is a trade update as the replay ring keeps it: the event and the
// parts of its order that can change after it, with no pointers. The parts
// of an order that never change (symbol, side, client id, ...) are read
// from the order itself when the update is sent, so the ring holds about a
// third of what a full event with its order copy would.
type tuRecord struct {
	Seq            uint64
	Time           match.Timestamp
	OrderID        match.UUID
	ExecutionID    match.UUID
	ReplacedBy     match.UUID
	Price          match.Price
	Qty            match.Qty
	PositionQty    match.Qty
	OrderQty       match.Qty
	FilledQty      match.Qty
	FilledAvgPrice match.AvgPrice
	LimitPrice     match.Price
	StopPrice      match.Price
	HWM            match.Price
	UpdatedAt      match.Timestamp
	FilledAt       match.Timestamp
	CanceledAt     match.Timestamp
	ExpiredAt      match.Timestamp
	FailedAt       match.Timestamp
	ReplacedAt     match.Timestamp
	Type           word
	Status         word
}

// word holds a short enumeration value (an event type or status) inline,
// keeping the record pointer-free without a lookup table to maintain.
type word struct {
	n uint8
	b [23]byte
}

func wordOf(s string) word {
	var w word
	w.n = uint8(copy(w.b[:], s))
	return w
}

func (w *word) String() string { return string(w.b[:w.n]) }

func recordOf(ev *match.Event) tuRecord {
	o := &ev.Order
	return tuRecord{
		Seq: ev.Seq, Time: ev.Time, OrderID: o.ID, ExecutionID: ev.ExecutionID, ReplacedBy: o.ReplacedBy,
		Price: ev.Price, Qty: ev.Qty, PositionQty: ev.PositionQty,
		OrderQty: o.Qty, FilledQty: o.FilledQty, FilledAvgPrice: o.FilledAvgPrice,
		LimitPrice: o.LimitPrice, StopPrice: o.StopPrice, HWM: o.HWM,
		UpdatedAt: o.UpdatedAt, FilledAt: o.FilledAt, CanceledAt: o.CanceledAt, ExpiredAt: o.ExpiredAt,
		FailedAt: o.FailedAt, ReplacedAt: o.ReplacedAt,
		Type:   wordOf(string(ev.Type)),
		Status: wordOf(string(o.Status)),
	}
}

// tradeUpdate renders a retained update: the order as it is now, with
// everything that may have changed since put back as it was then.
func (s *Server) tradeUpdate(a *account, e *feedEntry[tuRecord]) alpaca.TradeUpdate {
	r := &e.v
	a.mu.Lock()
	o, err := a.eng.Order(r.OrderID.String(), false)
	a.mu.Unlock()
	if err != nil {
		o = match.Order{ID: r.OrderID} // orders are never deleted; keep going regardless
	}
	o.Legs = nil
	o.Status = match.Status(r.Status.String())
	o.Qty, o.FilledQty, o.FilledAvgPrice = r.OrderQty, r.FilledQty, r.FilledAvgPrice
	o.LimitPrice, o.StopPrice, o.HWM = r.LimitPrice, r.StopPrice, r.HWM
	o.UpdatedAt, o.FilledAt, o.CanceledAt, o.ExpiredAt, o.FailedAt, o.ReplacedAt = r.UpdatedAt, r.FilledAt, r.CanceledAt, r.ExpiredAt, r.FailedAt, r.ReplacedAt
	o.ReplacedBy = r.ReplacedBy
	typ := match.EventType(r.Type.String())
	tu := alpaca.TradeUpdate{
		At:        match.Timestamp(e.at).Time(),
		Event:     string(typ),
		EventID:   e.id(),
		Order:     wireOrder(&o),
		Timestamp: tptr(r.Time),
	}
	if typ == match.EventFill || typ == match.EventPartialFill {
		tu.ExecutionID = r.ExecutionID.String()
		p, q, pq := r.Price.Decimal(), r.Qty.Decimal(), r.PositionQty.Decimal()
		tu.Price, tu.Qty, tu.PositionQty = &p, &q, &pq
	}
	return tu
}
