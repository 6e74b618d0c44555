// Package alpacabroker adapts the project's alpaca client to the domain's
// trading.Broker, trading.QuoteSource and trading.QuoteFeed: one Broker per
// tenant, each with its own alpaca.Client (own connection pool, rate limiter
// and credentials) and its own trade-update stream.
package alpacabroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/trading"
)

// Compile-time proof that Broker satisfies the domain's interfaces.
var (
	_ trading.Broker       = (*Broker)(nil)
	_ trading.QuoteSource  = (*Broker)(nil)
	_ trading.StreamHealth = (*Broker)(nil)
)

// DefaultStreamLookback is how far back a new trade-update stream
// replays. The engine reconciles every unfinished order by REST at start;
// replaying the last moments as well closes the gap between that and the
// stream connecting. Replayed events are harmless: the engine turns
// cumulative quantities into deltas and the journal drops repeated
// execution ids.
const DefaultStreamLookback = 30 * time.Second

// DefaultIdleConnTimeout is shorter than the engine's account refresh
// interval, so that an idle tenant's REST connection closes between
// refreshes.
const DefaultIdleConnTimeout = 5 * time.Second

// Config says how to reach one account.
type Config struct {
	// BaseURL is the trading API (alpaca.PaperURL, or a simulator).
	BaseURL   string
	KeyID     string
	SecretKey string
	// RateLimit is requests per minute for this tenant; 0 disables the
	// client-side limiter (for a local broker).
	RateLimit int
	// StreamLookback defaults to DefaultStreamLookback.
	StreamLookback time.Duration
	// StreamGrace defaults to DefaultStreamGrace.
	StreamGrace time.Duration
	// Logger receives the client's and stream's few records; nil logs
	// nothing.
	Logger *slog.Logger
	// UnencryptedHTTP2 speaks HTTP/2 without TLS to an http:// broker that
	// accepts it (this project's broker does), so that the tenant's
	// concurrent REST calls share one connection. https brokers negotiate
	// HTTP/2 by themselves. The trade-update stream always has a
	// connection of its own that only its reader goroutine touches.
	UnencryptedHTTP2 bool
	// IdleConnTimeout is how long an unused REST connection stays open.
	// A tenant that only refreshes its account now and then holds no REST
	// connection in between, which is most of what an idle tenant would
	// otherwise cost; a tenant trading more often than this keeps its
	// connection warm. Default DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration
	// Options are extra alpaca client options (tests: short timeouts).
	Options []alpaca.Option
}

// Broker is an trading.Broker backed by an Alpaca account.
type Broker struct {
	cfg    Config
	client *alpaca.Client
	// firm is set for a Broker API account (Firm.Account): its updates
	// come from the firm's one stream, not a connection of its own.
	firm    *Firm
	account string
	// stream is the health of the stream StreamUpdates reads: the
	// account's own, or the firm's.
	stream *streamHealth
}

