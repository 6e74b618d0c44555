package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/trading"
)

var t0 = time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func points(vs ...float64) []backtest.Point {
	out := make([]backtest.Point, len(vs))
	for i, v := range vs {
		out[i] = backtest.Point{Time: minute(i), Value: v}
	}
	return out
}

func order(id, sym string, side trading.Side, typ trading.OrderType, qty, limit string, st trading.OrderStatus, filled, avg string) trading.OrderState {
	o := trading.OrderState{
		Intent: trading.Intent{
			Tenant: "alpha", ClientOrderID: id, Symbol: sym, Side: side, Type: typ, TimeInForce: trading.Day,
			Qty: decimal.RequireFromString(qty), CreatedAt: minute(1), Reason: "fast crossed slow",
		},
		Status: st, FilledQty: decimal.RequireFromString(filled), UpdatedAt: minute(2),
	}
	if limit != "" {
		o.Intent.LimitPrice = decimal.RequireFromString(limit)
	}
	if avg != "" {
		o.FilledAvgPrice = decimal.RequireFromString(avg)
	}
	return o
}

func fill(n int, id, sym string, side trading.Side, qty, price string) backtest.Fill {
	return backtest.Fill{Time: minute(n), ClientOrderID: id, Symbol: sym, Side: side, Qty: decimal.RequireFromString(qty), Price: decimal.RequireFromString(price)}
}

