package alpaca

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// CryptoUS is the location of Alpaca's US crypto market data, the only
// one today (`/v1beta3/crypto/us/...`).
const CryptoUS = "us"

// Crypto sizes are fractional (0.0042 BTC), so the crypto types carry
// float64 sizes and volumes where the stock types carry integers.

// CryptoBar is an aggregate of crypto trades over a time frame.
type CryptoBar struct {
	Timestamp  time.Time `json:"t"`
	Open       float64   `json:"o"`
	High       float64   `json:"h"`
	Low        float64   `json:"l"`
	Close      float64   `json:"c"`
	Volume     float64   `json:"v"`
	TradeCount uint64    `json:"n"`
	VWAP       float64   `json:"vw"`
}

// CryptoTrade is one crypto trade.
type CryptoTrade struct {
	Timestamp time.Time `json:"t"`
	Price     float64   `json:"p"`
	Size      float64   `json:"s"`
	ID        int64     `json:"i"`
	// TakerSide is "B" (the buyer took liquidity) or "S".
	TakerSide string `json:"tks"`
}

// CryptoQuote is a crypto pair's best bid and offer.
type CryptoQuote struct {
	Timestamp time.Time `json:"t"`
	BidPrice  float64   `json:"bp"`
	BidSize   float64   `json:"bs"`
	AskPrice  float64   `json:"ap"`
	AskSize   float64   `json:"as"`
}

// CryptoOrderbookEntry is one price level of an order book.
type CryptoOrderbookEntry struct {
	Price float64 `json:"p"`
	Size  float64 `json:"s"`
}

// CryptoOrderbook is a crypto pair's order book: bids best (highest)
// first, asks best (lowest) first.
//
// A REST answer is always a whole book. On the crypto stream a book
// with Reset is a whole book too, which replaces what the subscriber
// held; one without Reset is an update: each level replaces the one at
// its price, and a level of size 0 removes it.
type CryptoOrderbook struct {
	Timestamp time.Time              `json:"t"`
	Bids      []CryptoOrderbookEntry `json:"b"`
	Asks      []CryptoOrderbookEntry `json:"a"`
	Reset     bool                   `json:"r,omitempty"`
}

// CryptoSnapshot is a crypto pair's latest trade and quote and its
// current minute, day and previous day bars.
type CryptoSnapshot struct {
	LatestTrade  *CryptoTrade `json:"latestTrade"`
	LatestQuote  *CryptoQuote `json:"latestQuote"`
	MinuteBar    *CryptoBar   `json:"minuteBar"`
	DailyBar     *CryptoBar   `json:"dailyBar"`
	PrevDailyBar *CryptoBar   `json:"prevDailyBar"`
}

// CryptoRequest selects a window of crypto data. Zero fields are not sent.
type CryptoRequest struct {
	// Loc is the data location; default CryptoUS.
	Loc string
	// Start and End bound the window (inclusive).
	Start, End time.Time
	// Limit caps the total number of items across all pages and symbols;
	// 0 fetches every page.
	Limit int
	// PageLimit is the page size (server default 1000, max 10000).
	PageLimit int
	// Sort is Asc (default) or Desc.
	Sort string
}

// CryptoBarsRequest selects crypto bars.
type CryptoBarsRequest struct {
	CryptoRequest
	// TimeFrame is "1Min" (default here), "5Min", "1Hour", "1Day", ...
	TimeFrame string
	// OnPage works as in BarsRequest.
	OnPage func(page map[string][]CryptoBar) error
}

// CryptoTradesRequest selects crypto trades.
type CryptoTradesRequest struct {
	CryptoRequest
	// OnPage works as in BarsRequest.
	OnPage func(page map[string][]CryptoTrade) error
}

// CryptoQuotesRequest selects crypto quotes.
type CryptoQuotesRequest struct {
	CryptoRequest
	// OnPage works as in BarsRequest.
	OnPage func(page map[string][]CryptoQuote) error
}

// cryptoPath returns the route template and the path of a crypto data
// endpoint at loc.
func cryptoPath(loc, endpoint string) (route, path string) {
	if loc == "" {
		loc = CryptoUS
	}
	return "/v1beta3/crypto/{loc}/" + endpoint, "/v1beta3/crypto/" + url.PathEscape(loc) + "/" + endpoint
}

func (r *CryptoRequest) query(symbols []string) url.Values {
	q := url.Values{}
	q.Set("symbols", strings.Join(symbols, ","))
	setTime(q, "start", r.Start)
	setTime(q, "end", r.End)
	setNonEmpty(q, "sort", r.Sort)
	return q
}

