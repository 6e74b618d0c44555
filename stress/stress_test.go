package stress_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/stress"
)

func tenants(n int, prefix string) []stress.Tenant {
	out := make([]stress.Tenant, n)
	for i := range out {
		out[i] = stress.Tenant{KeyID: fmt.Sprintf("PK%s%d", prefix, i), Secret: "s"}
	}
	return out
}

// fastRetries keeps fault tests quick: the production defaults wait
// longer between attempts.
var fastRetries = []alpaca.Option{alpaca.WithRetry(8, 2*time.Millisecond, 50*time.Millisecond)}

func run(t *testing.T, cfg stress.Config) *stress.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := stress.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("run not OK: %+v", rep)
	}
	if want := int64(cfg.Threads * cfg.OrdersPerThread); rep.Acked != want {
		t.Fatalf("acked %d, want %d (report %+v)", rep.Acked, want, rep)
	}
	return rep
}

func TestCleanRunBothClientModes(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 3})
	for _, perWorker := range []bool{false, true} {
		t.Run(fmt.Sprintf("perWorker=%v", perWorker), func(t *testing.T) {
			rep := run(t, stress.Config{
				Target: b.URL, Tenants: tenants(4, fmt.Sprint("clean", perWorker)), Threads: 16, OrdersPerThread: 40,
				ClientPerWorker: perWorker, RunID: fmt.Sprintf("clean%v", perWorker),
			})
			if rep.Retries != 0 || rep.LatencyMS.P50 <= 0 {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// Under 500/503 answers and dropped connections, half of them after the
// broker processed the order, nothing may be lost or duplicated.
func TestFaultsLoseAndDuplicateNothing(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 4, Faults: sim.Faults{FailRate: 0.08, DropRate: 0.05}})
	rep := run(t, stress.Config{
		Target: b.URL, Tenants: tenants(3, "fault"), Threads: 12, OrdersPerThread: 50,
		RunID: "fault", ClientOptions: fastRetries,
	})
	if rep.Retries+rep.Lookups == 0 {
		t.Errorf("faults were injected but no retry or look-up happened: %+v", rep)
	}
}

// A broker-side rate limit answers 429; the client waits as told and the
// run still completes with nothing lost.
func TestRateLimited(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 5, RateLimit: 40, RateWindow: 200 * time.Millisecond})
	rep := run(t, stress.Config{
		Target: b.URL, Tenants: tenants(2, "rl"), Threads: 4, OrdersPerThread: 30,
		RunID: "rl", ClientOptions: fastRetries,
	})
	if rep.Retries == 0 {
		t.Errorf("expected 429 retries: %+v", rep)
	}
}

func TestValidate(t *testing.T) {
	for _, cfg := range []stress.Config{
		{},
		{Target: "http://127.0.0.1:1", Threads: 0, OrdersPerThread: 1, Tenants: tenants(1, "v"), RunID: "x"},
		{Target: "http://127.0.0.1:1", Threads: 1, OrdersPerThread: 1, RunID: "x"},
		{Target: "http://127.0.0.1:1", Threads: 1, OrdersPerThread: 1, Tenants: tenants(1, "v")},
	} {
		if _, err := stress.Run(context.Background(), cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
