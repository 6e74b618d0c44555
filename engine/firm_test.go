package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

const testFirmKey, testFirmSecret = "CKENGINEFIRM", "engine-firm-secret-0123456789"

// firmAccounts starts a simulator serving a Broker API firm with n
// customer accounts (every order fills whole at once) and returns it with
// the accounts' ids and a Firm reading its stream until the test ends.
func firmAccounts(tb testing.TB, n int) (*simtest.Broker, []string, *alpacabroker.Firm) {
	tb.Helper()
	noPartials := 0.0
	srv := simtest.Start(tb, sim.Config{Seed: 21, BrokerKey: testFirmKey, BrokerSecret: testFirmSecret, PartialFillRate: &noPartials})
	admin, err := alpaca.NewBroker(srv.URL, alpaca.WithBrokerCredentials(testFirmKey, testFirmSecret), alpaca.WithRateLimit(0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				var a *alpaca.BrokerAccount
				if a, errs[i] = admin.CreateAccount(context.Background(), customer(i)); errs[i] == nil {
					ids[i] = a.ID
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	admin.CloseIdleConnections()
	firm, err := alpacabroker.NewFirm(alpacabroker.FirmConfig{BaseURL: srv.URL, Key: testFirmKey, Secret: testFirmSecret, UnencryptedHTTP2: true})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = firm.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return srv, ids, firm
}

func customer(i int) alpaca.CreateAccountRequest {
	now := time.Now().UTC()
	agree := func(name string) alpaca.Agreement {
		return alpaca.Agreement{Agreement: name, SignedAt: now, IPAddress: "127.0.0.1"}
	}
	return alpaca.CreateAccountRequest{
		Contact: alpaca.Contact{EmailAddress: fmt.Sprintf("engine%d@example.com", i), PhoneNumber: "555-666-7788",
			StreetAddress: []string{"20 N San Mateo Dr"}, City: "San Mateo", State: "CA", PostalCode: "94401", Country: "USA"},
		Identity: alpaca.Identity{GivenName: "Engine", FamilyName: fmt.Sprint("Tenant ", i), DateOfBirth: "1990-01-01",
			TaxID: "666-55-4321", TaxIDType: "USA_SSN", CountryOfCitizenship: "USA", CountryOfBirth: "USA",
			CountryOfTaxResidence: "USA", FundingSource: []string{"employment_income"}},
		Disclosures: alpaca.Disclosures{EmploymentStatus: "employed"},
		Agreements:  []alpaca.Agreement{agree("customer_agreement"), agree("margin_agreement"), agree("account_agreement")},
	}
}

// blocker places one order and then blocks in its first order event
// until release closes: a strategy stuck in user code, holding its
// runner, so that its account's updates pile up in the firm's queue.
type blocker struct {
	trading.BaseStrategy
	blocked chan struct{} // closed once it blocks
	release chan struct{}
	once    sync.Once
}

func (b *blocker) Start(*trading.Env) (trading.Subscription, error) {
	return trading.Subscription{Interval: 10 * time.Millisecond}, nil
}

func (b *blocker) OnTimer(env *trading.Env) {
	if env.OrdersPlaced() < 2 {
		env.Submit(trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1)})
	}
}

func (b *blocker) OnOrder(*trading.Env, trading.OrderEvent) {
	b.once.Do(func() {
		close(b.blocked)
		<-b.release
	})
}

// TestFirmBlockedTenant runs 1,000 Broker API accounts on one engine, all
// fed by the firm's one event stream, while one tenant's strategy is
// stuck. Every other tenant's fills reach it through the stream (the
// sweep that would otherwise find them is off), the stream delivers every
// event the broker published (counted on both sides), no queue
// overflows, and the stuck tenant catches up once released.
func TestFirmBlockedTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 accounts; skipped with -short")
	}
	const (
		n     = 1000
		count = 3
	)
	srv, ids, firm := firmAccounts(t, n)
	e := newEngine(t, MustOpenJournal(t, t.TempDir()))
	// Only the stream can finish an order: no sweep, no account refresh.
	e.SweepInterval = time.Hour
	e.AccountInterval = time.Hour
	stuck := &blocker{blocked: make(chan struct{}), release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(stuck.release)
		}
	}()
	for i, id := range ids {
		tc := dcaTenant(fmt.Sprint("f", i), firm.Account(id), count, 20*time.Millisecond)
		if i == 0 {
			tc.StrategyName = "blocker"
			tc.NewStrategy = func() (trading.Strategy, error) { return stuck, nil }
		}
		if err := e.AddTenant(tc); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	<-stuck.blocked
	finished := func(s trading.TenantStatus, want int) bool { return s.OrdersPlaced == want && s.OpenOrders == 0 }
	// A thousand tenants' orders take as long as the machine needs (a
	// few seconds here, minutes under -race on a busy 2-core machine):
	// wait while fills keep coming.
	waitProgress(t, 2*time.Minute, "every other tenant's orders filled through the stream", func() bool {
		for _, s := range e.Statuses()[1:] {
			if !finished(s, count) {
				return false
			}
		}
		return true
	}, func() (n int) {
		for _, s := range e.Statuses()[1:] {
			n += s.OrdersPlaced + s.Fills
		}
		return n
	})
	if s := e.Statuses()[0]; s.OrdersPlaced > 1 {
		t.Fatalf("the stuck tenant placed %d orders while stuck", s.OrdersPlaced)
	}
	close(stuck.release)
	released = true
	waitFor(t, 10*time.Second, "the stuck tenant to catch up once released", func() bool { return finished(e.Statuses()[0], 2) })
	waitFor(t, 10*time.Second, "the stream to deliver every published event", func() bool { return firm.Stats().Received == srv.FirmEvents() })
	st := firm.Stats()
	if want := uint64(2 * ((n-1)*count + 2)); st.Received != want {
		t.Errorf("the firm's stream carried %d events, want %d (new and fill for each order)", st.Received, want)
	}
	if st.Overflows != 0 || st.Unrouted != 0 {
		t.Errorf("stream stats %+v: want nothing overflowed or unrouted", st)
	}
	// Every fill came through the stream, unless the stream itself had a
	// gap (the broker cuts off a reader that falls a whole replay ring
	// behind, which a loaded machine can make happen), a runner restarted
	// or a submission's outcome was unknown (a timeout): then a resync or
	// look-up by REST may have applied one first, and
	// the stream's copy was a duplicate. Either way nothing is missing:
	// every order above finished.
	for _, s := range e.Statuses() {
		if s.ID == "f0" || s.Fills == count {
			continue
		}
		if st.Resyncs == 0 && s.Restarts == 0 && s.Unknown == 0 {
			t.Fatalf("%s: %d fills applied from the stream, want %d (stream stats %+v)", s.ID, s.Fills, count, st)
		}
		t.Logf("%s: %d of %d fills from the stream, the rest by REST (stream resyncs %d, runner restarts %d (last: %s), unknown outcomes %d)", s.ID, s.Fills, count, st.Resyncs, s.Restarts, s.LastError, s.Unknown)
	}
}