// fixture is a hand-made result: alpha traded two symbols, beta stopped
// at once with an error that needs escaping.
func fixture() *backtest.Result {
	return &backtest.Result{
		Bars: 1950, ElapsedMS: 1234, BarsPerSec: 1580,
		Prices: map[string][]backtest.Point{
			"AAPL": points(150, 150.5, 151, 151.75, 151.2),
			"MSFT": points(400, 401, 399.5),
			"ZZZ":  points(10, 11),
		},
		Tenants: []backtest.TenantResult{
			{
				ID: "alpha", Strategy: "macross", Orders: 3, Fills: 3, RiskRejections: 1,
				StartEquity: 100000, EndEquity: 112345.6, ReturnPct: 12.3456, MaxDrawdownPct: 3.21,
				Sharpe: 1.5, Sortino: 2.25, WinRate: 66.6667, ExposurePct: 40.5, Fees: 1.23,
				Equity: points(100000, 101000, 99500, 105000, 112345.6),
				OrderList: []trading.OrderState{
					order("alpha-1", "AAPL", trading.Buy, trading.Limit, "10", "150.5", trading.StatusFilled, "10", "150.25"),
					order("alpha-2", "AAPL", trading.Sell, trading.Market, "10", "", trading.StatusFilled, "10", "151.5"),
					order("alpha-3", "MSFT", trading.Buy, trading.Market, "2", "", trading.StatusFilled, "2", "400"),
				},
				FillList: []backtest.Fill{
					fill(1, "alpha-1", "AAPL", trading.Buy, "10", "150.25"),
					fill(3, "alpha-2", "AAPL", trading.Sell, "10", "151.5"),
					fill(2, "alpha-3", "MSFT", trading.Buy, "2", "400"),
				},
			},
			{ID: "beta", Strategy: `dca "v2" <b>`, StartEquity: 100000, EndEquity: 100000, Error: `broker said <script>alert(1)</script> & left`},
		},
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(read(t, path))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// wellFormed parses the page as XML, which the template keeps it (void
// elements self-closed, no named entities) so that a strict parser can
// check every element is closed and nested; it returns how many of each
// element there are.
func wellFormed(t *testing.T, page []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	counts := map[string]int{}
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("index.html is not well-formed: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			counts[e.Name.Local]++
			if e.Name.Local == "title" && slices.Contains(stack, "svg") {
				counts["svg/title"]++
			}
			stack = append(stack, e.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return counts
}

func selfContained(t *testing.T, page string) {
	t.Helper()
	for _, s := range []string{"http://", "https://", "<script", "<link", "src=", "url(", "@import"} {
		if strings.Contains(page, s) {
			t.Errorf("index.html contains %q; it must work offline", s)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "report")
	meta := Meta{Title: "Week of March 3", Source: "synthetic market, seed 1", Config: "examples/config.yaml", From: t0, To: t0.AddDate(0, 0, 7)}
	if err := Write(dir, fixture(), meta); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "alpha/orders.csv", "alpha/fills.csv", "beta/orders.csv", "beta/fills.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	raw := read(t, filepath.Join(dir, "index.html"))
	page := string(raw)
	counts := wellFormed(t, raw)
	selfContained(t, page)
	// alpha: equity, drawdown, AAPL and MSFT (ZZZ was not traded); beta
	// has no samples and no trades.
	if counts["svg"] != 4 || counts["svg/title"] < 4 {
		t.Errorf("%d charts with %d titles, want 4 charts, each titled", counts["svg"], counts["svg/title"])
	}
	for _, want := range []string{
		"<title>Week of March 3</title>", "synthetic market, seed 1", "examples/config.yaml", "2025-03-03 14:30 UTC to 2025-03-10 14:30 UTC",
		"1,950 bars in 1,234 ms (1,580 bars/s)",
		`id="t1"`, ">alpha<", "macross", ">beta<",
		"100,000.00", "112,345.60", "12.35%", "3.21%", "1.50", "2.25", "66.67%", "40.50%", "1.23",
		`href="./alpha/fills.csv"`, `href="./beta/orders.csv"`,
		"Equity of alpha", "Drawdown of alpha", "Price of AAPL", "Price of MSFT",
		"$99,500.00", "$112,345.60", "151.75", "2025-03-03 14:30", "2025-03-03 14:34",
		`<path class="buy"`, `<path class="sell"`, "buy 10 AAPL at 150.25, 2025-03-03 14:31:00 UTC, alpha-1",
		"<td>alpha-3</td>", "No trades.", "No equity samples.", "No symbols traded.",
		"broker said &lt;script&gt;alert(1)&lt;/script&gt; &amp; left", "dca &#34;v2&#34; &lt;b&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "Price of ZZZ") {
		t.Error("index.html charts ZZZ, which no tenant traded")
	}

	orders := readCSV(t, filepath.Join(dir, "alpha", "orders.csv"))
	if !slices.Equal(orders[0], OrdersHeader) || len(orders) != 4 {
		t.Fatalf("orders.csv: header %v, %d rows; want %v and 3 orders", orders[0], len(orders)-1, OrdersHeader)
	}
	col := func(name string) int { return slices.Index(OrdersHeader, name) }
	if got := orders[1][col("limit_price")]; got != "150.5" {
		t.Errorf("limit order's limit_price %q", got)
	}
	if got := orders[2][col("limit_price")]; got != "" {
		t.Errorf("market order's limit_price %q, want empty", got)
	}
	if got := orders[2][col("created_at")]; got != "2025-03-03T14:31:00Z" {
		t.Errorf("created_at %q", got)
	}
	if got := orders[3][col("filled_avg_price")]; got != "400" {
		t.Errorf("filled_avg_price %q", got)
	}
	fills := readCSV(t, filepath.Join(dir, "alpha", "fills.csv"))
	if !slices.Equal(fills[0], FillsHeader) || len(fills) != 4 {
		t.Fatalf("fills.csv: header %v, %d rows; want %v and 3 fills", fills[0], len(fills)-1, FillsHeader)
	}
	if want := []string{"2025-03-03T14:33:00Z", "alpha-2", "AAPL", "sell", "10", "151.5"}; !slices.Equal(fills[2], want) {
		t.Errorf("fill row %v, want %v", fills[2], want)
	}
	for _, f := range []string{"orders.csv", "fills.csv"} {
		if rows := readCSV(t, filepath.Join(dir, "beta", f)); len(rows) != 1 {
			t.Errorf("beta/%s has %d rows, want the header only", f, len(rows))
		}
	}
}

func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = read(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	meta := Meta{Source: "synthetic market, seed 1", From: t0, To: t0.AddDate(0, 0, 7)}
	a, b := t.TempDir(), t.TempDir()
	// Many symbols, so that an unsorted map walk would show.
	r := fixture()
	for i := range 20 {
		sym := "S" + strconv.Itoa(i)
		r.Prices[sym] = points(1, 2, 3)
		r.Tenants[0].FillList = append(r.Tenants[0].FillList, fill(1, "x", sym, trading.Buy, "1", "2"))
	}
	if err := Write(a, r, meta); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, fixture(), meta); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, r, meta); err != nil { // over the other report
		t.Fatal(err)
	}
	fa, fb := files(t, a), files(t, b)
	if len(fa) != 5 || len(fa) != len(fb) {
		t.Fatalf("%d and %d files", len(fa), len(fb))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two writes of the same result", name)
		}
	}
}

func TestEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, &backtest.Result{}, Meta{}); err != nil {
		t.Fatal(err)
	}
	page := read(t, filepath.Join(dir, "index.html"))
	wellFormed(t, page)
	for _, want := range []string{"<title>Backtest report</title>", "No tenants."} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("index.html lacks %q", want)
		}
	}

	// A tenant with nothing at all, and one whose curves are degenerate:
	// a single sample, and values that are not numbers.
	r := &backtest.Result{
		Prices: map[string][]backtest.Point{"AAPL": points(math.NaN())},
		Tenants: []backtest.TenantResult{
			{ID: "empty"},
			{
				ID: "odd", Equity: points(5), ReturnPct: math.NaN(),
				FillList: []backtest.Fill{fill(0, "odd-1", "AAPL", trading.Buy, "1", "1"), {Time: minute(1), ClientOrderID: "lost", Symbol: "MSFT"}},
			},
			{ID: "flat", Equity: points(math.NaN(), 7, 7, math.Inf(1), 7)},
		},
	}
	if err := Write(dir, r, Meta{}); err != nil {
		t.Fatal(err)
	}
	page = read(t, filepath.Join(dir, "index.html"))
	counts := wellFormed(t, page)
	// odd: equity and drawdown of one sample; flat: equity and drawdown.
	if counts["svg"] != 4 {
		t.Errorf("%d charts, want 4", counts["svg"])
	}
	for _, want := range []string{"No trades.", "No price data for AAPL.", "No price data for MSFT.", "NaN%"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("NaN,")) || bytes.Contains(page, []byte(",NaN")) || bytes.Contains(page, []byte("Inf")) {
		t.Error("a chart has a coordinate that is not a number")
	}

	if err := Write(dir, nil, Meta{}); err == nil {
		t.Error("nil result written")
	}
}