// New returns a Broker for cfg.
func New(cfg Config) (*Broker, error) {
	if cfg.BaseURL == "" || cfg.KeyID == "" || cfg.SecretKey == "" {
		return nil, errors.New("alpacabroker: base URL, key id and secret required")
	}
	if cfg.StreamLookback <= 0 {
		cfg.StreamLookback = DefaultStreamLookback
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if cfg.StreamGrace <= 0 {
		cfg.StreamGrace = DefaultStreamGrace
	}
	opts := []alpaca.Option{alpaca.WithCredentials(cfg.KeyID, cfg.SecretKey), alpaca.WithIdleConnTimeout(cfg.IdleConnTimeout)}
	if cfg.RateLimit > 0 {
		// Leave a sliver of burst so a quiet tenant can answer a sweep at
		// once, without ever exceeding the per-minute budget.
		opts = append(opts, alpaca.WithRateLimit(cfg.RateLimit, max(1, min(10, cfg.RateLimit/20))))
	} else {
		opts = append(opts, alpaca.WithRateLimit(0, 0))
	}
	if cfg.UnencryptedHTTP2 {
		opts = append(opts, alpaca.WithUnencryptedHTTP2())
	}
	if cfg.Logger != nil {
		opts = append(opts, alpaca.WithLogger(cfg.Logger))
	}
	opts = append(opts, cfg.Options...)
	c, err := alpaca.New(cfg.BaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("alpacabroker: %w", err)
	}
	return &Broker{cfg: cfg, client: c, stream: &streamHealth{grace: cfg.StreamGrace}}, nil
}

// Client returns the underlying alpaca client.
func (b *Broker) Client() *alpaca.Client { return b.client }

// SubmitOrder implements trading.Broker. The alpaca client alone decides
// whether the order reached the broker (it looks up before it resends, and
// after any refusal that may hide an earlier attempt); this maps its
// answer to the engine's.
func (b *Broker) SubmitOrder(ctx context.Context, in trading.Intent) (trading.BrokerOrder, error) {
	req := alpaca.OrderRequest{
		Symbol:        in.Symbol,
		Side:          alpaca.Side(in.Side),
		Type:          alpaca.OrderType(in.Type),
		TimeInForce:   alpaca.TimeInForce(in.TimeInForce),
		ClientOrderID: in.ClientOrderID,
		ExtendedHours: in.ExtendedHours,
		Qty:           dptr(in.Qty),
		Notional:      dptr(in.Notional),
		LimitPrice:    dptr(in.LimitPrice),
		StopPrice:     dptr(in.StopPrice),
		TrailPrice:    dptr(in.TrailPrice),
		TrailPercent:  dptr(in.TrailPercent),
	}
	o, err := b.client.SubmitOrder(ctx, req)
	if err != nil {
		return trading.BrokerOrder{}, submitError(err)
	}
	return fromOrder(o), nil
}

// submitError maps the client's answer classes to the engine's. Anything
// else (the context's error when the order never left) passes through.
func submitError(err error) error {
	switch {
	case errors.Is(err, alpaca.ErrUnknownOutcome):
		return fmt.Errorf("%w: %w", trading.ErrUnknownOutcome, err)
	case errors.Is(err, alpaca.ErrOrderRejected):
		// The refusal's reason is the broker's message (buying power,
		// validation), which the engine journals and shows.
		var msg string
		var apiErr *alpaca.APIError
		if errors.As(err, &apiErr) {
			msg = apiErr.Message
			if msg == "" {
				msg = fmt.Sprintf("HTTP %d", apiErr.StatusCode)
			}
		}
		return fmt.Errorf("%w: %w: %w", trading.ErrRejected, trading.Errorf(trading.EREJECTED, "%s", msg), err)
	}
	return err
}

// LookupOrder implements trading.Broker.
func (b *Broker) LookupOrder(ctx context.Context, clientOrderID string) (trading.BrokerOrder, error) {
	o, err := b.client.GetOrderByClientOrderID(ctx, clientOrderID)
	if err != nil {
		if errors.Is(err, alpaca.ErrNotFound) {
			return trading.BrokerOrder{}, fmt.Errorf("%w: %w", trading.ErrOrderNotFound, err)
		}
		return trading.BrokerOrder{}, err
	}
	return fromOrder(o), nil
}

// OpenOrders implements trading.Broker.
func (b *Broker) OpenOrders(ctx context.Context) ([]trading.BrokerOrder, error) {
	list, err := b.client.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersOpen, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := make([]trading.BrokerOrder, len(list))
	for i := range list {
		out[i] = fromOrder(&list[i])
	}
	return out, nil
}

// OrdersSince implements trading.Broker. Alpaca pages orders by time
// only, so each page starts just before the last one's newest order and
// repeats are dropped by id.
func (b *Broker) OrdersSince(ctx context.Context, since time.Time) ([]trading.BrokerOrder, error) {
	const page = 500
	seen := map[string]bool{}
	var out []trading.BrokerOrder
	after := since.Add(-time.Nanosecond)
	if since.IsZero() {
		after = time.Time{}
	}
	for {
		list, err := b.client.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Limit: page, Direction: alpaca.Asc, After: after})
		if err != nil {
			return nil, err
		}
		fresh := 0
		for i := range list {
			if !seen[list[i].ID] {
				seen[list[i].ID] = true
				out = append(out, fromOrder(&list[i]))
				fresh++
			}
		}
		if len(list) < page || fresh == 0 {
			return out, nil
		}
		after = list[len(list)-1].CreatedAt.Add(-time.Nanosecond)
	}
}

// Positions implements trading.Broker.
func (b *Broker) Positions(ctx context.Context) ([]trading.Position, error) {
	ps, err := b.client.ListPositions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]trading.Position, len(ps))
	for i, p := range ps {
		q := p.Qty
		// Alpaca reports short positions with side "short" and, in some
		// API versions, a positive qty.
		if p.Side == "short" && q.IsPositive() {
			q = q.Neg()
		}
		out[i] = trading.Position{Symbol: p.Symbol, Qty: q, AvgEntryPrice: p.AvgEntryPrice,
			MarketValue: dval(p.MarketValue), UnrealizedPL: dval(p.UnrealizedPL)}
	}
	return out, nil
}

// Account implements trading.Broker.
func (b *Broker) Account(ctx context.Context) (trading.Account, error) {
	a, err := b.client.GetAccount(ctx)
	if err != nil {
		return trading.Account{}, err
	}
	return trading.Account{Equity: a.Equity, LastEquity: a.LastEquity, Cash: a.Cash}, nil
}

