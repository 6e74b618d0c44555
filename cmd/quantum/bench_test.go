package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

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
				brk := exec.CommandContext(ctx, bin, "broker", "--listen", "127.0.0.1:0", "--auto-provision")
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
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				rss0, fds0 := rssKiB(), openFDs()
				for i := range n {
					br, err := alpacabroker.New(alpacabroker.Config{BaseURL: url, KeyID: fmt.Sprintf("PKIDLE%d", i), SecretKey: "idle-secret-0123456789",
						UnencryptedHTTP2: true, IdleConnTimeout: idleConn})
					if err != nil {
						b.Fatal(err)
					}
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
				var fds, gor float64
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
					peak = max(peak, kib)
					fds += float64(openFDs()-fds0) / float64(n)
					gor += float64(runtime.NumGoroutine()) / float64(n)
				}
				b.ReportMetric(sum/samples, "KiB/tenant")
				b.ReportMetric(peak, "peak-KiB/tenant")
				b.ReportMetric(float64(rssKiB()-rss0)/float64(n), "RSS-KiB/tenant")
				b.ReportMetric(gor/samples, "goroutines/tenant")
				b.ReportMetric(fds/samples, "conns/tenant")
				_ = e.Close(ctx)
				_ = j.Close()
				_ = brk.Process.Kill()
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