// GetCryptoBars returns bars for crypto pairs ("BTC/USD"), following
// next_page_token (GET /v1beta3/crypto/{loc}/bars).
func (c *Client) GetCryptoBars(ctx context.Context, symbols []string, req CryptoBarsRequest) (map[string][]CryptoBar, error) {
	q := req.query(symbols)
	if req.TimeFrame != "" {
		q.Set("timeframe", req.TimeFrame)
	} else {
		q.Set("timeframe", "1Min")
	}
	route, path := cryptoPath(req.Loc, "bars")
	return fetchPages(ctx, c, route, path, q, req.Limit, req.PageLimit, func(p *dataPage[CryptoBar]) map[string][]CryptoBar { return p.Bars }, req.OnPage)
}

// GetCryptoTrades returns trades for crypto pairs, following
// next_page_token (GET /v1beta3/crypto/{loc}/trades).
func (c *Client) GetCryptoTrades(ctx context.Context, symbols []string, req CryptoTradesRequest) (map[string][]CryptoTrade, error) {
	route, path := cryptoPath(req.Loc, "trades")
	return fetchPages(ctx, c, route, path, req.query(symbols), req.Limit, req.PageLimit, func(p *dataPage[CryptoTrade]) map[string][]CryptoTrade { return p.Trades }, req.OnPage)
}

// GetCryptoQuotes returns quotes for crypto pairs, following
// next_page_token (GET /v1beta3/crypto/{loc}/quotes).
func (c *Client) GetCryptoQuotes(ctx context.Context, symbols []string, req CryptoQuotesRequest) (map[string][]CryptoQuote, error) {
	route, path := cryptoPath(req.Loc, "quotes")
	return fetchPages(ctx, c, route, path, req.query(symbols), req.Limit, req.PageLimit, func(p *dataPage[CryptoQuote]) map[string][]CryptoQuote { return p.Quotes }, req.OnPage)
}

// cryptoLatest is the body of the crypto latest-value endpoints; only the
// field named after the endpoint is present.
type cryptoLatest struct {
	Bars       map[string]CryptoBar       `json:"bars"`
	Trades     map[string]CryptoTrade     `json:"trades"`
	Quotes     map[string]CryptoQuote     `json:"quotes"`
	Orderbooks map[string]CryptoOrderbook `json:"orderbooks"`
	Snapshots  map[string]*CryptoSnapshot `json:"snapshots"`
}

func (c *Client) cryptoLatest(ctx context.Context, loc, endpoint string, symbols []string) (*cryptoLatest, error) {
	if len(symbols) == 0 {
		return nil, fmt.Errorf("%w: no symbols", ErrValidation)
	}
	route, path := cryptoPath(loc, endpoint)
	var l cryptoLatest
	if err := c.getData(ctx, route, path, url.Values{"symbols": {strings.Join(symbols, ",")}}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// GetCryptoLatestBars returns each pair's latest minute bar at loc (""
// for CryptoUS).
func (c *Client) GetCryptoLatestBars(ctx context.Context, loc string, symbols []string) (map[string]CryptoBar, error) {
	l, err := c.cryptoLatest(ctx, loc, "latest/bars", symbols)
	if err != nil {
		return nil, err
	}
	return l.Bars, nil
}

// GetCryptoLatestTrades returns each pair's latest trade.
func (c *Client) GetCryptoLatestTrades(ctx context.Context, loc string, symbols []string) (map[string]CryptoTrade, error) {
	l, err := c.cryptoLatest(ctx, loc, "latest/trades", symbols)
	if err != nil {
		return nil, err
	}
	return l.Trades, nil
}

// GetCryptoLatestQuotes returns each pair's latest quote.
func (c *Client) GetCryptoLatestQuotes(ctx context.Context, loc string, symbols []string) (map[string]CryptoQuote, error) {
	l, err := c.cryptoLatest(ctx, loc, "latest/quotes", symbols)
	if err != nil {
		return nil, err
	}
	return l.Quotes, nil
}

// GetCryptoLatestOrderbooks returns each pair's latest order book.
func (c *Client) GetCryptoLatestOrderbooks(ctx context.Context, loc string, symbols []string) (map[string]CryptoOrderbook, error) {
	l, err := c.cryptoLatest(ctx, loc, "latest/orderbooks", symbols)
	if err != nil {
		return nil, err
	}
	return l.Orderbooks, nil
}

// GetCryptoSnapshots returns each pair's snapshot; pairs without data
// are absent or nil.
func (c *Client) GetCryptoSnapshots(ctx context.Context, loc string, symbols []string) (map[string]*CryptoSnapshot, error) {
	l, err := c.cryptoLatest(ctx, loc, "snapshots", symbols)
	if err != nil {
		return nil, err
	}
	return l.Snapshots, nil
}
