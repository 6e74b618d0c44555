package alpaca

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxDataPageLimit is the largest page the market-data API serves.
const maxDataPageLimit = 10000

// Market-data feeds.
const (
	FeedSIP = "sip"
	FeedIEX = "iex"
	FeedOTC = "otc"
)

// HistoricalRequest selects a window of trades or quotes. Zero fields are
// not sent, so the server's defaults apply.
type HistoricalRequest struct {
	// Start and End bound the window (inclusive).
	Start, End time.Time
	// Limit caps the total number of items across all pages and symbols;
	// 0 fetches every page.
	Limit int
	// PageLimit is the page size (server default 1000, max 10000).
	PageLimit int
	// Sort is Asc (default) or Desc.
	Sort string
	// Feed is FeedSIP, FeedIEX, ...
	Feed string
	// AsOf maps renamed symbols as of this date ("YYYY-MM-DD", "-" to
	// disable).
	AsOf string
	// Currency is an ISO 4217 currency for prices (default USD).
	Currency string
}

// BarsRequest selects bars. Zero fields are not sent.
type BarsRequest struct {
	HistoricalRequest
	// TimeFrame is "1Min", "15Min", "1Hour", "1Day" (default), "1Week",
	// "1Month" and the like.
	TimeFrame string
	// Adjustment is "raw" (default), "split", "dividend" or "all".
	Adjustment string
	// OnPage, when set, receives each page as it arrives instead of the
	// pages being accumulated, so long windows need not fit in memory; the
	// returned map is then nil. A non-nil error stops paging and is
	// returned.
	OnPage func(page map[string][]Bar) error
}

// TradesRequest selects trades. Zero fields are not sent.
type TradesRequest struct {
	HistoricalRequest
	// OnPage works as in BarsRequest.
	OnPage func(page map[string][]Trade) error
}

// QuotesRequest selects quotes. Zero fields are not sent.
type QuotesRequest struct {
	HistoricalRequest
	// OnPage works as in BarsRequest.
	OnPage func(page map[string][]Quote) error
}

// LatestRequest selects the feed of latest-value and snapshot calls.
type LatestRequest struct {
	// Feed is FeedSIP, FeedIEX, ...; empty lets the server choose.
	Feed string
	// Currency is an ISO 4217 currency for prices (default USD).
	Currency string
}

// GetBars returns a symbol's bars, following next_page_token.
func (c *Client) GetBars(ctx context.Context, symbol string, req BarsRequest) ([]Bar, error) {
	m, err := c.GetMultiBars(ctx, []string{symbol}, req)
	return m[symbol], err
}

// GetMultiBars returns bars for several symbols (GET /v2/stocks/bars),
// following next_page_token until the window or req.Limit is exhausted.
func (c *Client) GetMultiBars(ctx context.Context, symbols []string, req BarsRequest) (map[string][]Bar, error) {
	q := req.HistoricalRequest.query(symbols)
	if req.TimeFrame != "" {
		q.Set("timeframe", req.TimeFrame)
	} else {
		q.Set("timeframe", "1Day") // required by the server
	}
	setNonEmpty(q, "adjustment", req.Adjustment)
	return fetchPages(ctx, c, "/v2/stocks/bars", "/v2/stocks/bars", q, req.Limit, req.PageLimit, func(p *dataPage[Bar]) map[string][]Bar { return p.Bars }, req.OnPage)
}

// GetTrades returns a symbol's trades, following next_page_token.
func (c *Client) GetTrades(ctx context.Context, symbol string, req TradesRequest) ([]Trade, error) {
	m, err := c.GetMultiTrades(ctx, []string{symbol}, req)
	return m[symbol], err
}

// GetMultiTrades returns trades for several symbols (GET
// /v2/stocks/trades), following next_page_token.
func (c *Client) GetMultiTrades(ctx context.Context, symbols []string, req TradesRequest) (map[string][]Trade, error) {
	q := req.HistoricalRequest.query(symbols)
	return fetchPages(ctx, c, "/v2/stocks/trades", "/v2/stocks/trades", q, req.Limit, req.PageLimit, func(p *dataPage[Trade]) map[string][]Trade { return p.Trades }, req.OnPage)
}

// GetQuotes returns a symbol's quotes, following next_page_token.
func (c *Client) GetQuotes(ctx context.Context, symbol string, req QuotesRequest) ([]Quote, error) {
	m, err := c.GetMultiQuotes(ctx, []string{symbol}, req)
	return m[symbol], err
}

// GetMultiQuotes returns quotes for several symbols (GET
// /v2/stocks/quotes), following next_page_token.
func (c *Client) GetMultiQuotes(ctx context.Context, symbols []string, req QuotesRequest) (map[string][]Quote, error) {
	q := req.HistoricalRequest.query(symbols)
	return fetchPages(ctx, c, "/v2/stocks/quotes", "/v2/stocks/quotes", q, req.Limit, req.PageLimit, func(p *dataPage[Quote]) map[string][]Quote { return p.Quotes }, req.OnPage)
}

func (r *HistoricalRequest) query(symbols []string) url.Values {
	q := url.Values{}
	q.Set("symbols", strings.Join(symbols, ","))
	setTime(q, "start", r.Start)
	setTime(q, "end", r.End)
	setNonEmpty(q, "sort", r.Sort)
	setNonEmpty(q, "feed", r.Feed)
	setNonEmpty(q, "asof", r.AsOf)
	setNonEmpty(q, "currency", r.Currency)
	return q
}