func TestBadTenantID(t *testing.T) {
	for _, id := range []string{"", ".", "..", "../escape", "a/b", "/abs", `a\b`, "a..b", "index.html"} {
		dir := filepath.Join(t.TempDir(), "report")
		r := &backtest.Result{Tenants: []backtest.TenantResult{{ID: id}}}
		if err := Write(dir, r, Meta{}); err == nil {
			t.Errorf("tenant id %q accepted", id)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("tenant id %q: something written before the id was refused", id)
		}
	}
	r := &backtest.Result{Tenants: []backtest.TenantResult{{ID: "a"}, {ID: "a"}}}
	if err := Write(t.TempDir(), r, Meta{}); err == nil {
		t.Error("two tenants with one id accepted")
	}
}

func TestLongTradeTable(t *testing.T) {
	r := fixture()
	tr := &r.Tenants[0]
	for i := range MaxTradeRows {
		side := trading.Buy
		if i%2 == 1 {
			side = trading.Sell
		}
		tr.FillList = append(tr.FillList, fill(i%5, "long-"+strconv.Itoa(i), "AAPL", side, "1", "150"))
	}
	dir := t.TempDir()
	if err := Write(dir, r, Meta{}); err != nil {
		t.Fatal(err)
	}
	page := string(read(t, filepath.Join(dir, "index.html")))
	wellFormed(t, []byte(page))
	if n := strings.Count(page, "<tr><td>"); n != MaxTradeRows {
		t.Errorf("%d trade rows, want %d", n, MaxTradeRows)
	}
	if !strings.Contains(page, `3 more fills are in <a href="./alpha/fills.csv">alpha/fills.csv</a>`) {
		t.Error("index.html does not say how many fills are left out")
	}
	if rows := readCSV(t, filepath.Join(dir, "alpha", "fills.csv")); len(rows) != MaxTradeRows+3+1 {
		t.Errorf("fills.csv has %d rows, want every fill", len(rows)-1)
	}
}

