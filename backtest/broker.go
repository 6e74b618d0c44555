package backtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/quantum-alpaca/quantum/trading"
)

// broker is a tenant's paper account in process: the broker simulator's
// matching engine (the same match.Account `quantum broker` runs behind
// its HTTP API, configured the same way) answering the trading.Broker
// calls directly. Trade updates the account emits are queued in pending
// and handed to the tenant's runner by the backtest loop, as the stream
// would deliver them.
type broker struct {
	acct    *match.Account
	clock   *clock
	lastNow time.Time
	market  *tape
	pending []match.Event
	// lastEquity is the equity at the previous close, as the simulator
	// records it for Alpaca's last_equity.
	lastEquity match.Money
	// pos mirrors the account's positions as float shares, kept from fill
	// events, for the per-bar equity curve (exact figures come from the
	// account itself).
	pos map[string]float64
}

var errNotStreaming = errors.New("backtest: the in-process broker delivers updates through the backtest loop")

// now returns the simulated time, strictly increasing per call as the
// simulator's account clock does, so that events keep their order.
func (b *broker) now() time.Time {
	t := b.clock.now
	if !t.After(b.lastNow) {
		t = b.lastNow.Add(time.Nanosecond)
	}
	b.lastNow = t
	return t
}

func (b *broker) SubmitOrder(ctx context.Context, in trading.Intent) (trading.BrokerOrder, error) {
	if err := ctx.Err(); err != nil {
		return trading.BrokerOrder{}, err
	}
	req := match.OrderRequest{
		Symbol: in.Symbol, Side: match.Side(in.Side), Type: match.OrderType(in.Type),
		TimeInForce: match.TimeInForce(in.TimeInForce), ClientOrderID: in.ClientOrderID,
		Qty: dptr(in.Qty), Notional: dptr(in.Notional), LimitPrice: dptr(in.LimitPrice), StopPrice: dptr(in.StopPrice),
	}
	now := b.now()
	// Resting orders see the current quote before a new order is judged,
	// as the simulator refreshes them on every order.
	if q, ok := b.market.quote(in.Symbol); ok {
		b.pending = b.acct.OnQuote(now, in.Symbol, q, b.pending)
	}
	o, ev, err := b.acct.Submit(now, &req, b.pending)
	b.pending = ev
	if err != nil {
		var me *match.Error
		if errors.As(err, &me) && me.Kind == match.KindDuplicate {
			// The client_order_id is taken: the order exists, as Alpaca's
			// client resolves a retried submit.
			return b.LookupOrder(ctx, in.ClientOrderID)
		}
		return trading.BrokerOrder{}, fmt.Errorf("%w: %w", trading.ErrRejected, trading.Errorf(trading.EREJECTED, "%s", err.Error()))
	}
	return fromOrder(o), nil
}

func (b *broker) LookupOrder(_ context.Context, clientOrderID string) (trading.BrokerOrder, error) {
	o, err := b.acct.OrderByClientID(clientOrderID, false)
	if err != nil {
		return trading.BrokerOrder{}, fmt.Errorf("%w: %s", trading.ErrOrderNotFound, clientOrderID)
	}
	return fromOrder(o), nil
}

func (b *broker) OpenOrders(context.Context) ([]trading.BrokerOrder, error) {
	os, err := b.acct.Orders(match.OrderFilter{Status: "open", Limit: 500})
	if err != nil {
		return nil, err
	}
	return fromOrders(os), nil
}

func (b *broker) OrdersSince(_ context.Context, since time.Time) ([]trading.BrokerOrder, error) {
	os, err := b.acct.Orders(match.OrderFilter{Status: "all", After: since, Limit: 500, Direction: "asc"})
	if err != nil {
		return nil, err
	}
	return fromOrders(os), nil
}

