package journaltest

import (
	"context"
	"fmt"
	"sync"
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
	if bj, ok := j.(Batcher); ok {
		b.ReportMetric(float64(b.N)/float64(max(bj.Commits(), 1)), "intents/commit")
	}
}

// Batcher is a Journal that counts its committed batches.
type Batcher interface {
	trading.Journal
	Commits() int64
}

// GroupCommit checks that concurrent appends share commits, which is the
// point of a group-committing journal.
func GroupCommit(t *testing.T, j Batcher) {
	const workers, each = 50, 20
	var wg sync.WaitGroup
	for w := range workers {
		tenant := trading.TenantID(fmt.Sprint("t", w%5))
		wg.Go(func() {
			for range each {
				seq, err := j.NextSequence(context.Background(), tenant)
				if err != nil {
					t.Error(err)
					return
				}
				in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq),
					Symbol: "AAPL", Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
				if err := j.Append(context.Background(), trading.IntentEvent(in)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	commits := j.Commits()
	t.Logf("%d appends in %d commits", workers*each, commits)
	if commits >= workers*each/2 {
		t.Errorf("%d commits for %d concurrent appends; want them batched", commits, workers*each)
	}
}
