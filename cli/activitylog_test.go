package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/trading"
)

// newTestPrinter returns a printer logging text lines without times to
// the returned buffer.
func newTestPrinter() (*activityPrinter, *bytes.Buffer) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return newActivityPrinter(slog.New(h)), &buf
}

// takeLines returns buf's lines and empties it.
func takeLines(buf *bytes.Buffer) []string {
	s := strings.TrimSuffix(buf.String(), "\n")
	buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func fillOf(tenant string, n int) trading.Activity {
	return trading.Activity{Kind: trading.ActivityFill, Tenant: trading.TenantID(tenant), ClientOrderID: fmt.Sprintf("%s-%d", tenant, n),
		Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1), Price: decimal.RequireFromString("190.25")}
}

// TestActivityLine: one line per activity, with the fields that apply to
// its kind, at WARN for failures and breaker trips.
func TestActivityLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  trading.Activity
		want string
	}{
		{"Order", trading.Activity{Kind: trading.ActivityOrder, Tenant: "t1", ClientOrderID: "t1-7", Symbol: "AAPL", Side: trading.Buy,
			Type: trading.Limit, Qty: decimal.NewFromInt(3), Price: decimal.RequireFromString("101.5"), Status: trading.StatusIntent, Reason: "dca 7/10"},
			`level=INFO msg=order tenant=t1 kind=order symbol=AAPL side=buy qty=3 price=101.5 client_order_id=t1-7 reason="dca 7/10"`},
		{"NotionalOrder", trading.Activity{Kind: trading.ActivityOrder, Tenant: "t1", ClientOrderID: "t1-8", Symbol: "NVDA", Side: trading.Sell, Notional: decimal.NewFromInt(500)},
			`level=INFO msg=order tenant=t1 kind=order symbol=NVDA side=sell notional=500 client_order_id=t1-8`},
		{"Fill", fillOf("t1", 7),
			`level=INFO msg=fill tenant=t1 kind=fill symbol=AAPL side=buy qty=1 price=190.25 client_order_id=t1-7`},
		{"RiskRejected", trading.Activity{Kind: trading.ActivityRiskRejected, Tenant: "t1", ClientOrderID: "t1-9", Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1), Reason: "tenant is HALTED"},
			`level=INFO msg="order refused by the risk gate" tenant=t1 kind=risk_rejected symbol=AAPL side=buy qty=1 client_order_id=t1-9 reason="tenant is HALTED"`},
		{"Rejected", trading.Activity{Kind: trading.ActivityRejected, Tenant: "t1", ClientOrderID: "t1-10", Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1), Reason: "insufficient buying power"},
			`level=INFO msg="order rejected by the broker" tenant=t1 kind=rejected symbol=AAPL side=buy qty=1 client_order_id=t1-10 reason="insufficient buying power"`},
		{"Expired", trading.Activity{Kind: trading.ActivityCanceled, Tenant: "t1", ClientOrderID: "t1-11", Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1), Status: trading.StatusExpired},
			`level=INFO msg="order expired" tenant=t1 kind=canceled symbol=AAPL side=buy qty=1 client_order_id=t1-11`},
		{"State", trading.Activity{Kind: trading.ActivityState, Tenant: "t1", State: trading.Halted, Reason: "trading state changed"},
			`level=INFO msg="trading state changed" tenant=t1 kind=state state=HALTED reason="trading state changed"`},
		{"Failed", trading.Activity{Kind: trading.ActivityFailed, Tenant: "t1", Reason: "401 unauthorized"},
			`level=WARN msg="tenant failed; restarting" tenant=t1 kind=tenant_failed reason="401 unauthorized"`},
		{"Breaker", trading.Activity{Kind: trading.ActivityBreaker, Tenant: "t1", Reason: "broker errors"},
			`level=WARN msg="circuit breaker open" tenant=t1 kind=breaker_open reason="broker errors"`},
		{"EngineStart", trading.Activity{Kind: trading.ActivityEngineStart, Reason: "3 tenants"},
			`level=INFO msg="engine started" kind=engine_start reason="3 tenants"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, buf := newTestPrinter()
			p.handle(tc.act, time.Unix(0, 0))
			if got := takeLines(buf); len(got) != 1 || got[0] != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}

	t.Run("JSON", func(t *testing.T) {
		var buf bytes.Buffer
		p := newActivityPrinter(slog.New(slog.NewJSONHandler(&buf, nil)))
		p.handle(fillOf("t1", 1), time.Unix(0, 0))
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%v: %s", err, buf.Bytes())
		}
		want := map[string]any{"level": "INFO", "msg": "fill", "tenant": "t1", "kind": "fill", "symbol": "AAPL", "side": "buy",
			"qty": "1", "price": "190.25", "client_order_id": "t1-1"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	})
}

// TestActivityRateLimit: a tenant's busy kinds are held to the bucket,
// each tenant's own; what was held back is counted in one summary line;
// state changes and failures always show.
func TestActivityRateLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

	t.Run("BurstThenSummary", func(t *testing.T) {
		p, buf := newTestPrinter()
		for i := range activityBurst + 30 {
			p.handle(fillOf("busy", i), t0)
		}
		p.handle(trading.Activity{Kind: trading.ActivityOrder, Tenant: "busy", ClientOrderID: "busy-99"}, t0)
		p.handle(trading.Activity{Kind: trading.ActivityState, Tenant: "busy", State: trading.Halted}, t0)
		p.handle(trading.Activity{Kind: trading.ActivityBreaker, Tenant: "busy"}, t0)
		p.handle(trading.Activity{Kind: trading.ActivityFailed, Tenant: "busy"}, t0)
		p.handle(fillOf("quiet", 1), t0)
		got := takeLines(buf)
		if n := countMatching(got, "tenant=busy kind=fill"); n != activityBurst {
			t.Errorf("busy tenant: %d fill lines, want the burst, %d", n, activityBurst)
		}
		for _, kind := range []string{"state", "breaker_open", "tenant_failed"} {
			if n := countMatching(got, "tenant=busy kind="+kind); n != 1 {
				t.Errorf("busy tenant: %d %s lines, want 1 (never suppressed)", n, kind)
			}
		}
		if n := countMatching(got, "tenant=busy kind=order"); n != 0 {
			t.Errorf("busy tenant: an order line shown from an empty bucket")
		}
		if n := countMatching(got, "tenant=quiet kind=fill"); n != 1 {
			t.Errorf("quiet tenant: %d fill lines, want 1: buckets are per tenant", n)
		}

		p.summarize()
		want := `level=INFO msg="activity lines suppressed by the per-tenant rate limit" tenant=busy suppressed=31 order=1 fill=30`
		if got := takeLines(buf); len(got) != 1 || got[0] != want {
			t.Errorf("summary:\ngot  %q\nwant %q", got, want)
		}
		p.summarize()
		if got := takeLines(buf); len(got) != 0 {
			t.Errorf("a second summary with nothing suppressed since: %q", got)
		}
	})

	t.Run("Refill", func(t *testing.T) {
		p, buf := newTestPrinter()
		for i := range activityBurst {
			p.handle(fillOf("t", i), t0)
		}
		takeLines(buf)
		// One second refills activityRate tokens.
		for i := range activityRate + 1 {
			p.handle(fillOf("t", 100+i), t0.Add(time.Second))
		}
		if n := len(takeLines(buf)); n != activityRate {
			t.Errorf("after a second: %d lines, want %d", n, activityRate)
		}
		// A long quiet spell refills the bucket, never past the burst.
		for i := range activityBurst + 5 {
			p.handle(fillOf("t", 200+i), t0.Add(time.Hour))
		}
		if n := len(takeLines(buf)); n != activityBurst {
			t.Errorf("after an hour: %d lines, want the burst, %d", n, activityBurst)
		}
		// A clock that steps back spends what is left and refills nothing.
		p.handle(fillOf("t", 300), t0)
		if n := len(takeLines(buf)); n != 0 {
			t.Errorf("clock stepped back: %d lines, want 0", n)
		}
	})
}

func countMatching(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// TestActivitySummary: the shutdown summary has a line per configured
// tenant, active or not, with its final state, counts every activity
// (shown or suppressed), and says when the subscription overflowed.
func TestActivitySummary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	p, buf := newTestPrinter()
	for i := range activityBurst + 10 {
		p.handle(trading.Activity{Kind: trading.ActivityOrder, Tenant: "a", ClientOrderID: fmt.Sprintf("a-%d", i)}, t0)
		p.handle(fillOf("a", i), t0)
	}
	p.handle(trading.Activity{Kind: trading.ActivityRiskRejected, Tenant: "a", ClientOrderID: "a-x"}, t0)
	p.handle(trading.Activity{Kind: trading.ActivityRejected, Tenant: "a", ClientOrderID: "a-y"}, t0)
	p.handle(trading.Activity{Kind: trading.ActivityState, Tenant: "gone", State: trading.Reducing}, t0)
	takeLines(buf)
	p.final([]trading.TenantStatus{{ID: "a", State: trading.Halted}, {ID: "idle", State: trading.Active}}, 3)
	want := []string{
		`level=INFO msg="session summary" tenant=a state=HALTED orders=30 fills=30 risk_rejected=1 rejected=1 canceled=0 unknown=0`,
		`level=INFO msg="session summary" tenant=idle state=ACTIVE orders=0 fills=0 risk_rejected=0 rejected=0 canceled=0 unknown=0`,
		`level=INFO msg="session summary" tenant=gone state=REDUCING orders=0 fills=0 risk_rejected=0 rejected=0 canceled=0 unknown=0`,
		`level=WARN msg="the activity log missed activities (its subscription overflowed): the counts above are short" missed=3`,
	}
	if got := takeLines(buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("DroppedWhileRunning", func(t *testing.T) {
		p, buf := newTestPrinter()
		p.dropped(0)
		p.dropped(4)
		p.dropped(4)
		p.dropped(6)
		want := []string{
			`level=WARN msg="activity log fell behind the engine; activities missed" missed=4 missed_total=4`,
			`level=WARN msg="activity log fell behind the engine; activities missed" missed=2 missed_total=6`,
		}
		if got := takeLines(buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestActivityLogFeed: the consumer reads a real feed, and stopping it
// logs what was published before the stop, then the summary.
func TestActivityLogFeed(t *testing.T) {
	acts := new(engine.Activities)
	var buf syncBuffer
	stop := startActivityLog(acts, slog.New(slog.NewTextHandler(&buf, nil)), func() []trading.TenantStatus {
		return []trading.TenantStatus{{ID: "t1", State: trading.Active}}
	})
	acts.Publish(trading.Activity{Kind: trading.ActivityEngineStart})
	for i := range 3 {
		acts.Publish(fillOf("t1", i))
	}
	acts.Publish(trading.Activity{Kind: trading.ActivityEngineStop})
	stop()
	stop() // a second stop is harmless
	out := buf.String()
	for _, want := range []string{"kind=engine_start", "client_order_id=t1-2", "kind=engine_stop",
		`msg="session summary" tenant=t1 state=ACTIVE orders=0 fills=3`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "kind=engine_stop") > strings.Index(out, "session summary") {
		t.Errorf("the summary came before the last activity:\n%s", out)
	}
	// Unsubscribed: publishing after the stop reaches nobody.
	acts.Publish(fillOf("t1", 9))
}

// TestRunActivityLines runs the real demo in-process: its orders and
// fills appear on stderr as they happen, and the shutdown summary names
// every demo tenant.
func TestRunActivityLines(t *testing.T) {
	a, stdout, stderr := newApp(nil)
	a.demoData = t.TempDir()
	run := startApp(t, a, stdout, stderr, "run", "--listen", "127.0.0.1:0")
	orderRE := regexp.MustCompile(`level=INFO msg=order system=activity tenant=demo-\S+ kind=order symbol=\S+ side=(buy|sell) (qty|notional)=\S+ .*client_order_id=\S+`)
	fillRE := regexp.MustCompile(`level=INFO msg=fill system=activity tenant=demo-\S+ kind=fill symbol=\S+ side=(buy|sell) qty=\S+ price=\S+ client_order_id=\S+`)
	waitForOutput(t, stderr, "an order line", orderRE.MatchString)
	waitForOutput(t, stderr, "a fill line", fillRE.MatchString)
	if err := run.stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	out := stderr.String()
	for _, id := range []string{"demo-dca", "demo-macross", "demo-rebalance"} {
		if !regexp.MustCompile(`msg="session summary" system=activity tenant=` + id + ` state=ACTIVE orders=\d+ fills=\d+ `).MatchString(out) {
			t.Errorf("no shutdown summary for %s:\n%s", id, out)
		}
	}
	if !strings.Contains(out, "kind=engine_start") || !strings.Contains(out, "kind=engine_stop") {
		t.Errorf("the engine's start or stop is missing:\n%s", out)
	}
}
