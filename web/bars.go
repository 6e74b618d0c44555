package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// BarReader is a Fleet that can fetch a symbol's recent minute bars
// through a tenant's own broker client (*engine.Engine is one), so that
// the dashboard's price chart shows the market and not only the tenant's
// fills. Each request spends one call of that tenant's rate limit.
type BarReader interface {
	RecentBars(ctx context.Context, id trading.TenantID, symbol string, n int) ([]trading.Bar, error)
}

// Bounds of ?limit on the bars route: a trading day of minutes by
// default, and no more than the broker answers in one page.
const (
	barsDefaultLimit = 390
	barsMaxLimit     = 1000
	barsTimeout      = 10 * time.Second
)

// BarV1 is one minute bar as /api/v1 shows it.
type BarV1 struct {
	Time   time.Time `json:"time"`
	Open   string    `json:"open"`
	High   string    `json:"high"`
	Low    string    `json:"low"`
	Close  string    `json:"close"`
	Volume float64   `json:"volume"` // fractional for crypto
}

func (a *OpsAPI) barsV1(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	symbol := strings.ToUpper(strings.TrimSpace(q.Get("symbol")))
	if !validSymbol(symbol) {
		writeError(w, trading.Errorf(trading.EINVALID, "symbol is required: a ticker such as AAPL, BRK.B or BTC/USD."))
		return
	}
	limit, err := queryLimit(q, barsDefaultLimit, barsMaxLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	br, ok := a.fleet.(BarReader)
	if !ok {
		writeError(w, trading.Errorf(trading.EUNAVAILABLE, "This engine has no market data to chart."))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), barsTimeout)
	defer cancel()
	bars, err := br.RecentBars(ctx, id, symbol, limit)
	if err != nil {
		// The broker's failure, not the request's: say so, as a 503.
		if trading.ErrorCode(err) != trading.EINVALID && trading.ErrorCode(err) != trading.ENOTFOUND {
			err = trading.Errorf(trading.EUNAVAILABLE, "The broker did not answer for %s's bars: %s", symbol, trading.ErrorMessage(err))
		}
		writeError(w, err)
		return
	}
	out := make([]BarV1, len(bars))
	for i, b := range bars {
		out[i] = BarV1{Time: b.Time, Open: formatPrice(b.Open), High: formatPrice(b.High), Low: formatPrice(b.Low),
			Close: formatPrice(b.Close), Volume: b.Volume}
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbol": symbol, "bars": out})
}

// validSymbol accepts stock tickers (with a class suffix) and crypto
// pairs; anything else never reaches the broker.
func validSymbol(s string) bool {
	if s == "" || len(s) > 21 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}