// BenchmarkFirmSignalToAck is BenchmarkSignalToAck for 1,000 Broker API
// accounts on one engine, all fed by the firm's one event stream: each
// tenant signals once a second (1,000 orders/s in all) and the time from
// its Submit to the journaled acknowledgement is recorded. In OneBlocked
// the first tenant's strategy is stuck in user code the whole time; the
// other tenants' figures are what to compare with AllRunning. KeyPairs
// is the same load on 1,000 Trading API tenants.
//
//	go test -run '^$' -bench FirmSignalToAck -benchtime 3000x ./engine
func BenchmarkFirmSignalToAck(b *testing.B) {
	for _, mode := range []string{"AllRunning", "OneBlocked", "KeyPairs"} {
		blocked, keys := mode == "OneBlocked", mode == "KeyPairs"
		b.Run(mode, func(b *testing.B) {
			const n = 1000
			srv, ids, firm := firmAccounts(b, n)
			e := newEngine(b, MustOpenJournal(b, b.TempDir()))
			e.SweepInterval = 5 * time.Second
			e.AccountInterval = time.Hour
			rec := &latencies{}
			armed := new(atomic.Bool)
			per := max(1, b.N/n)
			stuck := &blocker{blocked: make(chan struct{}), release: make(chan struct{})}
			defer close(stuck.release)
			probes := 0
			for i, id := range ids {
				var br trading.Broker = firm.Account(id)
				if keys {
					// The same load on Trading API tenants, a client and
					// stream each: the figures to compare the firm's with.
					br, _ = MustBroker(b, srv.URL, alpaca.WithUnencryptedHTTP2())
				}
				tc := engine.TenantConfig{ID: trading.TenantID(fmt.Sprint("f", i)), Broker: br, StrategyName: "probe"}
				if blocked && i == 0 {
					tc.NewStrategy = func() (trading.Strategy, error) { return stuck, nil }
				} else {
					p := &probe{every: time.Second, count: per, rec: rec, armed: armed}
					tc.NewStrategy = func() (trading.Strategy, error) { return p, nil }
					probes++
				}
				if err := e.AddTenant(tc); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.Open(); err != nil {
				b.Fatal(err)
			}
			if blocked {
				<-stuck.blocked
			}
			waitFor(b, time.Minute, "every probe running", func() bool {
				for _, s := range e.Statuses() {
					if s.Health != trading.HealthRunning && s.ID != "f0" {
						return false
					}
				}
				return true
			})
			b.ResetTimer()
			start := time.Now()
			armed.Store(true)
			for rec.len() < per*probes {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("only %d of %d acks", rec.len(), per*probes)
				}
				time.Sleep(10 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			d := slices.Clone(rec.d)
			slices.Sort(d)
			pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / 1e6 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(len(d))/elapsed.Seconds(), "orders/s")
			st := firm.Stats()
			b.ReportMetric(float64(st.Received), "events")
			b.ReportMetric(float64(st.Overflows), "overflowed")
		})
	}
}
