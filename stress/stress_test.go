package stress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// A rate limiter in front of the broker answers 429, as Alpaca's does
// before the order service sees a request: the client waits as told and
// resends, and the run completes with nothing lost or duplicated.
//
// Which sends are refused is fixed by the orders' ids (every fifth order's
// first send), not by how many requests fit in a time window, so the
// count of refusals and retries is the same on any machine.
func TestRateLimited(t *testing.T) {
	s, err := sim.New(sim.Config{Seed: 5, AutoProvision: true})
	if err != nil {
		t.Fatal(err)
	}
	broker := s.Handler()
	var mu sync.Mutex
	refused := map[string]bool{}
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/orders" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				ClientOrderID string `json:"client_order_id"`
			}
			_ = json.Unmarshal(body, &req)
			mu.Lock()
			refuse := rateLimitedOrder(req.ClientOrderID) && !refused[req.ClientOrderID]
			if refuse {
				refused[req.ClientOrderID] = true
			}
			mu.Unlock()
			if refuse {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"code":42910000,"message":"rate limit exceeded"}`)
				return
			}
		}
		broker.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(gate)
	s.Start()
	t.Cleanup(func() {
		_ = s.Close()
		hs.CloseClientConnections()
		hs.Close()
	})

	const threads, each = 4, 30
	rep := run(t, stress.Config{
		Target: hs.URL, Tenants: tenants(2, "rl"), Threads: threads, OrdersPerThread: each,
		RunID: "rl", ClientOptions: fastRetries,
	})
	mu.Lock()
	defer mu.Unlock()
	if want := threads * each / 5; len(refused) != want {
		t.Fatalf("%d orders refused, want %d: the gate did not see the run's ids", len(refused), want)
	}
	// Each refusal costs exactly one resend, and nothing else is retried.
	if rep.Retries != int64(len(refused)) || rep.Lookups != 0 {
		t.Errorf("%d retries and %d look-ups for %d 429s, want one retry each and no look-up: %+v",
			rep.Retries, rep.Lookups, len(refused), rep)
	}
}

// rateLimitedOrder picks every fifth order of a worker ("rl-<worker>-<i>"
// with i%5 == 2).
func rateLimitedOrder(cid string) bool {
	i := strings.LastIndexByte(cid, '-')
	if i < 0 {
		return false
	}
	n, err := strconv.Atoi(cid[i+1:])
	return err == nil && n%5 == 2
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
