package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/bars"
	"github.com/quantum-alpaca/quantum/internal/clitest"
)

// parityOrder is what the parity test compares of an order.
type parityOrder struct {
	ClientOrderID, Symbol, Side, Qty, Type, Limit string
}

func (o parityOrder) String() string {
	return fmt.Sprintf("%s %s %s %s %s limit=%s", o.ClientOrderID, o.Symbol, o.Side, o.Qty, o.Type, o.Limit)
}

// TestBacktestParity: the same strategy over the same recorded minutes
// places the same orders (client order id, symbol, side, qty, type, limit,
// in the same order) in `quantum backtest --data DIR` as in `quantum run`
// against `quantum broker --bars DIR --step`, stepped one minute at a time.
//
// Partial fills are off on both sides: with them the order a tenant sees
// a late fill and the next bar in is a race between two connections live,
// which no backtest can reproduce (docs/strategies.md says so).
func TestBacktestParity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the broker, the engine and a backtest as processes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := quantumBinary(t)
	dir := t.TempDir()

	// 150 minutes of one symbol from the open of 2 January 2024: a wave
	// with a little deterministic noise, so the averages cross often.
	const minutes = 150
	open := time.Date(2024, 1, 2, 14, 30, 0, 0, time.UTC)
	data := filepath.Join(dir, "bars")
	store, err := bars.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]bars.Bar, minutes)
	for k := range rec {
		c := 100 + 1.5*math.Sin(float64(k)/5) + 0.3*math.Sin(float64(k)*1.7)
		c = math.Round(c*100) / 100
		rec[k] = bars.Bar{Time: open.Add(time.Duration(k) * time.Minute), Open: c, High: c + 0.05, Low: c - 0.05, Close: c, Volume: 1000}
	}
	day, err := bars.ParseDay("2024-01-02")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Write("AAPL", "1Min", day, rec); err != nil {
		t.Fatal(err)
	}
	// The last half hour of the session before, which neither side
	// replays: both warm the averages up on it (live through the broker's
	// bar history before its clock, the backtest from the data before
	// --from), so the first minute can already trade.
	prevClose := time.Date(2023, 12, 29, 21, 0, 0, 0, time.UTC)
	warm := make([]bars.Bar, 30)
	for k := range warm {
		c := 99 + float64(k%7)*0.1
		warm[k] = bars.Bar{Time: prevClose.Add(time.Duration(k-30) * time.Minute), Open: c, High: c + 0.05, Low: c - 0.05, Close: c, Volume: 1000}
	}
	prevDay, err := bars.ParseDay("2023-12-29")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Write("AAPL", "1Min", prevDay, warm); err != nil {
		t.Fatal(err)
	}

	// Live: the broker replays the bars on a stepped clock.
	broker, brokerURL := startBroker(ctx, t, bin, "--bars", data, "--from", open.Format(time.RFC3339), "--step", "--market", "nyse", "--partial-fill-rate", "0")
	defer broker.stop(t)
	key, secret := fmt.Sprintf("PKPARITY%d", time.Now().UnixNano()), "parity-secret-0123456789"
	cfg := fmt.Sprintf(`broker: %s
rate_limit: 0
tenants:
  - {id: par, key_id: %s, secret: %s, strategy: macross, params: {symbol: AAPL, qty: 10, fast: 3, slow: 8, sample: bar}}
`, brokerURL, key, secret)
	cfgPath := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	eng := startProc(ctx, t, bin, "run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	api := eng.waitFor(t, clitest.OpsAPIRE, 20*time.Second)
	client, err := alpaca.New(brokerURL, alpaca.WithCredentials(key, secret), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}

	// A bar published before the engine subscribed is not sent again.
	waitUntil(t, "the engine to subscribe to AAPL bars", func() bool {
		var s struct{ Subscriptions map[string][]string }
		return simGet(ctx, t, brokerURL, key, secret, "/sim/v1/streams", &s) && slices.Contains(s.Subscriptions["bars"], "AAPL")
	})
	for k := range minutes {
		simPost(ctx, t, brokerURL, key, secret, "/sim/v1/clock", `{"advance":"1m"}`)
		// The bar that just ended has been handled, and every order it
		// led to has been filled, before the next minute.
		want := rec[k].Time
		waitUntil(t, fmt.Sprintf("the engine to handle the %s bar", want.Format("15:04")), func() bool {
			ti := tenantInfo(t, api, "par")
			return ti.LastBar != nil && !ti.LastBar.Before(want) && ti.OpenOrders == 0
		})
	}
	live, err := listAll(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	// Client order ids end in the tenant's sequence number: placing order.
	slices.SortFunc(live, func(a, b alpaca.Order) int { return cmp.Compare(seqOf(a.ClientOrderID), seqOf(b.ClientOrderID)) })
	var got []parityOrder
	for _, o := range live {
		got = append(got, parityOrder{o.ClientOrderID, o.Symbol, string(o.Side), decString(o.Qty), string(o.Type), decString(o.LimitPrice)})
	}

	// Backtest: the same config and bars, in process.
	report := filepath.Join(dir, "report")
	bt := startProc(ctx, t, bin, "backtest", "--config", cfgPath, "--data", data, "--from", "2024-01-02", "--to", "2024-01-03",
		"--partial-fill-rate", "0", "--report", report)
	if err := bt.wait(5 * time.Minute); err != nil {
		t.Fatalf("backtest: %v\n%s", err, bt.output())
	}
	want := readOrdersCSV(t, filepath.Join(report, "par", "orders.csv"))

	// Cold, the slow average needs 8 bars and then a crossover; warm, the
	// wave's first rise crosses at once. An early first order shows the
	// warm-up happened (on both sides, as the orders are compared).
	if len(live) == 0 || !live[0].CreatedAt.Before(open.Add(5*time.Minute)) {
		t.Errorf("no order in the first 5 minutes: the strategy did not warm up on the bars before the replay")
	}
	if len(want) < 4 {
		t.Fatalf("the backtest placed %d orders: too few crossovers for the test to mean anything", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("live and backtest orders differ:\nlive (%d):\n  %s\nbacktest (%d):\n  %s\nengine log:\n%s",
			len(got), joinOrders(got), len(want), joinOrders(want), eng.output())
	}
	t.Logf("%d orders, the same live and in the backtest", len(got))
}

func decString(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func seqOf(clientOrderID string) int {
	n, _ := strconv.Atoi(clientOrderID[strings.LastIndexByte(clientOrderID, '-')+1:])
	return n
}

func joinOrders(os []parityOrder) string {
	s := make([]string, len(os))
	for i, o := range os {
		s[i] = o.String()
	}
	return strings.Join(s, "\n  ")
}

// readOrdersCSV reads a backtest report's orders.csv.
func readOrdersCSV(t *testing.T, path string) []parityOrder {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: empty", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"client_order_id", "symbol", "side", "qty", "type", "limit_price"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("%s: no %s column in %v", path, h, rows[0])
		}
	}
	var out []parityOrder
	for _, r := range rows[1:] {
		out = append(out, parityOrder{r[col["client_order_id"]], r[col["symbol"]], r[col["side"]], r[col["qty"]], r[col["type"]], r[col["limit_price"]]})
	}
	return out
}

// simGet GETs a simulator-only route with an account's keys and decodes
// a 200 answer into v.
func simGet(ctx context.Context, t *testing.T, base, key, secret, path string, v any) bool {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	req.Header.Set("APCA-API-KEY-ID", key)
	req.Header.Set("APCA-API-SECRET-KEY", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(v) == nil
}

// simPost POSTs body to a simulator-only route and fails the test unless
// it answers 200.
func simPost(ctx context.Context, t *testing.T, base, key, secret, path, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("APCA-API-KEY-ID", key)
	req.Header.Set("APCA-API-SECRET-KEY", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s %s: %d %s", path, body, resp.StatusCode, msg)
	}
}
