// Package report writes the report of a backtest (quantum backtest
// --report DIR) as files a person can keep, share and open anywhere,
// without the program or a network: one self-contained index.html to judge
// each tenant's strategy at a glance (its metrics, equity, drawdown, the
// prices it traded with its fills on them, its trades), and each tenant's
// orders and fills as CSV to take the analysis further in a spreadsheet or
// a notebook.
//
// DIR holds:
//
//	index.html
//	<tenant id>/orders.csv
//	<tenant id>/fills.csv
//
// The same Result and Meta always give byte-identical files, so that two
// reports can be diffed and a report can be checked in.
package report

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/trading"
)

// Meta is what the page's header says about the run, which the Result
// does not know.
type Meta struct {
	// Title heads the page; "Backtest report" when empty.
	Title string
	// Source says where the bars came from, e.g. "synthetic market, seed
	// 1" or "recorded bars in ./data".
	Source string
	// Config is the path of the config file that named the tenants.
	Config string
	// From and To are the replayed period, To exclusive, shown in their
	// own location; a zero time is left out.
	From, To time.Time
}

// MaxTradeRows bounds the trade table of each tenant: past a few hundred
// rows a page is no longer read but scrolled, and a long backtest would
// make it megabytes. fills.csv always has every fill.
const MaxTradeRows = 500

//go:embed index.html.tmpl
var pageText string

var pageTmpl = template.Must(template.New("index.html").Parse(pageText))

