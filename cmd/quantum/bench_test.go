package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/trading"
)

// BenchmarkIdleTenantMemory measures what an idle tenant costs the engine
// process, everything included: its runner, strategy, alpaca client with
// its own connection pool and limiter, its live SSE trade-update
// connection, and the REST connection it opens to refresh its account
// now and then. The broker runs as a separate process so that its side
// of the connections is not counted.
//
//	go test -run '^$' -bench IdleTenantMemory -benchtime 1x ./cmd/quantum
func BenchmarkIdleTenantMemory(b *testing.B) {
	idleMemory(b, nil, func(b *testing.B, _ context.Context, url string, n int) []trading.Broker {
		out := make([]trading.Broker, n)
		for i := range n {
			br, err := alpacabroker.New(alpacabroker.Config{BaseURL: url, KeyID: fmt.Sprintf("PKIDLE%d", i), SecretKey: "idle-secret-0123456789",
				UnencryptedHTTP2: true, IdleConnTimeout: alpacabroker.DefaultIdleConnTimeout})
			if err != nil {
				b.Fatal(err)
			}
			out[i] = br
		}
		return out
	})
}

// BenchmarkIdleBrokerAPITenantMemory is BenchmarkIdleTenantMemory with
// the tenants as customer accounts of one Broker API firm: one client,
// one connection pool and one event stream for all of them, so that a
// tenant is only its runner, strategy and queue. The accounts are created
// before the baseline is taken; the firm's stream is counted.
//
//	go test -run '^$' -bench IdleBrokerAPITenantMemory -benchtime 1x ./cmd/quantum
func BenchmarkIdleBrokerAPITenantMemory(b *testing.B) {
	idleMemory(b, firmFlags, func(b *testing.B, ctx context.Context, url string, n int) []trading.Broker {
		admin, err := alpaca.NewBroker(url, alpaca.WithBrokerCredentials(firmKey, firmSecret), alpaca.WithRateLimit(0, 0))
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, n)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					a, err := admin.CreateAccount(ctx, idleCustomer(i))
					if err != nil {
						errs <- err
						return
					}
					ids[i] = a.ID
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		admin.CloseIdleConnections()
		firm, err := alpacabroker.NewFirm(alpacabroker.FirmConfig{BaseURL: url, Key: firmKey, Secret: firmSecret,
			UnencryptedHTTP2: true, IdleConnTimeout: alpacabroker.DefaultIdleConnTimeout})
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = firm.Run(ctx) }()
		out := make([]trading.Broker, n)
		for i, id := range ids {
			out[i] = firm.Account(id)
		}
		return out
	})
}

func idleCustomer(i int) alpaca.CreateAccountRequest {
	now := time.Now().UTC()
	agree := func(name string) alpaca.Agreement {
		return alpaca.Agreement{Agreement: name, SignedAt: now, IPAddress: "127.0.0.1"}
	}
	return alpaca.CreateAccountRequest{
		Contact: alpaca.Contact{EmailAddress: fmt.Sprintf("idle%d@example.com", i), PhoneNumber: "555-666-7788",
			StreetAddress: []string{"20 N San Mateo Dr"}, City: "San Mateo", State: "CA", PostalCode: "94401", Country: "USA"},
		Identity: alpaca.Identity{GivenName: "Idle", FamilyName: fmt.Sprint("Tenant ", i), DateOfBirth: "1990-01-01",
			TaxID: "666-55-4321", TaxIDType: "USA_SSN", CountryOfCitizenship: "USA", CountryOfBirth: "USA",
			CountryOfTaxResidence: "USA", FundingSource: []string{"employment_income"}},
		Disclosures: alpaca.Disclosures{EmploymentStatus: "employed"},
		Agreements:  []alpaca.Agreement{agree("customer_agreement"), agree("margin_agreement"), agree("account_agreement")},
	}
}