// LatestQuote implements trading.Broker.
func (b *Broker) LatestQuote(ctx context.Context, symbol string) (trading.Quote, error) {
	if trading.IsCrypto(symbol) {
		qs, err := b.LatestQuotes(ctx, []string{symbol})
		if err != nil {
			return trading.Quote{}, err
		}
		q, ok := qs[symbol]
		if !ok {
			return trading.Quote{}, fmt.Errorf("%w: no latest quote for %q", alpaca.ErrNotFound, symbol)
		}
		return q, nil
	}
	q, err := b.client.GetLatestQuote(ctx, symbol, alpaca.LatestRequest{})
	if err != nil {
		return trading.Quote{}, err
	}
	return fromQuote(symbol, *q), nil
}

// RecentBars implements trading.Broker: the latest n one-minute bars of
// the week before the broker's clock (a week spans weekends and
// holidays), oldest first. The week is the broker's, not this machine's:
// a broker replaying history answers with the bars before its own time.
func (b *Broker) RecentBars(ctx context.Context, symbol string, n int) ([]trading.Bar, error) {
	if n <= 0 {
		return nil, nil
	}
	now := time.Now()
	if c, err := b.client.GetClock(ctx); err == nil && !c.Timestamp.IsZero() {
		now = c.Timestamp
	} else if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if trading.IsCrypto(symbol) {
		// Crypto trades around the clock: the last day holds n minutes.
		m, err := b.client.GetCryptoBars(ctx, []string{symbol}, alpaca.CryptoBarsRequest{TimeFrame: "1Min",
			CryptoRequest: alpaca.CryptoRequest{Start: now.Add(-24 * time.Hour), End: now, Limit: n, Sort: alpaca.Desc}})
		if err != nil {
			return nil, err
		}
		cb := m[symbol]
		out := make([]trading.Bar, len(cb))
		for i, br := range cb {
			out[len(cb)-1-i] = fromCryptoBar(symbol, br)
		}
		return out, nil
	}
	bars, err := b.client.GetBars(ctx, symbol, alpaca.BarsRequest{
		TimeFrame: "1Min",
		HistoricalRequest: alpaca.HistoricalRequest{
			Start: now.Add(-7 * 24 * time.Hour), End: now, Limit: n, Sort: alpaca.Desc,
		},
	})
	if err != nil {
		return nil, err
	}
	out := make([]trading.Bar, len(bars))
	for i, br := range bars {
		// Desc gives newest first; callers want time order.
		out[len(bars)-1-i] = fromBar(symbol, br)
	}
	return out, nil
}

func fromBar(symbol string, b alpaca.Bar) trading.Bar {
	return trading.Bar{
		Symbol: symbol, Time: b.Timestamp, Volume: float64(b.Volume),
		Open: decimal.NewFromFloat(b.Open), High: decimal.NewFromFloat(b.High),
		Low: decimal.NewFromFloat(b.Low), Close: decimal.NewFromFloat(b.Close),
	}
}

func fromCryptoBar(symbol string, b alpaca.CryptoBar) trading.Bar {
	return trading.Bar{
		Symbol: symbol, Time: b.Timestamp, Volume: b.Volume,
		Open: decimal.NewFromFloat(b.Open), High: decimal.NewFromFloat(b.High),
		Low: decimal.NewFromFloat(b.Low), Close: decimal.NewFromFloat(b.Close),
	}
}

// LatestQuotes implements trading.QuoteSource.
// Crypto pairs ("BTC/USD") are asked of the crypto endpoints, stocks of
// the stock ones, in one call each.
func (b *Broker) LatestQuotes(ctx context.Context, symbols []string) (map[string]trading.Quote, error) {
	stocks, crypto := splitCrypto(symbols)
	out := make(map[string]trading.Quote, len(symbols))
	if len(stocks) > 0 {
		qs, err := b.client.GetLatestQuotes(ctx, stocks, alpaca.LatestRequest{})
		if err != nil {
			return nil, err
		}
		for s, q := range qs {
			out[s] = fromQuote(s, q)
		}
	}
	if len(crypto) > 0 {
		qs, err := b.client.GetCryptoLatestQuotes(ctx, alpaca.CryptoUS, crypto)
		if err != nil {
			return nil, err
		}
		for s, q := range qs {
			out[s] = fromCryptoQuote(s, q)
		}
	}
	return out, nil
}

func splitCrypto(symbols []string) (stocks, crypto []string) {
	for _, s := range symbols {
		if trading.IsCrypto(s) {
			crypto = append(crypto, s)
		} else {
			stocks = append(stocks, s)
		}
	}
	return stocks, crypto
}

