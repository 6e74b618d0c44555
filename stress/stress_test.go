package stress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

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
	firm := func(accounts int) *stress.BrokerAPI {
		return &stress.BrokerAPI{Key: "k", Secret: "s", Accounts: accounts}
	}
	for _, cfg := range []stress.Config{
		{},
		{Target: "http://127.0.0.1:1", Threads: 2, OrdersPerThread: 3, RunID: "x", Broker: firm(0)},
		{Target: "http://127.0.0.1:1", Threads: 2, OrdersPerThread: 3, RunID: "x", Broker: firm(5)}, // 4 pairs
		{Target: "http://127.0.0.1:1", Threads: 2, OrdersPerThread: 3, RunID: "x", Broker: &stress.BrokerAPI{Key: "k", Accounts: 1}},
		{Target: "http://127.0.0.1:1", Threads: 2, OrdersPerThread: 3, RunID: "x", Broker: firm(1), Tenants: tenants(1, "v")},
		{Target: "http://127.0.0.1:1", Threads: 2, OrdersPerThread: 3, RunID: "x", Broker: firm(1), ClientPerWorker: true},
		{Target: "http://127.0.0.1:1", Threads: 0, OrdersPerThread: 1, Tenants: tenants(1, "v"), RunID: "x"},
		{Target: "http://127.0.0.1:1", Threads: 1, OrdersPerThread: 1, RunID: "x"},
		{Target: "http://127.0.0.1:1", Threads: 1, OrdersPerThread: 1, Tenants: tenants(1, "v")},
	} {
		if _, err := stress.Run(context.Background(), cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// fundCash is what the Broker API tests journal into each account, so
// that the run's funding path is exercised too.
var fundCash = decimal.NewFromInt(250)

// brokerRun is run for the Broker API shape: a firm on a real simulator
// over TCP, the run opening accounts customer accounts behind its key and
// funding each from the firm's account.
func brokerRun(t *testing.T, simCfg sim.Config, cfg stress.Config, accounts int) (*alpaca.Broker, *stress.Report) {
	t.Helper()
	const key, secret = "CKSTRESS", "firm-secret"
	simCfg.BrokerKey, simCfg.BrokerSecret = key, secret
	b := simtest.Start(t, simCfg)
	cfg.Target = b.URL
	cfg.Broker = &stress.BrokerAPI{Key: key, Secret: secret, Accounts: accounts, FundFrom: b.FirmAccountID(), Cash: fundCash}
	rep := run(t, cfg)
	if rep.API != "broker" || rep.Tenants != accounts || len(rep.Accounts) != accounts {
		t.Fatalf("api %q, %d tenants, %d account reports; want broker, %d, %d", rep.API, rep.Tenants, len(rep.Accounts), accounts, accounts)
	}
	if rep.AccountsExact != accounts {
		t.Fatalf("%d of %d accounts exact: %+v", rep.AccountsExact, accounts, rep.Accounts)
	}
	firm, err := alpaca.NewBroker(b.URL, append([]alpaca.Option{alpaca.WithBrokerCredentials(key, secret), alpaca.WithRateLimit(0, 1)}, fastRetries...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(firm.CloseIdleConnections)
	checkAccounts(t, firm, rep, cfg.RunID)
	return firm, rep
}

// checkAccounts reads every account back through a client of the test's
// own, not trusting the report: the firm has exactly the report's
// accounts, each funded once, and together they hold each of the run's
// client_order_ids exactly once, in the account the report says, a buy
// and its sell in the same one, spread evenly.
func checkAccounts(t *testing.T, firm *alpaca.Broker, rep *stress.Report, runID string) {
	t.Helper()
	ctx := context.Background()
	listed, err := firm.ListAccounts(ctx, alpaca.ListAccountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]bool{}
	for _, a := range rep.Accounts {
		opened[a.AccountID] = true
	}
	if len(listed) != len(rep.Accounts) {
		t.Errorf("the firm has %d accounts, the run reports %d: an application was sent twice or lost", len(listed), len(rep.Accounts))
	}
	for _, a := range listed {
		if !opened[a.ID] || a.Status != alpaca.AccountActive {
			t.Errorf("firm account %s (%s) is not one the run reports as opened", a.ID, a.Status)
		}
	}

	where := map[string]string{} // client_order_id -> account id
	lo, hi := int64(-1), int64(0)
	for _, a := range rep.Accounts {
		journals, err := firm.ListJournals(ctx, alpaca.ListJournalsRequest{ToAccount: a.AccountID})
		if err != nil {
			t.Fatal(err)
		}
		if len(journals) != 1 || journals[0].NetAmount == nil || !journals[0].NetAmount.Equal(fundCash) {
			t.Errorf("account %s was funded by %d journals, want one of %s: %+v", a.AccountID, len(journals), fundCash, journals)
		}
		orders, err := firm.Account(a.AccountID).ListOrders(ctx, alpaca.ListOrdersRequest{Status: "all", Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		buys := 0
		for _, o := range orders {
			if prev, ok := where[o.ClientOrderID]; ok {
				t.Errorf("%s is held by %s and by %s", o.ClientOrderID, prev, a.AccountID)
			}
			where[o.ClientOrderID] = a.AccountID
			if o.Side == alpaca.Buy {
				buys++
			}
		}
		if n := int64(len(orders)); n != a.Orders || n != a.Held {
			t.Errorf("account %s holds %d orders; the report says %d meant, %d held", a.AccountID, n, a.Orders, a.Held)
		}
		if 2*buys != len(orders) {
			t.Errorf("account %s: %d buys among %d orders: a buy and its sell went to different accounts", a.AccountID, buys, len(orders))
		}
		if lo < 0 || a.Orders < lo {
			lo = a.Orders
		}
		hi = max(hi, a.Orders)
	}
	for w := range rep.Threads {
		for i := range rep.OrdersPerThread {
			if cid := fmt.Sprintf("%s-%d-%d", runID, w, i); where[cid] == "" {
				t.Errorf("%s is in no account", cid)
			}
		}
	}
	if got, want := len(where), int(rep.Orders); got != want {
		t.Errorf("the accounts hold %d distinct orders, want %d", got, want)
	}
	if hi-lo > 2 {
		t.Errorf("orders per account range from %d to %d: not spread evenly by pairs", lo, hi)
	}
}

// The Broker API shape: one firm key, customer accounts opened and
// funded by the run, the orders spread over them through the firm's one
// client, and every account holding exactly its own orders.
func TestBrokerAPIReconcilesPerAccount(t *testing.T) {
	_, rep := brokerRun(t, sim.Config{Seed: 6}, stress.Config{Threads: 4, OrdersPerThread: 50, RunID: "firm"}, 3)
	if rep.Retries != 0 || rep.Lookups != 0 || rep.AccountsSecs <= 0 {
		t.Errorf("report %+v", rep)
	}
}

// More accounts than workers: a worker's order pairs go round the
// accounts, so every account still gets its share.
func TestBrokerAPIMoreAccountsThanWorkers(t *testing.T) {
	brokerRun(t, sim.Config{Seed: 7}, stress.Config{Threads: 2, OrdersPerThread: 30, RunID: "wide"}, 5)
}

// Under 500/503 answers and dropped connections, half of them after the
// broker acted, on the firm's routes too: no account is opened or funded
// twice, and no order is lost, duplicated or placed in the wrong account.
func TestBrokerAPIFaults(t *testing.T) {
	_, rep := brokerRun(t, sim.Config{Seed: 8, Faults: sim.Faults{FailRate: 0.08, DropRate: 0.05}},
		stress.Config{Threads: 4, OrdersPerThread: 50, RunID: "ffault", ClientOptions: fastRetries}, 3)
	if rep.Retries+rep.Lookups == 0 {
		t.Errorf("faults were injected but no retry or look-up happened: %+v", rep)
	}
}

// The per-account reconciliation catches an order placed in the wrong
// account: a proxy moves each worker's seventh order (a buy) into
// another of the firm's accounts, and the run must report each as lost
// from its own account and unexpected in the other, and fail.
func TestBrokerAPIWrongAccountIsCaught(t *testing.T) {
	const key, secret = "CKSTRESS", "firm-secret"
	s, err := sim.New(sim.Config{Seed: 9, BrokerKey: key, BrokerSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	broker := s.Handler()
	var mu sync.Mutex
	var seen []string // account ids, in the order orders reached them
	moved := 0
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1/trading/accounts/")
		id, tail, _ := strings.Cut(rest, "/")
		if ok && r.Method == http.MethodPost && tail == "orders" {
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
			if !slices.Contains(seen, id) {
				seen = append(seen, id)
			}
			if strings.HasSuffix(req.ClientOrderID, "-6") {
				// By its seventh order a worker has traded in every one
				// of the three accounts, so another is always known.
				other := seen[(slices.Index(seen, id)+1)%len(seen)]
				r.URL.Path = "/v1/trading/accounts/" + other + "/orders"
				moved++
			}
			mu.Unlock()
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

	const threads = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := stress.Run(ctx, stress.Config{
		Target: hs.URL, Threads: threads, OrdersPerThread: 20, RunID: "moved",
		Broker: &stress.BrokerAPI{Key: key, Secret: secret, Accounts: 3},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if moved != threads {
		t.Fatalf("the proxy moved %d orders, want %d", moved, threads)
	}
	if rep.OK() || rep.Lost != threads || rep.Unexpected != threads || rep.Duplicates != 0 {
		t.Fatalf("OK %v, lost %d, unexpected %d, duplicates %d; want a failed run with %d lost and %d unexpected",
			rep.OK(), rep.Lost, rep.Unexpected, rep.Duplicates, threads, threads)
	}
	var lost, unexpected int64
	for _, a := range rep.Accounts {
		lost += a.Lost
		unexpected += a.Unexpected
	}
	if lost != threads || unexpected != threads || rep.AccountsExact == len(rep.Accounts) {
		t.Fatalf("per account: %d lost, %d unexpected, %d of %d exact: %+v", lost, unexpected, rep.AccountsExact, len(rep.Accounts), rep.Accounts)
	}
}