// idleMemory runs n idle dca tenants on the brokers that newBrokers makes
// against a separate broker process (started with brokerFlags) and
// reports the engine process's memory per tenant in the steady state.
// The baseline is taken after newBrokers, before the tenants start.
func idleMemory(b *testing.B, brokerFlags []string, newBrokers func(b *testing.B, ctx context.Context, url string, n int) []trading.Broker) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := quantumBinary(b)
	// Each tenant holds one connection (HTTP/2: REST and stream together)
	// in this process and one in the broker's.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < 65536 {
		lim.Cur, lim.Max = 65536, 65536
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) // may fail without privilege: checked below
	}
	// The engine's defaults: a 15s account refresh, 5s idle timeout.
	const (
		accountEvery = engine.DefaultAccountInterval
		idleConn     = alpacabroker.DefaultIdleConnTimeout
	)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(n)+512 {
				b.Skipf("open-file limit %d is too low for %d tenants", lim.Cur, n)
			}
			for range b.N {
				rctx, stop := context.WithCancel(ctx)
				brk := exec.CommandContext(rctx, bin, append([]string{"broker", "--listen", "127.0.0.1:0", "--auto-provision"}, brokerFlags...)...)
				stderr, err := brk.StderrPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := brk.Start(); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 4096)
				nr, _ := stderr.Read(buf)
				url := regexp.MustCompile(`http://\S+`).FindString(string(buf[:nr]))
				if url == "" {
					b.Fatalf("broker said %q", buf[:nr])
				}
				j := sqlite.NewJournal(filepath.Join(b.TempDir(), "j.db"))
				if err := j.Open(ctx); err != nil {
					b.Fatal(err)
				}
				e := engine.NewEngine(j)
				e.AccountInterval = accountEvery
				brokers := newBrokers(b, rctx, url, n)
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				rss0, fds0 := rssKiB(), openFDs()
				for i, br := range brokers {
					cfg := dca.Config{Symbol: "AAPL", Qty: decimal.NewFromInt(1), Interval: time.Hour}
					if err := e.AddTenant(engine.TenantConfig{ID: trading.TenantID(fmt.Sprintf("idle%d", i)), Broker: br, StrategyName: "dca",
						NewStrategy: func() (trading.Strategy, error) { return dca.New(cfg), nil }}); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Open(); err != nil {
					b.Fatal(err)
				}
				for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
					running := 0
					for _, s := range e.Statuses() {
						if s.Health == trading.HealthRunning {
							running++
						}
					}
					if running == n {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d running", running, n)
					}
				}
				// Let the streams connect and the connections of the start-up
				// reconciliation idle out: idle is what is measured.
				time.Sleep(idleConn + time.Second)
				// Steady state, sampled over two refresh periods: each idle
				// tenant reopens a REST connection to refresh its account and
				// the connection closes again after IdleConnTimeout, so at
				// any moment about idle/interval of the tenants hold one.
				var sum, peak float64
				var fds, gor, stack float64
				const samples = 12
				for i := range samples {
					if i > 0 {
						time.Sleep(2 * accountEvery / samples)
					}
					runtime.GC()
					var after runtime.MemStats
					runtime.ReadMemStats(&after)
					kib := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n) / 1024
					sum += kib
					stack += float64(after.StackInuse-before.StackInuse) / float64(n) / 1024
					peak = max(peak, kib)
					fds += float64(openFDs()-fds0) / float64(n)
					gor += float64(runtime.NumGoroutine()) / float64(n)
				}
				b.ReportMetric(sum/samples, "KiB/tenant")
				b.ReportMetric(peak, "peak-KiB/tenant")
				b.ReportMetric(stack/samples, "stack-KiB/tenant")
				if p := os.Getenv("QUANTUM_HEAP_PROFILE"); p != "" {
					// What the KiB are, for whoever wants them smaller.
					f, err := os.Create(p)
					if err != nil {
						b.Fatal(err)
					}
					runtime.GC()
					_ = pprof.WriteHeapProfile(f)
					_ = f.Close()
				}
				b.ReportMetric(float64(rssKiB()-rss0)/float64(n), "RSS-KiB/tenant")
				b.ReportMetric(gor/samples, "goroutines/tenant")
				b.ReportMetric(fds/samples, "conns/tenant")
				_ = e.Close(ctx)
				_ = j.Close()
				stop()
				_ = brk.Wait()
			}
		})
	}
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