// TestBacktest writes the report of a real run.
func TestBacktest(t *testing.T) {
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	c, err := macross.Parse(map[string]string{"symbol": "AAPL", "qty": "10", "fast": "5", "slow": "20", "interval": "1m"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := backtest.Config{
		Tenants: []backtest.Tenant{{ID: "mx", StrategyName: macross.Name, NewStrategy: func() (trading.Strategy, error) { return macross.New(c), nil }}},
		From:    from, To: from.AddDate(0, 0, 7),
		Source: backtest.Synthetic{Seed: 7, Session: sim.NYSE{}.Open}, Calendar: sim.NYSE{}, Seed: 1,
	}
	r, err := backtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := r.Tenants[0]
	if tr.Error != "" || len(tr.FillList) == 0 {
		t.Fatalf("backtest: error %q, %d fills", tr.Error, len(tr.FillList))
	}
	dir := t.TempDir()
	if err := Write(dir, r, Meta{Source: "synthetic market, seed 7", From: cfg.From, To: cfg.To}); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, filepath.Join(dir, "mx", "fills.csv")); len(rows)-1 != len(tr.FillList) {
		t.Errorf("fills.csv has %d rows, the result %d fills", len(rows)-1, len(tr.FillList))
	}
	if rows := readCSV(t, filepath.Join(dir, "mx", "orders.csv")); len(rows)-1 != len(tr.OrderList) {
		t.Errorf("orders.csv has %d rows, the result %d orders", len(rows)-1, len(tr.OrderList))
	}
	page := read(t, filepath.Join(dir, "index.html"))
	counts := wellFormed(t, page)
	selfContained(t, string(page))
	if counts["svg"] != 3 {
		t.Errorf("%d charts, want equity, drawdown and AAPL", counts["svg"])
	}
	t.Logf("index.html: %d bytes for %d equity samples, %d closes, %d fills", len(page), len(tr.Equity), len(r.Prices["AAPL"]), len(tr.FillList))
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", -0.001: "0.00", 1234.5: "1,234.50", -1234567.891: "-1,234,567.89", 999.999: "1,000.00", 12: "12.00"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q, want %q", v, got, want)
		}
	}
	if got := group("NaN"); got != "NaN" {
		t.Errorf("group(NaN) = %q", got)
	}
	if got := price(0.12345); got != "0.1235" {
		t.Errorf("price(0.12345) = %q", got)
	}
	// A shallow drawdown gets the decimals that tell its labels apart.
	c := drawdownChart("dd", "x", points(100, 99.99, 100))
	if got := []string{c.YLabels[0].Text, c.YLabels[1].Text, c.YLabels[2].Text}; !slices.Equal(got, []string{"0.000%", "-0.005%", "-0.010%"}) {
		t.Errorf("drawdown labels %v", got)
	}
}

func TestPosition(t *testing.T) {
	ts := []time.Time{minute(0), minute(10), minute(20)}
	for _, c := range []struct {
		at   time.Time
		want float64
	}{{minute(-5), 0}, {minute(0), 0}, {minute(5), 0.5}, {minute(10), 1}, {minute(15), 1.5}, {minute(25), 2}} {
		if got := position(ts, c.at); got != c.want {
			t.Errorf("position(%s) = %v, want %v", c.at.Format(time.Kitchen), got, c.want)
		}
	}
}

// TestLineThinned: a curve of many samples per pixel column keeps at most
// four per column, among them its extremes.
func TestLineThinned(t *testing.T) {
	vs := make([]float64, 4000)
	for i := range vs {
		vs[i] = math.Sin(float64(i) / 50)
	}
	vs[1234] = 5
	a := axes{len(vs), -1, 5}
	pts := strings.Fields(line(vs, a))
	if max := 4 * (plotR - plotL + 1); len(pts) > max {
		t.Errorf("%d points, want at most %d", len(pts), max)
	}
	top := coord(plotL+1234.0/3999*(plotR-plotL)) + "," + coord(a.y(5))
	if !slices.Contains(pts, top) {
		t.Errorf("the spike at %s was thinned away", top)
	}
	if pts[0] != coord(plotL)+","+coord(a.y(0)) || pts[len(pts)-1] != coord(plotR)+","+coord(a.y(vs[3999])) {
		t.Errorf("line runs from %s to %s, not end to end", pts[0], pts[len(pts)-1])
	}
}
