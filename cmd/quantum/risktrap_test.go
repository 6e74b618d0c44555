package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/clitest"
)

// TestFaultRiskTrap (issue 8, item 5) against the engine binary: a tenant
// holding 40 TSLA, with limits its position already breaks (an order
// notional of at most $1,000, a position of at most 5 shares), sells down
// to its target in one order; a tenant on the same limits that wants to
// buy is refused. Limits bound risk taken, never risk shed.
func TestFaultRiskTrap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the broker and the engine as processes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := quantumBinary(t)
	dir := t.TempDir()
	broker, brokerURL := startBroker(ctx, t, bin, "--seed", "5")
	defer broker.stop(t)

	run := time.Now().UnixNano()
	keys := func(name string) (string, string) {
		return fmt.Sprintf("PKTRAP%s%d", name, run), "trap-secret-" + name + "-0123456789"
	}
	exitKey, exitSecret := keys("EXIT")
	buyKey, buySecret := keys("BUY")
	exitClient, err := alpaca.New(brokerURL, alpaca.WithCredentials(exitKey, exitSecret), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	buyClient, err := alpaca.New(brokerURL, alpaca.WithCredentials(buyKey, buySecret), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}

	// The position bought outside the engine, before it starts: the
	// engine meets it as the broker's.
	qty := decimal.NewFromInt(40)
	if _, err := exitClient.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "TSLA", Qty: &qty, Side: alpaca.Buy, Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: alpaca.NewClientOrderID()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the 40 TSLA to be held", func() bool {
		p, err := exitClient.GetPosition(ctx, "TSLA")
		return err == nil && p.Qty.Equal(qty)
	})

	limits := "risk: {max_order_notional: 1000, max_position_qty: 5, max_open_orders: 1}"
	cfg := fmt.Sprintf(`broker: %s
rate_limit: 0
tenants:
  - {id: exit, key_id: %s, secret: %s, strategy: rebalance, params: {targets: "TSLA:0.01", budget: 1000, interval: 20ms}, %s}
  - {id: buy, key_id: %s, secret: %s, strategy: rebalance, params: {targets: "TSLA:1", budget: 10000, interval: 20ms}, %s}
`, brokerURL, exitKey, exitSecret, limits, buyKey, buySecret, limits)
	cfgPath := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	eng := startProc(ctx, t, bin, "run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	api := eng.waitFor(t, clitest.OpsAPIRE, 20*time.Second)

	// $10 of TSLA is less than a share: the tenant sells all but one,
	// 39 shares in one order, many times the notional limit.
	waitUntil(t, "the exit tenant to sell its TSLA", func() bool {
		p, err := exitClient.GetPosition(ctx, "TSLA")
		return err == nil && p.Qty.LessThanOrEqual(decimal.NewFromInt(1))
	})
	if ti := tenantInfo(t, api, "exit"); ti.RiskRejections != 0 {
		t.Errorf("the exit tenant had %d risk rejections (last: %s), want none", ti.RiskRejections, ti.LastRiskReason)
	}
	waitUntil(t, "the buy tenant to be refused", func() bool { return tenantInfo(t, api, "buy").RiskRejections > 0 })
	if ps, err := buyClient.ListPositions(ctx); err != nil || len(ps) != 0 {
		t.Errorf("the buy tenant holds %v (err %v), want nothing", ps, err)
	}
	if ti := tenantInfo(t, api, "buy"); ti.LastRiskReason == "" {
		t.Errorf("the buy tenant's refusal has no reason")
	}
}
