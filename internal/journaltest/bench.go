package journaltest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// BenchmarkAppendIntent measures durable intents per second on j: each
// operation takes a sequence number and appends one intent, waiting for
// its durable commit, from many goroutines across 16 tenants, as tenant
// runners do. Group commit is what makes this more than the commit rate.
func BenchmarkAppendIntent(b *testing.B, j trading.Journal) {
	ctx := context.Background()
	qty, price := decimal.NewFromInt(10), decimal.RequireFromString("187.25")

	var worker atomic.Int64
	// 64 appenders per CPU: group commit needs callers waiting while a
	// batch commits, and a runner per tenant is mostly waiting.
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tenant := trading.TenantID(fmt.Sprintf("tenant-%02d", worker.Add(1)%16))
		for pb.Next() {
			seq, err := j.NextSequence(ctx, tenant)
			if err != nil {
				b.Error(err)
				return
			}
			in := trading.Intent{
				Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq),
				Symbol: "AAPL", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.Day,
				Qty: qty, LimitPrice: price, Strategy: "bench",
			}
			if err := j.Append(ctx, trading.IntentEvent(in)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "intents/s")
}
