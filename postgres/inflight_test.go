package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/trading"
)

// BenchmarkAppendsInFlight is BenchmarkAppendIntent with a chosen
// number of appenders in flight, spread over tenants as a large fleet
// spreads them (four appenders per tenant, at least 16 tenants): by
// Little's law the durable rate is the appenders in flight divided by the
// time one append waits, so the rate a group-committing journal reaches
// depends on how many callers keep it busy.
//
//	QUANTUM_TEST_POSTGRES_DSN=... go test -run '^$' -bench AppendsInFlight -benchtime 40000x -count 3 ./postgres/
func BenchmarkAppendsInFlight(b *testing.B) {
	for _, inFlight := range []int{128, 512, 2048} {
		b.Run(fmt.Sprint(inFlight), func(b *testing.B) {
			j := mustOpen(b, pgtest.SchemaDSN(b))
			defer j.Close()
			benchInFlight(b, j, inFlight, max(inFlight/4, 16))
		})
	}
}

func benchInFlight(b *testing.B, j *postgres.Journal, inFlight, tenants int) {
	ctx := context.Background()
	qty, price := decimal.NewFromInt(10), decimal.RequireFromString("187.25")
	// Each tenant's sequence block is reserved before the clock starts, as
	// a long-running engine has them; the reservations' commits are not
	// what this measures.
	ids := make([]trading.TenantID, tenants)
	for i := range ids {
		ids[i] = trading.TenantID(fmt.Sprintf("tenant-%04d", i))
		if _, err := j.NextSequence(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	commits := j.Commits()
	b.ResetTimer()
	for w := range inFlight {
		tenant := ids[w%tenants]
		wg.Go(func() {
			for left.Add(-1) >= 0 {
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
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "intents/s")
	b.ReportMetric(float64(b.N)/float64(max(j.Commits()-commits, 1)), "intents/commit")
}