// StreamUpdates implements trading.Broker with the SSE trade-update
// stream, which resumes by event id after a dropped connection.
func (b *Broker) StreamUpdates(ctx context.Context, out chan<- trading.OrderUpdate) error {
	if b.firm != nil {
		return b.firm.follow(ctx, b.account, out)
	}
	send := func(ctx context.Context, u trading.OrderUpdate) error {
		select {
		case out <- u:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Updates go straight from the stream's reader into out: no
	// forwarding goroutine or second buffer per tenant.
	b.stream.connecting()
	opts := []stream.Option{
		stream.WithCredentials(b.cfg.KeyID, b.cfg.SecretKey),
		stream.WithConnectHandlers(b.stream.connected, b.stream.lost),
		stream.WithConnectFailedHandler(b.stream.lost),
		stream.WithTimeRange(time.Now().Add(-b.cfg.StreamLookback), time.Time{}),
		stream.WithTradeUpdateHandler(
			func(ctx context.Context, tu alpaca.TradeUpdate) error { return send(ctx, fromUpdate(tu)) },
			func(ctx context.Context) error { return send(ctx, trading.OrderUpdate{Resync: true}) }),
	}
	if b.cfg.Logger != nil {
		opts = append(opts, stream.WithLogger(b.cfg.Logger))
	}
	s, err := stream.NewTradeEvents(b.cfg.BaseURL, opts...)
	if err != nil {
		return fmt.Errorf("alpacabroker: %w", err)
	}
	err = s.Run(ctx)
	if ctx.Err() != nil {
		// Not followed any more is not down: a tenant in standby or
		// stopping has nothing to report.
		b.stream.connected()
		return ctx.Err()
	}
	if err == nil {
		err = errors.New("alpacabroker: trade update stream ended")
	}
	b.stream.lost(err)
	return err
}

// StreamProblem implements trading.StreamHealth.
func (b *Broker) StreamProblem() string { return b.stream.problem(time.Now()) }

func fromUpdate(tu alpaca.TradeUpdate) trading.OrderUpdate {
	u := trading.OrderUpdate{
		Event:       tu.Event,
		EventID:     tu.EventID,
		Time:        tu.At,
		Order:       fromOrder(&tu.Order),
		ExecutionID: tu.ExecutionID,
	}
	if tu.Timestamp != nil {
		u.Time = *tu.Timestamp
	}
	if tu.Qty != nil {
		u.Qty = *tu.Qty
	}
	if tu.Price != nil {
		u.Price = *tu.Price
	}
	return u
}

func fromOrder(o *alpaca.Order) trading.BrokerOrder {
	bo := trading.BrokerOrder{
		ID:            o.ID,
		ClientOrderID: o.ClientOrderID,
		Symbol:        o.Symbol,
		Side:          trading.Side(o.Side),
		Status:        trading.OrderStatus(o.Status),
		FilledQty:     o.FilledQty,
		UpdatedAt:     o.CreatedAt,
	}
	if !bo.Status.Valid() {
		// A status this build does not know: treat it as working, so the
		// sweep keeps asking until it becomes one we know.
		bo.Status = trading.StatusNew
	}
	bo.Qty, bo.FilledAvgPrice = dval(o.Qty), dval(o.FilledAvgPrice)
	bo.Type, bo.TimeInForce, bo.CreatedAt = trading.OrderType(o.Type), trading.TimeInForce(o.TimeInForce), o.CreatedAt
	if bo.Type == "" {
		bo.Type = trading.OrderType(o.OrderType)
	}
	bo.Notional, bo.LimitPrice, bo.StopPrice = dval(o.Notional), dval(o.LimitPrice), dval(o.StopPrice)
	bo.TrailPrice, bo.TrailPercent = dval(o.TrailPrice), dval(o.TrailPercent)
	if o.UpdatedAt != nil {
		bo.UpdatedAt = *o.UpdatedAt
	}
	return bo
}

func fromQuote(symbol string, q alpaca.Quote) trading.Quote {
	// Market data arrives as float64 on the wire; converting once here
	// keeps every calculation downstream in decimal.
	return trading.Quote{
		Symbol: symbol,
		Bid:    decimal.NewFromFloat(q.BidPrice),
		Ask:    decimal.NewFromFloat(q.AskPrice),
		Time:   q.Timestamp,
	}
}

func fromCryptoQuote(symbol string, q alpaca.CryptoQuote) trading.Quote {
	return trading.Quote{
		Symbol: symbol,
		Bid:    decimal.NewFromFloat(q.BidPrice),
		Ask:    decimal.NewFromFloat(q.AskPrice),
		Time:   q.Timestamp,
	}
}

func dptr(d decimal.Decimal) *decimal.Decimal {
	if d.IsZero() {
		return nil
	}
	return &d
}

// dval reads an optional decimal, zero when absent.
func dval(d *decimal.Decimal) decimal.Decimal {
	if d == nil {
		return decimal.Decimal{}
	}
	return *d
}