// dataPage is one page of any multi-symbol historical endpoint; only the
// field named after the endpoint is present.
type dataPage[T any] struct {
	Bars          map[string][]T `json:"bars"`
	Trades        map[string][]T `json:"trades"`
	Quotes        map[string][]T `json:"quotes"`
	NextPageToken *string        `json:"next_page_token"`
}

func fetchPages[T any](ctx context.Context, c *Client, route, path string, q url.Values, total, pageLimit int,
	items func(*dataPage[T]) map[string][]T, onPage func(map[string][]T) error) (map[string][]T, error) {
	if pageLimit <= 0 || pageLimit > maxDataPageLimit {
		pageLimit = 0
	}
	var out map[string][]T
	if onPage == nil {
		out = make(map[string][]T)
	}
	received := 0
	for {
		limit := pageLimit
		if total > 0 {
			left := total - received
			if limit == 0 || left < limit {
				limit = min(left, maxDataPageLimit)
			}
		}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		var page dataPage[T]
		if err := c.getData(ctx, route, path, q, &page); err != nil {
			return out, err
		}
		got := items(&page)
		for _, v := range got {
			received += len(v)
		}
		if onPage != nil {
			if len(got) > 0 {
				if err := onPage(got); err != nil {
					return nil, err
				}
			}
		} else {
			for sym, v := range got {
				out[sym] = append(out[sym], v...)
			}
		}
		if page.NextPageToken == nil || *page.NextPageToken == "" || (total > 0 && received >= total) {
			return out, nil
		}
		q.Set("page_token", *page.NextPageToken)
	}
}

// latest is the body of the latest-bar/trade/quote endpoints.
type latest[T any] struct {
	Bars   map[string]T `json:"bars"`
	Trades map[string]T `json:"trades"`
	Quotes map[string]T `json:"quotes"`
}

func (r *LatestRequest) query(symbols []string) url.Values {
	q := url.Values{"symbols": {strings.Join(symbols, ",")}}
	setNonEmpty(q, "feed", r.Feed)
	setNonEmpty(q, "currency", r.Currency)
	return q
}

// GetLatestBars returns each symbol's latest minute bar (GET
// /v2/stocks/bars/latest).
func (c *Client) GetLatestBars(ctx context.Context, symbols []string, req LatestRequest) (map[string]Bar, error) {
	var l latest[Bar]
	if err := c.getData(ctx, "/v2/stocks/bars/latest", "/v2/stocks/bars/latest", req.query(symbols), &l); err != nil {
		return nil, err
	}
	return l.Bars, nil
}

// GetLatestTrades returns each symbol's latest trade (GET
// /v2/stocks/trades/latest).
func (c *Client) GetLatestTrades(ctx context.Context, symbols []string, req LatestRequest) (map[string]Trade, error) {
	var l latest[Trade]
	if err := c.getData(ctx, "/v2/stocks/trades/latest", "/v2/stocks/trades/latest", req.query(symbols), &l); err != nil {
		return nil, err
	}
	return l.Trades, nil
}

// GetLatestQuotes returns each symbol's latest quote (GET
// /v2/stocks/quotes/latest).
func (c *Client) GetLatestQuotes(ctx context.Context, symbols []string, req LatestRequest) (map[string]Quote, error) {
	var l latest[Quote]
	if err := c.getData(ctx, "/v2/stocks/quotes/latest", "/v2/stocks/quotes/latest", req.query(symbols), &l); err != nil {
		return nil, err
	}
	return l.Quotes, nil
}

// The single-symbol variants use the multi-symbol endpoints, which every
// Alpaca-compatible server serves, and report a symbol without data as
// ErrNotFound.

// GetLatestBar returns a symbol's latest minute bar.
func (c *Client) GetLatestBar(ctx context.Context, symbol string, req LatestRequest) (*Bar, error) {
	m, err := c.GetLatestBars(ctx, []string{symbol}, req)
	return pick(m, symbol, "bar", err)
}

// GetLatestTrade returns a symbol's latest trade.
func (c *Client) GetLatestTrade(ctx context.Context, symbol string, req LatestRequest) (*Trade, error) {
	m, err := c.GetLatestTrades(ctx, []string{symbol}, req)
	return pick(m, symbol, "trade", err)
}

// GetLatestQuote returns a symbol's latest quote.
func (c *Client) GetLatestQuote(ctx context.Context, symbol string, req LatestRequest) (*Quote, error) {
	m, err := c.GetLatestQuotes(ctx, []string{symbol}, req)
	return pick(m, symbol, "quote", err)
}

func pick[T any](m map[string]T, symbol, what string, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	v, ok := m[symbol]
	if !ok {
		return nil, fmt.Errorf("%w: no latest %s for %q", ErrNotFound, what, symbol)
	}
	return &v, nil
}

// GetSnapshots returns each symbol's snapshot (GET /v2/stocks/snapshots);
// symbols without data are absent or nil.
func (c *Client) GetSnapshots(ctx context.Context, symbols []string, req LatestRequest) (map[string]*Snapshot, error) {
	var m map[string]*Snapshot
	if err := c.getData(ctx, "/v2/stocks/snapshots", "/v2/stocks/snapshots", req.query(symbols), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// GetSnapshot returns a symbol's snapshot.
func (c *Client) GetSnapshot(ctx context.Context, symbol string, req LatestRequest) (*Snapshot, error) {
	m, err := c.GetSnapshots(ctx, []string{symbol}, req)
	if err != nil {
		return nil, err
	}
	if s := m[symbol]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: no snapshot for %q", ErrNotFound, symbol)
}
