package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// probe submits one market order per tick, up to count, and records the
// time from its Submit to the journaled acknowledgement (the OnOrder call
// that reports the broker's status).
type probe struct {
	trading.BaseStrategy
	every  time.Duration
	count  int
	sentAt time.Time
	rec    *latencies
	// armed holds the probes back until every tenant is running, so that
	// what is measured is the steady state and not the start-up, when
	// the first tenants' orders queue behind the others' reconciliation.
	armed *atomic.Bool
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func (p *probe) Start(*trading.Env) (trading.Subscription, error) {
	return trading.Subscription{Interval: p.every}, nil
}

func (p *probe) OnTimer(env *trading.Env) {
	if env.OrdersPlaced() >= p.count || !p.armed.Load() {
		return
	}
	p.sentAt = time.Now()
	env.Submit(trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1)})
}

func (p *probe) OnOrder(env *trading.Env, o trading.OrderEvent) {
	if o.Status == trading.StatusNew && !p.sentAt.IsZero() {
		p.rec.add(time.Since(p.sentAt))
		p.sentAt = time.Time{}
	}
}

// BenchmarkSignalToAck measures strategy signal to journaled broker
// acknowledgement, with 100 tenants placing 1,000 orders/s in total
// against the in-process broker over loopback TCP. Every order takes the
// full path: sequence, risk, durable intent, POST, durable ack.
//
//	go test -run '^$' -bench SignalToAck -benchtime 3000x ./engine
func BenchmarkSignalToAck(b *testing.B) {
	tenants := benchTenants
	srv := simtest.Start(b, sim.Config{Seed: 9})
	j := MustOpenJournal(b, b.TempDir())
	e := newEngine(b, j)
	e.SweepInterval = 5 * time.Second
	rec := &latencies{}
	armed := new(atomic.Bool)
	per := max(1, b.N/tenants)
	for i := range tenants {
		br, _ := MustBroker(b, srv.URL)
		p := &probe{every: 100 * time.Millisecond, count: per, rec: rec, armed: armed}
		if err := e.AddTenant(engine.TenantConfig{ID: trading.TenantID(fmt.Sprintf("b%d", i)), Broker: br, StrategyName: "probe",
			NewStrategy: func() (trading.Strategy, error) { return p, nil }}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Open(); err != nil {
		b.Fatal(err)
	}
	waitAllRunning(b, e)
	b.ResetTimer()
	start := time.Now()
	armed.Store(true)
	for rec.len() < per*tenants {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("only %d of %d acks", rec.len(), per*tenants)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	_ = e.Close(context.Background())
	d := slices.Clone(rec.d)
	slices.Sort(d)
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(d))/elapsed.Seconds(), "orders/s")
}

// idleBroker is a Broker with nothing to say: it isolates the engine's
// own per-tenant cost from any client or connection.
type idleBroker struct{ fakeBroker }

// SubmitOrder acknowledges: a tenant whose hourly timer happens to fall
// due during the measurement places its order like any other.
func (*idleBroker) SubmitOrder(_ context.Context, in trading.Intent) (trading.BrokerOrder, error) {
	return trading.BrokerOrder{ID: "idle-" + in.ClientOrderID, ClientOrderID: in.ClientOrderID, Symbol: in.Symbol, Side: in.Side,
		Status: trading.StatusNew, Qty: in.Qty, UpdatedAt: time.Now()}, nil
}

func (*idleBroker) StreamUpdates(ctx context.Context, _ chan<- trading.OrderUpdate) error {
	<-ctx.Done()
	return ctx.Err()
}

// BenchmarkIdleTenantMemory reports the engine's memory per idle tenant
// (runner, stream goroutine, buffers, strategy), without any client:
// the alpaca client's connection pool and SSE connection come on top.
//
//	go test -run '^$' -bench IdleTenantMemory -benchtime 1x ./engine
func BenchmarkIdleTenantMemory(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				j := MustOpenJournal(b, b.TempDir())
				e := engine.NewEngine(j)
				e.Logger = newEngine(b, j).Logger
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				for i := range n {
					if err := e.AddTenant(dcaTenant(fmt.Sprintf("idle%d", i), &idleBroker{}, 0, time.Hour)); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Open(); err != nil {
					b.Fatal(err)
				}
				waitAllRunning(b, e)
				// A stack grown during start-up shrinks by half at each
				// collection; the forced collection every two minutes gets
				// an idle engine there.
				for range 5 {
					runtime.GC()
				}
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
				b.ReportMetric(float64(used)/float64(n)/1024, "KiB/tenant")
				b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(n)/1024, "stack-KiB/tenant")
				_ = e.Close(context.Background())
			}
		})
	}
}

// benchTenants is BenchmarkSignalToAck's tenant count (a var so that a
// profiling session can change it).
var benchTenants = 100

// waitAllRunning waits until every tenant of e runs.
func waitAllRunning(tb testing.TB, e *engine.Engine) {
	tb.Helper()
	waitFor(tb, time.Minute, "all running", func() bool {
		for _, s := range e.Statuses() {
			if s.Health != trading.HealthRunning {
				return false
			}
		}
		return true
	})
}
