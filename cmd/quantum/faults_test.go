package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
)

// TestFaultPostgresOutage runs the engine binary on a PostgreSQL journal
// behind a TCP proxy the test cuts while three tenants trade against a
// separate broker. While the database is gone /healthz says so and a HALT
// still takes effect (202); when it is back the engine recovers by itself:
// no restart, every tenant finishes with exactly its orders at the broker,
// none twice, and the halted tenant stays halted instead of being undone
// by its older stored state.
func TestFaultPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs subprocesses; skipped with -short")
	}
	proxy, dsn := pgtest.NewProxyDSN(t, pgtest.SchemaDSN(t))
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := quantumBinary(t)
	const count = 300
	broker, brokerURL := startBroker(ctx, t, bin, "--seed", "31")
	defer broker.stop(t)
	dir := t.TempDir()
	cfgPath, clients := dcaFleet(t, dir, brokerURL, "journal: \""+dsn+"\"\n", "f", 3, count, "20ms")
	eng := startProc(ctx, t, bin, "run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	api := eng.waitFor(t, clitest.OpsAPIRE, time.Minute)

	placed := func(id string) int { return tenantInfo(t, api, id).OrdersPlaced }
	waitUntil(t, "trading under way", func() bool { return placed("f0") >= 30 && placed("f1") >= 30 && placed("f2") >= 30 })

	cutAt := time.Now()
	proxy.Cut()
	var health struct {
		Status   string
		Problems map[string]string
	}
	waitUntil(t, "/healthz to report the outage", func() bool {
		code := getJSON(t, api+"/healthz", &health)
		return code == http.StatusServiceUnavailable && len(health.Problems) == 3
	})
	t.Logf("healthz 503 %v after the cut: %v", time.Since(cutAt).Round(10*time.Millisecond), health.Problems)

	resp, err := http.Post(api+"/api/tenants/f0/state", "application/json", strings.NewReader(`{"state":"HALTED"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HALT with the database down: status %d, want 202 (applied, saved later)", resp.StatusCode)
	}
	resp, err = http.Post(api+"/api/tenants/f1/state", "application/json", strings.NewReader(`{"state":"REDUCING"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || tenantState(t, api, "f1") != "ACTIVE" {
		t.Fatalf("REDUCING with the database down: status %d, state %s; want 503 and nothing changed", resp.StatusCode, tenantState(t, api, "f1"))
	}

	proxy.Restore()
	restoredAt := time.Now()
	waitUntil(t, "f1 and f2 finished after the outage", func() bool {
		done := true
		for _, id := range []string{"f1", "f2"} {
			ti := tenantInfo(t, api, id)
			done = done && ti.OrdersPlaced >= count && ti.OpenOrders == 0
		}
		return done
	})
	// The halted tenant is refusing its strategy's orders on the engine
	// that runs it again, and is still HALTED.
	refused := tenantInfo(t, api, "f0").RiskRejections
	waitUntil(t, "f0 refusing orders after the outage", func() bool { return tenantInfo(t, api, "f0").RiskRejections >= refused+5 })
	if s := tenantState(t, api, "f0"); s != "HALTED" {
		t.Fatalf("f0 is %s after the database came back, want HALTED", s)
	}
	t.Logf("f1 and f2 finished %v after the database came back", time.Since(restoredAt).Round(10*time.Millisecond))
	// A runner failure counts as recent until a runner has run for the
	// engine's RestartReset (a minute) since: healthz is 503 until then.
	waitUntilFor(t, 3*time.Minute, "/healthz ok again", func() bool { return getJSON(t, api+"/healthz", &health) == http.StatusOK })
	t.Logf("healthz 200 again %v after the database came back", time.Since(restoredAt).Round(10*time.Millisecond))

	if err := eng.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := eng.wait(time.Minute); err != nil {
		t.Errorf("engine exit after SIGINT: %v\n%s", err, eng.output())
	}
	for i, c := range clients {
		orders, distinct := brokerCount(ctx, t, c)
		switch {
		case distinct != orders:
			t.Errorf("tenant f%d: %d orders with %d distinct client ids: one was placed twice", i, orders, distinct)
		case i > 0 && orders != count:
			t.Errorf("tenant f%d: broker holds %d orders, want %d", i, orders, count)
		case i == 0 && orders >= count:
			t.Errorf("halted tenant f0: broker holds %d orders, want fewer than %d", orders, count)
		}
	}
	if t.Failed() {
		t.Logf("engine output:\n%s", eng.output())
	}
}

// waitUntil polls cond every 50ms; a minute is a safety net for a hung
// engine, not a speed requirement.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, time.Minute, what, cond)
}

func waitUntilFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// getJSON decodes url's JSON body into v and returns the status code.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// TestFaultBrokerDown: the engine binary pointed at a broker that does not
// answer says so at once (banner, /healthz with the cause, /readyz), and
// its ops API refuses what a web page could send it.
func TestFaultBrokerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs subprocesses; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := quantumBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfg, []byte("broker: http://"+dead+"\nrate_limit: 0\ntenants:\n  - {id: d0, key_id: PKDOWN, secret: down-secret, strategy: dca, params: {symbol: AAPL, interval: 50ms, count: 10}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng := startProc(ctx, t, bin, "run", "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	api := eng.waitFor(t, clitest.OpsAPIRE, time.Minute)
	if out := eng.output(); !strings.Contains(out, "0 of 1 tenants trading") || !strings.Contains(out, dead) {
		t.Errorf("the banner claims trading or hides the cause:\n%s", out)
	}
	var health struct {
		Status   string
		Problems map[string]string
	}
	if code := getJSON(t, api+"/healthz", &health); code != http.StatusServiceUnavailable || !strings.Contains(health.Problems["d0"], dead) {
		t.Errorf("/healthz = %d %+v, want 503 naming %s", code, health, dead)
	}
	if !strings.Contains(eng.output(), "level=WARN") && !strings.Contains(eng.output(), "level=ERROR") {
		t.Errorf("no warning or error logged:\n%s", eng.output())
	}

	// A page on another site cannot flip the kill switch.
	post := func(ctype, host, origin string) int {
		req, err := http.NewRequest("POST", api+"/api/tenants/d0/state", strings.NewReader(`{"state":"ACTIVE"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		ctype, host, origin string
		want                int
	}{
		{"text/plain", "", "", http.StatusUnsupportedMediaType},
		{"application/json", "", "https://evil.example", http.StatusForbidden},
		{"application/json", "rebind.evil.example", "", http.StatusForbidden},
	} {
		if got := post(tc.ctype, tc.host, tc.origin); got != tc.want {
			t.Errorf("POST state as %s, host %q, origin %q: %d, want %d", tc.ctype, tc.host, tc.origin, got, tc.want)
		}
	}
}

// TestFaultJournalLost: the engine binary is killed after its tenant
// finished, its SQLite journal is truncated to nothing, and it is started
// again with the same config: it finds the broker's orders before trading,
// journals them, and places none again.
func TestFaultJournalLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs subprocesses; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := quantumBinary(t)
	const count = 40
	broker, brokerURL := startBroker(ctx, t, bin, "--seed", "41", "--fail-rate", "0.1", "--drop-rate", "0.05")
	defer broker.stop(t)
	dir := t.TempDir()
	cfgPath, clients := dcaFleet(t, dir, brokerURL, "", "j", 2, count, "5ms")
	data := filepath.Join(dir, "data")
	args := []string{"run", "--config", cfgPath, "--data", data, "--listen", "127.0.0.1:0"}

	eng := startProc(ctx, t, bin, args...)
	api := eng.waitFor(t, clitest.OpsAPIRE, time.Minute)
	waitUntil(t, "both tenants done", func() bool { done, _ := allDone(t, api, count); return done })
	eng.kill(t)
	for _, name := range []string{"journal.db-wal", "journal.db-shm"} {
		if err := os.Remove(filepath.Join(data, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.Truncate(filepath.Join(data, "journal.db"), 0); err != nil {
		t.Fatal(err)
	}

	eng = startProc(ctx, t, bin, args...)
	api = eng.waitFor(t, clitest.OpsAPIRE, time.Minute)
	waitUntil(t, "the lost orders adopted", func() bool { done, _ := allDone(t, api, count); return done })
	if !strings.Contains(eng.output(), "journal had lost") {
		t.Errorf("adoption not logged:\n%s", eng.output())
	}
	if err := eng.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := eng.wait(time.Minute); err != nil {
		t.Errorf("engine exit after SIGINT: %v\n%s", err, eng.output())
	}
	for i, c := range clients {
		orders, distinct := brokerCount(ctx, t, c)
		if orders != count || distinct != count {
			t.Errorf("tenant j%d: broker holds %d orders with %d distinct client ids, want %d", i, orders, distinct, count)
		}
	}
}

// brokerCount returns how many orders c's account holds and how many
// distinct client order ids they carry: fewer ids than orders means one
// was placed twice.
func brokerCount(ctx context.Context, t *testing.T, c *alpaca.Client) (orders, distinct int) {
	t.Helper()
	list, err := listAll(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, o := range list {
		ids[o.ClientOrderID] = true
	}
	return len(list), len(ids)
}