func (b *broker) Positions(context.Context) ([]trading.Position, error) {
	ps := b.acct.Positions(b.market.mark)
	out := make([]trading.Position, 0, len(ps))
	for _, p := range ps {
		out = append(out, trading.Position{
			Symbol: p.Symbol, Qty: p.Qty.Decimal(), AvgEntryPrice: p.AvgEntryPrice.Decimal(),
			MarketValue: p.MarketValue.Decimal(), UnrealizedPL: p.UnrealizedPL.Decimal(),
		})
	}
	return out, nil
}

func (b *broker) Account(context.Context) (trading.Account, error) {
	s := b.acct.Snapshot(b.clock.now, b.market.mark)
	return trading.Account{Equity: s.Equity.Decimal(), LastEquity: b.lastEquity.Decimal(), Cash: s.Cash.Decimal()}, nil
}

func (b *broker) LatestQuote(_ context.Context, symbol string) (trading.Quote, error) {
	q, ok := b.market.quote(symbol)
	if !ok {
		return trading.Quote{}, trading.Errorf(trading.ENOTFOUND, "No quote for %s.", symbol)
	}
	return trading.Quote{Symbol: symbol, Bid: q.Bid.Decimal(), Ask: q.Ask.Decimal(), Time: b.clock.now}, nil
}

func (b *broker) RecentBars(_ context.Context, symbol string, n int) ([]trading.Bar, error) {
	return b.market.recent(symbol, n, b.clock.now)
}

func (b *broker) StreamUpdates(ctx context.Context, _ chan<- trading.OrderUpdate) error {
	<-ctx.Done()
	return errNotStreaming
}

// apply folds fill events into pos.
func (b *broker) apply(e *match.Event) {
	if e.Type != match.EventFill && e.Type != match.EventPartialFill {
		return
	}
	q := float64(e.Qty) / match.QtyScale
	if e.Order.Side == match.Sell {
		q = -q
	}
	b.pos[e.Order.Symbol] += q
	if p := b.pos[e.Order.Symbol]; p < 1e-9 && p > -1e-9 {
		delete(b.pos, e.Order.Symbol)
	}
}

func dptr(d decimal.Decimal) *decimal.Decimal {
	if d.IsZero() {
		return nil
	}
	return &d
}

func fromOrders(os []match.Order) []trading.BrokerOrder {
	out := make([]trading.BrokerOrder, len(os))
	for i := range os {
		out[i] = fromOrder(os[i])
	}
	return out
}

func fromOrder(o match.Order) trading.BrokerOrder {
	bo := trading.BrokerOrder{
		ID: o.ID.String(), ClientOrderID: o.ClientOrderID, Symbol: o.Symbol, Side: trading.Side(o.Side),
		Status: trading.OrderStatus(o.Status), Type: trading.OrderType(o.Type), TimeInForce: trading.TimeInForce(o.TimeInForce),
		CreatedAt: o.CreatedAt.Time(), UpdatedAt: o.UpdatedAt.Time(),
	}
	if !bo.Status.Valid() {
		bo.Status = trading.StatusNew
	}
	if o.Qty != 0 {
		bo.Qty = o.Qty.Decimal()
	}
	if o.FilledQty != 0 {
		bo.FilledQty = o.FilledQty.Decimal()
		bo.FilledAvgPrice = o.FilledAvgPrice.Decimal()
	}
	if o.Notional != 0 {
		bo.Notional = o.Notional.Decimal()
	}
	if o.LimitPrice != 0 {
		bo.LimitPrice = o.LimitPrice.Decimal()
	}
	if o.StopPrice != 0 {
		bo.StopPrice = o.StopPrice.Decimal()
	}
	return bo
}

// update converts a trade-update event as the stream adapter would.
func update(e *match.Event) trading.OrderUpdate {
	u := trading.OrderUpdate{Event: string(e.Type), EventID: fmt.Sprint(e.Seq), Time: e.Time.Time(), Order: fromOrder(e.Order)}
	if e.Type == match.EventFill || e.Type == match.EventPartialFill {
		u.ExecutionID = e.ExecutionID.String()
		u.Qty = e.Qty.Decimal()
		u.Price = e.Price.Decimal()
	}
	return u
}
