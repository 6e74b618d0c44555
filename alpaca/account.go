package alpaca

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GetAccount returns the trading account (GET /v2/account).
func (c *Client) GetAccount(ctx context.Context) (*Account, error) {
	var a Account
	if err := c.get(ctx, "/v2/account", "/v2/account", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// GetAccountConfigurations returns the account's trading settings (GET
// /v2/account/configurations).
func (c *Client) GetAccountConfigurations(ctx context.Context) (*AccountConfigurations, error) {
	var a AccountConfigurations
	if err := c.get(ctx, "/v2/account/configurations", "/v2/account/configurations", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAccountConfigurations changes the settings that patch sets and
// returns the result (PATCH /v2/account/configurations). Setting values is
// idempotent, so it is retried like a read.
func (c *Client) UpdateAccountConfigurations(ctx context.Context, patch AccountConfigurationsPatch) (*AccountConfigurations, error) {
	var a AccountConfigurations
	if _, err := c.send(ctx, http.MethodPatch, "/v2/account/configurations", "/v2/account/configurations",
		nil, &patch, &a, true); err != nil {
		return nil, err
	}
	return &a, nil
}

// ActivitiesRequest filters account activities. Zero fields are not sent.
type ActivitiesRequest struct {
	// ActivityTypes restricts the list (for example "FILL", "DIV"); only
	// for GetAccountActivities.
	ActivityTypes []string
	// Category is "trade_activity" or "non_trade_activity"; it excludes
	// ActivityTypes.
	Category string
	// Date selects one day (excludes After and Until).
	Date time.Time
	// After and Until bound the activity time.
	After, Until time.Time
	// Direction is Asc or Desc (server default Desc).
	Direction string
	// PageSize is 1 to 100 (server default 100).
	PageSize int
	// PageToken is the ID of the last activity of the previous page.
	PageToken string
}

func (r *ActivitiesRequest) query(withTypes bool) url.Values {
	q := url.Values{}
	if withTypes && len(r.ActivityTypes) > 0 {
		q.Set("activity_types", strings.Join(r.ActivityTypes, ","))
	}
	setNonEmpty(q, "category", r.Category)
	if !r.Date.IsZero() {
		q.Set("date", formatDate(r.Date))
	}
	setTime(q, "after", r.After)
	setTime(q, "until", r.Until)
	setNonEmpty(q, "direction", r.Direction)
	if r.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(r.PageSize))
	}
	setNonEmpty(q, "page_token", r.PageToken)
	return q
}

// GetAccountActivities lists account activities of all or the requested
// types (GET /v2/account/activities). Page with PageToken.
func (c *Client) GetAccountActivities(ctx context.Context, req ActivitiesRequest) ([]Activity, error) {
	var out []Activity
	if err := c.get(ctx, "/v2/account/activities", "/v2/account/activities", req.query(true), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetAccountActivitiesByType lists activities of one type (GET
// /v2/account/activities/{activity_type}); req.ActivityTypes is ignored.
func (c *Client) GetAccountActivitiesByType(ctx context.Context, activityType string, req ActivitiesRequest) ([]Activity, error) {
	var out []Activity
	if err := c.get(ctx, "/v2/account/activities/{activity_type}", "/v2/account/activities/"+seg(activityType),
		req.query(false), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PortfolioHistoryRequest selects the window of GetPortfolioHistory. Zero
// fields are not sent; Alpaca accepts at most two of Period, Start, End.
type PortfolioHistoryRequest struct {
	// Period is "<n>D", "<n>W", "<n>M" or "<n>A" (server default 1M).
	Period string
	// Timeframe is "1Min", "5Min", "15Min", "1H" or "1D".
	Timeframe string
	// Start and End bound the window.
	Start, End time.Time
	// IntradayReporting is "market_hours", "extended_hours" or
	// "continuous".
	IntradayReporting string
	// PnLReset is "per_day" or "no_reset".
	PnLReset string
	// CashflowTypes is "ALL", "NONE" or a comma list of activity types.
	CashflowTypes string
}

// GetPortfolioHistory returns the account's equity and P&L series (GET
// /v2/account/portfolio/history).
func (c *Client) GetPortfolioHistory(ctx context.Context, req PortfolioHistoryRequest) (*PortfolioHistory, error) {
	q := url.Values{}
	setNonEmpty(q, "period", req.Period)
	setNonEmpty(q, "timeframe", req.Timeframe)
	setTime(q, "start", req.Start)
	setTime(q, "end", req.End)
	setNonEmpty(q, "intraday_reporting", req.IntradayReporting)
	setNonEmpty(q, "pnl_reset", req.PnLReset)
	setNonEmpty(q, "cashflow_types", req.CashflowTypes)
	var h PortfolioHistory
	if err := c.get(ctx, "/v2/account/portfolio/history", "/v2/account/portfolio/history", q, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
