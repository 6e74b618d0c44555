package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/web"
)

// runningCmd is a command running in-process.
type runningCmd struct {
	api    string // the ops API's base URL, for quantum run
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the command and returns what Run returned.
func (r *runningCmd) stop() error {
	r.cancel()
	err := <-r.done
	r.done <- err // for a second stop (the cleanup)
	return err
}

// startApp runs a with args until the test ends or stop is called, and
// waits for quantum run's banner to say where the ops API is.
func startApp(t *testing.T, a *App, stdout, stderr *syncBuffer, args ...string) *runningCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningCmd{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx, args) }()
	t.Cleanup(func() { _ = r.stop() })
	waitForOutput(t, stdout, "the ops API address", func(s string) bool {
		if m := clitest.OpsAPIRE.FindStringSubmatch(s); m != nil {
			r.api = m[1]
			return true
		}
		return false
	})
	return r
}

// waitForOutput waits (bounded) until ok(buf's text) holds.
func waitForOutput(t *testing.T, buf *syncBuffer, what string, ok func(string) bool) {
	t.Helper()
	waitForCond(t, what, func() bool { return ok(buf.String()) })
}

func waitForCond(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func demoGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func demoTenant(t *testing.T, api, id string) web.Tenant {
	t.Helper()
	var ts web.Tenant
	demoGetJSON(t, api+"/api/tenants/"+id, &ts)
	return ts
}

func demoOrders(t *testing.T, api, id string) []web.Order {
	t.Helper()
	var body struct {
		Orders []web.Order `json:"orders"`
	}
	demoGetJSON(t, api+"/api/tenants/"+id+"/orders?limit=1000", &body)
	return body.Orders
}

// TestDemoStartsClean (issue 11): the embedded broker is new at every
// demo run, so the demo's journal must be too: a second run starts ACTIVE
// although the first was halted, and shows none of the first run's
// orders or positions.
func TestDemoStartsClean(t *testing.T) {
	dir := t.TempDir()

	a1, stdout1, stderr1 := newApp(nil)
	a1.demoData = dir
	r1 := startApp(t, a1, stdout1, stderr1, "run", "--listen", "127.0.0.1:0")
	waitForCond(t, "demo-dca to hold AAPL", func() bool { return demoTenant(t, r1.api, "demo-dca").Positions["AAPL"] != "" })
	resp, err := http.Post(r1.api+"/api/tenants/demo-dca/state", "application/json", strings.NewReader(`{"state":"HALTED"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("halt: %d", resp.StatusCode)
	}
	// Orders are told apart by id and creation time: ids repeat from run
	// to run (the tenant's sequence starts again), times do not.
	type key struct {
		id string
		at time.Time
	}
	var first []key
	for _, o := range demoOrders(t, r1.api, "demo-dca") {
		first = append(first, key{o.ClientOrderID, o.CreatedAt})
	}
	if err := r1.stop(); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr1)
	}
	if len(first) == 0 {
		t.Fatal("the first run placed no orders")
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.db")); err != nil {
		t.Fatalf("the demo's journal is not in its data dir: %v", err)
	}

	a2, stdout2, stderr2 := newApp(nil)
	a2.demoData = dir
	r2 := startApp(t, a2, stdout2, stderr2, "run", "--listen", "127.0.0.1:0")
	ts := demoTenant(t, r2.api, "demo-dca")
	// Read after the tenant, the orders include every fill its position
	// can be made of.
	orders := demoOrders(t, r2.api, "demo-dca")
	if ts.State != "ACTIVE" {
		t.Errorf("second run: demo-dca is %s, want ACTIVE", ts.State)
	}
	filled := decimal.Zero
	for _, o := range orders {
		if slices.Contains(first, key{o.ClientOrderID, o.CreatedAt}) {
			t.Errorf("second run shows the first run's order %s (%s)", o.ClientOrderID, o.CreatedAt)
		}
		if o.FilledQty != "" {
			filled = filled.Add(decimal.RequireFromString(o.FilledQty))
		}
	}
	if p := ts.Positions["AAPL"]; p != "" && decimal.RequireFromString(p).GreaterThan(filled) {
		t.Errorf("second run: demo-dca holds %s AAPL, more than its orders filled (%s)", p, filled)
	}
	if !strings.Contains(stderr2.String(), "demo: starting from a clean state") {
		t.Errorf("the second run does not say it started clean:\n%s", stderr2)
	}
	if strings.Contains(stderr1.String(), "demo: starting from a clean state") {
		t.Errorf("the first run, in an empty dir, says it removed something:\n%s", stderr1)
	}
}

// TestDemoDataDir: only the demo, on the embedded broker and its own
// default data dir, starts clean; a dir given on the command line or in a
// config is never emptied.
func TestDemoDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfg, []byte("tenants:\n  - {id: t1, strategy: dca, params: {symbol: AAPL}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		data  string
		fresh bool
	}{
		{"Demo", nil, filepath.Join(dir, "demo"), true},
		{"DemoWithData", []string{"--data", filepath.Join(dir, "mine")}, filepath.Join(dir, "mine"), false},
		{"DemoOnBroker", []string{"--broker", "http://127.0.0.1:1"}, filepath.Join(dir, "demo"), false},
		{"Config", []string{"--config", cfg}, DefaultDataDir, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _ := newApp(nil)
			a.demoData = filepath.Join(dir, "demo")
			rs, err := (&runCommand{app: a}).settings(tc.args, a.getenv)
			if err != nil {
				t.Fatal(err)
			}
			if rs.cfg.Data != tc.data || rs.freshDemo != tc.fresh {
				t.Errorf("data %q, fresh %v; want %q, %v", rs.cfg.Data, rs.freshDemo, tc.data, tc.fresh)
			}
		})
	}

	t.Run("Default", func(t *testing.T) {
		a, _, _ := newApp(nil)
		rs, err := (&runCommand{app: a}).settings(nil, a.getenv)
		if err != nil {
			t.Fatal(err)
		}
		if rs.cfg.Data != DefaultDemoDataDir || DefaultDemoDataDir == DefaultDataDir {
			t.Errorf("the demo's data dir is %q; want its own, %q", rs.cfg.Data, DefaultDemoDataDir)
		}
	})

	t.Run("ResetKeepsOtherFiles", func(t *testing.T) {
		d := t.TempDir()
		for _, name := range []string{"journal.db", "journal.db-wal", stateFileName, "notes.txt"} {
			if err := os.WriteFile(filepath.Join(d, name), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		if err := resetDemoData(d, log); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(d)
		if len(entries) != 1 || entries[0].Name() != "notes.txt" {
			t.Errorf("left %v, want only notes.txt", entries)
		}
		if n := strings.Count(buf.String(), "\n"); n != 1 {
			t.Errorf("%d log lines, want 1:\n%s", n, &buf)
		}
		buf.Reset()
		if err := resetDemoData(d, log); err != nil || buf.Len() != 0 {
			t.Errorf("nothing to remove: err %v, log %q", err, &buf)
		}
		if err := resetDemoData(filepath.Join(d, "missing"), log); err != nil {
			t.Errorf("missing dir: %v", err)
		}
	})
}