// Write writes the report of r into dir, creating dir if needed and
// replacing the files of an earlier report there. Tenant ids name
// subdirectories, so an id that could leave dir or collide with another
// file of the report is refused before anything is written.
func Write(dir string, r *backtest.Result, meta Meta) error {
	if r == nil {
		return errors.New("report: no result")
	}
	if err := checkIDs(r.Tenants); err != nil {
		return err
	}
	// Render first: a template error then leaves no half-written report.
	var page bytes.Buffer
	if err := pageTmpl.Execute(&page, newPage(r, meta)); err != nil {
		return fmt.Errorf("report: rendering index.html: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for i := range r.Tenants {
		t := &r.Tenants[i]
		if err := writeTenant(filepath.Join(dir, t.ID), t); err != nil {
			return fmt.Errorf("report: tenant %q: %w", t.ID, err)
		}
	}
	// index.html comes last so that the files it links to exist once it
	// does.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), page.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func checkIDs(ts []backtest.TenantResult) error {
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		id := t.ID
		switch {
		case id == "":
			return errors.New("report: a tenant has no id")
		case id == "." || strings.Contains(id, "..") || strings.ContainsAny(id, `/\`+string(filepath.Separator)) || !filepath.IsLocal(id):
			return fmt.Errorf("report: tenant id %q cannot name a directory of the report", id)
		case id == "index.html":
			return fmt.Errorf("report: tenant id %q collides with the report's page", id)
		case seen[id]:
			return fmt.Errorf("report: tenant id %q appears twice", id)
		}
		seen[id] = true
	}
	return nil
}

func writeTenant(dir string, t *backtest.TenantResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	orders, err := ordersCSV(t.OrderList)
	if err != nil {
		return fmt.Errorf("orders.csv: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orders.csv"), orders, 0o644); err != nil {
		return err
	}
	fills, err := fillsCSV(t.FillList)
	if err != nil {
		return fmt.Errorf("fills.csv: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "fills.csv"), fills, 0o644)
}

// OrdersHeader and FillsHeader are the first rows of orders.csv and
// fills.csv. In orders.csv, created_at is when the strategy emitted the
// order, strategy_reason why it did, and status_reason the broker's or
// risk gate's last word on it (a rejection, a cancel).
var (
	OrdersHeader = []string{
		"client_order_id", "symbol", "side", "qty", "notional", "type", "time_in_force",
		"limit_price", "stop_price", "trail_price", "trail_percent",
		"status", "filled_qty", "filled_avg_price", "created_at", "updated_at",
		"strategy_reason", "status_reason",
	}
	FillsHeader = []string{"time", "client_order_id", "symbol", "side", "qty", "price"}
)

func ordersCSV(orders []trading.OrderState) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(OrdersHeader)
	for _, o := range orders {
		in := o.Intent
		w.Write([]string{
			in.ClientOrderID, in.Symbol, string(in.Side),
			unlessZero(in.Qty.String()), unlessZero(in.Notional.String()),
			string(in.Type), string(in.TimeInForce),
			unlessZero(in.LimitPrice.String()), unlessZero(in.StopPrice.String()),
			unlessZero(in.TrailPrice.String()), unlessZero(in.TrailPercent.String()),
			// A zero filled quantity is a fact about the order, not an
			// absent value, unlike an average price of nothing.
			string(o.Status), o.FilledQty.String(), unlessZero(o.FilledAvgPrice.String()),
			stamp(in.CreatedAt), stamp(o.UpdatedAt), in.Reason, o.Reason,
		})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func fillsCSV(fills []backtest.Fill) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(FillsHeader)
	for _, f := range fills {
		w.Write([]string{stamp(f.Time), f.ClientOrderID, f.Symbol, string(f.Side), f.Qty.String(), f.Price.String()})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// unlessZero blanks a decimal's zero, which the order types use for "not
// set" (a market order's limit price).
func unlessZero(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// The page's model: everything already formatted, so that the template
// only places and escapes.
type page struct {
	Title, Source, Config, Period, Replay string
	Tenants                               []tenant
}

type tenant struct {
	Anchor, ID, Strategy, Error                         string
	Orders, Fills, RiskRejections                       string
	Start, End, Return, MaxDD, Sharpe, Sortino, WinRate string
	Exposure, Fees, ReturnClass                         string
	OrderRows, FillRows, OrdersHref, FillsHref          string
	Equity, Drawdown                                    *chart
	Prices                                              []priceChart
	Trades                                              []trade
	MoreTrades                                          string
}

type priceChart struct {
	Symbol string
	Chart  *chart // nil: the result has no prices for Symbol
}

type trade struct {
	Time, Symbol, Side, SideClass, Qty, Price, ClientOrderID string
}

func newPage(r *backtest.Result, m Meta) page {
	p := page{Title: m.Title, Source: m.Source, Config: m.Config}
	if p.Title == "" {
		p.Title = "Backtest report"
	}
	const day = "2006-01-02 15:04 MST"
	switch {
	case !m.From.IsZero() && !m.To.IsZero():
		p.Period = m.From.Format(day) + " to " + m.To.Format(day) + " (exclusive)"
	case !m.From.IsZero():
		p.Period = "from " + m.From.Format(day)
	case !m.To.IsZero():
		p.Period = "until " + m.To.Format(day) + " (exclusive)"
	}
	p.Replay = fmt.Sprintf("%s bars in %s ms (%s bars/s)", group(strconv.Itoa(r.Bars)), group(strconv.FormatInt(r.ElapsedMS, 10)), group(fixed(r.BarsPerSec, 0)))
	for i := range r.Tenants {
		p.Tenants = append(p.Tenants, newTenant(i+1, &r.Tenants[i], r.Prices))
	}
	return p
}

func newTenant(n int, t *backtest.TenantResult, prices map[string][]backtest.Point) tenant {
	anchor := "t" + strconv.Itoa(n)
	dir := "./" + url.PathEscape(t.ID) + "/"
	v := tenant{
		Anchor: anchor, ID: t.ID, Strategy: t.Strategy, Error: t.Error,
		Orders: group(strconv.Itoa(t.Orders)), Fills: group(strconv.Itoa(t.Fills)), RiskRejections: group(strconv.Itoa(t.RiskRejections)),
		Start: money(t.StartEquity), End: money(t.EndEquity),
		Return: fixed(t.ReturnPct, 2) + "%", MaxDD: fixed(t.MaxDrawdownPct, 2) + "%",
		Sharpe: fixed(t.Sharpe, 2), Sortino: fixed(t.Sortino, 2),
		WinRate: fixed(t.WinRate, 2) + "%", Exposure: fixed(t.ExposurePct, 2) + "%", Fees: money(t.Fees),
		OrderRows: group(strconv.Itoa(len(t.OrderList))), FillRows: group(strconv.Itoa(len(t.FillList))),
		OrdersHref: dir + "orders.csv", FillsHref: dir + "fills.csv",
	}
	// The colour follows the figure shown, so that a loss that rounds to
	// 0.00% is not painted red.
	switch {
	case strings.HasPrefix(v.Return, "-"):
		v.ReturnClass = "down"
	case v.Return != "0.00%" && v.Return != "NaN%":
		v.ReturnClass = "up"
	}
	v.Equity = equityChart(anchor+"-equity", t.ID, t.Equity)
	v.Drawdown = drawdownChart(anchor+"-drawdown", t.ID, t.Equity)
	for j, sym := range traded(t) {
		v.Prices = append(v.Prices, priceChart{Symbol: sym, Chart: priceChartOf(anchor+"-price-"+strconv.Itoa(j+1), sym, prices[sym], t.FillList)})
	}
	for i, f := range t.FillList {
		if i == MaxTradeRows {
			v.MoreTrades = group(strconv.Itoa(len(t.FillList) - MaxTradeRows))
			break
		}
		v.Trades = append(v.Trades, trade{
			Time: f.Time.UTC().Format(time.DateTime), Symbol: f.Symbol, Side: string(f.Side), SideClass: sideClass(f.Side),
			Qty: f.Qty.String(), Price: f.Price.String(), ClientOrderID: f.ClientOrderID,
		})
	}
	return v
}

// traded returns the symbols t placed orders for or got fills in, sorted:
// a strategy whose orders never filled still wants to see why on the
// price.
func traded(t *backtest.TenantResult) []string {
	var syms []string
	for _, o := range t.OrderList {
		syms = append(syms, o.Intent.Symbol)
	}
	for _, f := range t.FillList {
		syms = append(syms, f.Symbol)
	}
	slices.Sort(syms)
	syms = slices.Compact(syms)
	if len(syms) > 0 && syms[0] == "" {
		syms = syms[1:]
	}
	return syms
}

func sideClass(s trading.Side) string {
	switch s {
	case trading.Buy:
		return "buy"
	case trading.Sell:
		return "sell"
	}
	return ""
}

// fixed formats v with places decimals, without the minus sign of a value
// that rounds to zero ("-0.00" reads as a loss).
func fixed(v float64, places int) string {
	s := strconv.FormatFloat(v, 'f', places, 64)
	if strings.Trim(s, "-0.") == "" {
		return strings.TrimPrefix(s, "-")
	}
	return s
}

func money(v float64) string { return group(fixed(v, 2)) }

// group puts thousands separators into a formatted number.
func group(s string) string {
	sign, digits := "", s
	if strings.HasPrefix(s, "-") {
		sign, digits = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(digits, ".")
	if len(whole) <= 3 || strings.IndexFunc(whole, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// price formats a price with the cents a quote has, or more below a
// dollar where cents would flatten it.
func price(v float64) string {
	if math.Abs(v) < 1 {
		return fixed(v, 4)
	}
	return money(v)
}

// Charts. The x axis is trading time: sample i of a curve sits at x = i,
// so that nights and weekends, when nothing moves, take no width (with
// NYSE sessions they would be three quarters of a week's chart). Curves
// are sampled evenly in replayed minutes, which makes that axis linear in
// market time.
const (
	chartW, chartH = 900, 260
	plotL, plotR   = 104, chartW - 16
	plotT, plotB   = 14, chartH - 30
	markerSize     = 5
)

type chart struct {
	// Kind (equity, drawdown or price) is the class that styles it.
	ID, Kind, Title, Desc string
	W, H                  int
	L, T, R, B            int
	PlotW, PlotH          int
	YLabelX, XLabelY      int
	Line, Area            string
	YLabels, XLabels      []label
	Markers               []marker
}

type label struct {
	X, Y, Text, Anchor string
}

type marker struct {
	Class, D, Title string
}

// axes maps a curve of n samples with values in [lo, hi] onto the plot.
type axes struct {
	n      int
	lo, hi float64
}

func (a axes) x(i float64) float64 {
	if a.n <= 1 {
		return (plotL + plotR) / 2
	}
	return plotL + i/float64(a.n-1)*(plotR-plotL)
}

func (a axes) y(v float64) float64 {
	if a.hi == a.lo {
		return (plotT + plotB) / 2
	}
	return plotT + (a.hi-v)/(a.hi-a.lo)*(plotB-plotT)
}

func coord(v float64) string { return fixed(v, 1) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// bounds returns the least and greatest finite values; ok is false when
// there are none.
func bounds(vs []float64) (lo, hi float64, ok bool) {
	for _, v := range vs {
		if !finite(v) {
			continue
		}
		if !ok {
			lo, hi, ok = v, v, true
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi, ok
}

// newChart lays out the frame, labels and line of a curve; fmtY formats
// its values for the y axis.
func newChart(id, kind, title string, ts []time.Time, vs []float64, a axes, fmtY func(float64) string) *chart {
	c := &chart{
		ID: id, Kind: kind, Title: title, W: chartW, H: chartH,
		L: plotL, T: plotT, R: plotR, B: plotB, PlotW: plotR - plotL, PlotH: plotB - plotT,
		YLabelX: plotL - 8, XLabelY: plotB + 20,
	}
	if a.hi == a.lo {
		c.YLabels = []label{{Y: coord(a.y(a.lo)), Text: fmtY(a.lo)}}
	} else {
		mid := (a.lo + a.hi) / 2
		c.YLabels = []label{{Y: coord(a.y(a.hi)), Text: fmtY(a.hi)}, {Y: coord(a.y(mid)), Text: fmtY(mid)}, {Y: coord(a.y(a.lo)), Text: fmtY(a.lo)}}
	}
	c.XLabels = xLabels(ts, a)
	c.Line = line(vs, a)
	return c
}

// xLabels dates the two ends of the axis and three points between, which
// at 900 pixels leaves each label room.
func xLabels(ts []time.Time, a axes) []label {
	n := len(ts)
	if n == 1 {
		return []label{{X: coord(a.x(0)), Text: axisTime(ts[0]), Anchor: "middle"}}
	}
	var out []label
	last := -1
	for k := range 5 {
		i := int(math.Round(float64(k) * float64(n-1) / 4))
		if i == last {
			continue
		}
		last = i
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case n - 1:
			anchor = "end"
		}
		out = append(out, label{X: coord(a.x(float64(i))), Text: axisTime(ts[i]), Anchor: anchor})
	}
	return out
}

func axisTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// line returns the polyline of vs. Curves hold up to a few thousand
// samples, several per pixel column: only each column's first, last,
// lowest and highest are kept, which draws the same picture for a
// fraction of the bytes.
func line(vs []float64, a axes) string {
	var b strings.Builder
	add := func(i int) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(coord(a.x(float64(i))))
		b.WriteByte(',')
		b.WriteString(coord(a.y(vs[i])))
	}
	if a.n == 1 {
		// One sample is a level, drawn across the plot.
		y := coord(a.y(vs[0]))
		return coord(plotL) + "," + y + " " + coord(plotR) + "," + y
	}
	col, first, lo, hi, last := -1, 0, 0, 0, 0
	flush := func() {
		keep := []int{first, lo, hi, last}
		slices.Sort(keep)
		for _, i := range slices.Compact(keep) {
			add(i)
		}
	}
	for i, v := range vs {
		if !finite(v) {
			continue
		}
		if c := int(a.x(float64(i))); c != col {
			if col >= 0 {
				flush()
			}
			col, first, lo, hi = c, i, i, i
		}
		if v < vs[lo] {
			lo = i
		}
		if v > vs[hi] {
			hi = i
		}
		last = i
	}
	if col >= 0 {
		flush()
	}
	return b.String()
}

func split(pts []backtest.Point) ([]time.Time, []float64) {
	ts := make([]time.Time, len(pts))
	vs := make([]float64, len(pts))
	for i, p := range pts {
		ts[i], vs[i] = p.Time, p.Value
	}
	return ts, vs
}

func dollars(v float64) string { return "$" + money(v) }

func span(ts []time.Time) string {
	return axisTime(ts[0]) + " to " + axisTime(ts[len(ts)-1]) + " UTC"
}

func equityChart(id, tenantID string, pts []backtest.Point) *chart {
	ts, vs := split(pts)
	lo, hi, ok := bounds(vs)
	if !ok {
		return nil
	}
	c := newChart(id, "equity", "Equity of "+tenantID, ts, vs, axes{len(vs), lo, hi}, dollars)
	c.Desc = fmt.Sprintf("Account equity in dollars over trading time, %s, in %d samples: low %s, high %s.", span(ts), len(vs), dollars(lo), dollars(hi))
	return c
}

// drawdownChart plots how far equity stands below its running peak, in
// percent: the pain of holding the strategy, which the equity curve's
// scale hides.
func drawdownChart(id, tenantID string, pts []backtest.Point) *chart {
	ts, eq := split(pts)
	dd := make([]float64, len(eq))
	peak := math.Inf(-1)
	for i, v := range eq {
		if !finite(v) {
			dd[i] = math.NaN()
			continue
		}
		peak = max(peak, v)
		if peak > 0 {
			dd[i] = (v/peak - 1) * 100
		}
	}
	lo, _, ok := bounds(dd)
	if !ok {
		return nil
	}
	a := axes{len(dd), min(lo, 0), 0}
	// Enough decimals that the labels of a shallow drawdown differ.
	places := 2
	for r := -a.lo * 100; r > 0 && r < 2 && places < 6; r *= 10 {
		places++
	}
	label := func(v float64) string { return fixed(v, places) + "%" }
	c := newChart(id, "drawdown", "Drawdown of "+tenantID, ts, dd, a, label)
	if a.n > 1 && a.lo < 0 {
		// The area between the curve and its zero line, so that deep and
		// long drawdowns read as the weight they are.
		c.Area = "M" + coord(plotL) + "," + coord(a.y(0)) + " L" + c.Line + " L" + coord(plotR) + "," + coord(a.y(0)) + " Z"
	}
	c.Desc = fmt.Sprintf("Percent below the running peak of equity over trading time, %s; deepest in these samples %s.", span(ts), label(lo))
	return c
}

// priceChartOf plots sym's closes with the tenant's fills in it marked:
// buys as green triangles pointing up, sells as red ones pointing down,
// so that shape alone tells them apart.
func priceChartOf(id, sym string, pts []backtest.Point, fills []backtest.Fill) *chart {
	ts, vs := split(pts)
	lo, hi, ok := bounds(vs)
	if !ok {
		return nil
	}
	var mine []backtest.Fill
	for _, f := range fills {
		if f.Symbol == sym {
			mine = append(mine, f)
			p := f.Price.InexactFloat64()
			lo, hi = min(lo, p), max(hi, p)
		}
	}
	a := axes{len(vs), lo, hi}
	c := newChart(id, "price", "Price of "+sym, ts, vs, a, price)
	var buys, sells int
	for _, f := range mine {
		x, y := a.x(position(ts, f.Time)), a.y(f.Price.InexactFloat64())
		m := marker{Class: sideClass(f.Side), Title: fmt.Sprintf("%s %s %s at %s, %s UTC, %s", f.Side, f.Qty, sym, f.Price, f.Time.UTC().Format(time.DateTime), f.ClientOrderID)}
		switch f.Side {
		case trading.Buy:
			buys++
			m.D = fmt.Sprintf("M%s,%s L%s,%s L%s,%s Z", coord(x), coord(y-markerSize), coord(x+markerSize), coord(y+markerSize), coord(x-markerSize), coord(y+markerSize))
		case trading.Sell:
			sells++
			m.D = fmt.Sprintf("M%s,%s L%s,%s L%s,%s Z", coord(x), coord(y+markerSize), coord(x+markerSize), coord(y-markerSize), coord(x-markerSize), coord(y-markerSize))
		default:
			// A fill whose order is unknown: a diamond, neither side.
			m.D = fmt.Sprintf("M%s,%s L%s,%s L%s,%s L%s,%s Z", coord(x), coord(y-markerSize), coord(x+markerSize), coord(y), coord(x), coord(y+markerSize), coord(x-markerSize), coord(y))
		}
		c.Markers = append(c.Markers, m)
	}
	c.Desc = fmt.Sprintf("Close of %s over trading time, %s: low %s, high %s; %d buy fills marked by triangles pointing up, %d sell fills by triangles pointing down.", sym, span(ts), price(lo), price(hi), buys, sells)
	return c
}

// position places t on a curve's trading-time axis, between the samples
// around it.
func position(ts []time.Time, t time.Time) float64 {
	i := sort.Search(len(ts), func(i int) bool { return !ts[i].Before(t) })
	switch {
	case i == 0:
		return 0
	case i == len(ts):
		return float64(len(ts) - 1)
	}
	prev, next := ts[i-1], ts[i]
	if !next.After(prev) {
		return float64(i)
	}
	return float64(i-1) + float64(t.Sub(prev))/float64(next.Sub(prev))
}
