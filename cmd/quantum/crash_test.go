package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

// TestCrashRecovery is the exactly-once proof of issue 5: the engine runs
// as a separate process against a separate `quantum broker`, is killed
// with SIGKILL at random moments while orders flow, and restarted on the
// same data directory each time. In the end every tenant's account must
// hold exactly `count` orders with `count` distinct client order ids:
// nothing lost, nothing placed twice.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs subprocesses; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	bin := quantumBinary(t)
	t.Run("CleanBroker", func(t *testing.T) { crashRun(ctx, t, bin, "", 200, keyFleet) })
	// The same with a broker that fails and drops some requests, half of
	// them after acting on them: the ambiguous case look-up-before-resend
	// exists for.
	t.Run("FaultyBroker", func(t *testing.T) {
		crashRun(ctx, t, bin, "", 100, keyFleet, "--fail-rate", "0.05", "--drop-rate", "0.05")
	})
	// The same proof with the journal in PostgreSQL.
	t.Run("PostgreSQL", func(t *testing.T) { crashRun(ctx, t, bin, pgtest.SchemaDSN(t), 100, keyFleet) })
	// The same proof with the tenants as customer accounts of one Broker
	// API firm, created by quantum tenants create, their fills all coming
	// through the firm's one event stream; the broker fails some calls.
	t.Run("BrokerAPI", func(t *testing.T) {
		crashRun(ctx, t, bin, "", 100, firmFleet(ctx, bin), "--fail-rate", "0.05", "--drop-rate", "0.05")
	})
}

// A fleetFunc writes the config of n dca tenants named prefix0,
// prefix1, ... each buying 1 AAPL every interval up to count, on the
// broker at brokerURL (started with firmFlags), with the given top-level
// lines, and returns its path and a client on each tenant's account.
type fleetFunc func(t *testing.T, dir, brokerURL, header, prefix string, n, count int, interval string) (string, []*alpaca.Client)

// keyFleet is a fleet of Trading API tenants, a key pair each.
var keyFleet fleetFunc = dcaFleet

// firmKey and firmSecret are the test firm's Broker API credentials.
const firmKey, firmSecret = "CKFIRMTEST", "firm-test-secret-0123456789"

// firmFlags start a broker that serves the test firm.
var firmFlags = []string{"--broker-key", firmKey, "--broker-secret", firmSecret}

var createdAccountRE = regexp.MustCompile(`\{id: (\S+), broker_account_id: ([0-9a-f-]{36}),`)

// firmFleet is a fleet of Broker API customer accounts under one firm,
// applied for with quantum tenants create as an operator would.
func firmFleet(ctx context.Context, bin string) fleetFunc {
	return func(t *testing.T, dir, brokerURL, header, prefix string, n, count int, interval string) (string, []*alpaca.Client) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, "tenants", "create", "--url", brokerURL, "--count", fmt.Sprint(n), "--prefix", prefix)
		cmd.Env = append(os.Environ(), "BROKER_API_KEY="+firmKey, "BROKER_API_SECRET="+firmSecret)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("quantum tenants create: %v\n%s", err, stderr.String())
		}
		created := createdAccountRE.FindAllStringSubmatch(string(out), -1)
		if len(created) != n {
			t.Fatalf("quantum tenants create printed %d accounts, want %d:\n%s", len(created), n, out)
		}
		firm, err := alpaca.NewBroker(brokerURL, alpaca.WithBrokerCredentials(firmKey, firmSecret), alpaca.WithRateLimit(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "broker: %s\nbroker_api: {url: %s, key: %s, secret: %s}\n%stenants:\n", brokerURL, brokerURL, firmKey, firmSecret, header)
		clients := make([]*alpaca.Client, n)
		for i, m := range created {
			fmt.Fprintf(&cfg, "  - {id: %s%d, broker_account_id: %s, strategy: dca, params: {symbol: AAPL, qty: 1, interval: %s, count: %d}}\n",
				prefix, i, m[2], interval, count)
			clients[i] = firm.Account(m[2])
		}
		path := filepath.Join(dir, "cfg.yaml")
		if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, clients
	}
}

// crashRun runs the proof with the journal in dsn, or in SQLite under the
// data directory when dsn is empty.
func crashRun(ctx context.Context, t *testing.T, bin, dsn string, count int, fleet fleetFunc, brokerFlags ...string) {
	const (
		tenants = 5
		kills   = 3
	)
	dir := t.TempDir()

	broker, brokerURL := startBroker(ctx, t, bin, append(append([]string{"--seed", "11"}, firmFlags...), brokerFlags...)...)
	defer broker.stop(t)
	header := ""
	if dsn != "" {
		header = fmt.Sprintf("journal: %q\n", dsn)
	}
	cfgPath, clients := fleet(t, dir, brokerURL, header, "c", tenants, count, "5ms")
	data := filepath.Join(dir, "data")
	runArgs := []string{"run", "--config", cfgPath, "--data", data, "--listen", "127.0.0.1:0"}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 5))
	t.Logf("kill timing seed %d", seed)
	progress := func() string {
		var b strings.Builder
		for i, c := range clients {
			orders, err := listAll(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " c%d=%d", i, len(orders))
		}
		return b.String()
	}
	for k := range kills {
		eng := startProc(ctx, t, bin, runArgs...)
		eng.waitFor(t, clitest.OpsAPIRE, 20*time.Second)
		// Orders flow from the moment the runners start; the whole run
		// takes a second or two, so these moments land mid-flow.
		wait := time.Duration(50+rng.IntN(400)) * time.Millisecond
		time.Sleep(wait)
		eng.kill(t)
		t.Logf("kill %d after %v; orders at the broker:%s", k+1, wait, progress())
	}

	eng := startProc(ctx, t, bin, runArgs...)
	api := eng.waitFor(t, clitest.OpsAPIRE, 20*time.Second)
	for {
		done, status := allDone(t, api, count)
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("engine did not finish after restarts: %s\nstderr:\n%s", status, eng.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cfg, err := os.ReadFile(cfgPath); err == nil && strings.Contains(string(cfg), "broker_api:") {
		// The fills came through the firm's one stream (its look-back
		// replays the whole run to the last engine), every one routed to
		// a tenant and none dropped for a full queue.
		if n := counter(t, api, "quantum_broker_api_events_total"); n < float64(tenants*count) {
			t.Errorf("the firm's stream carried %v events, want at least one fill per order (%d)", n, tenants*count)
		}
		if n := counter(t, api, "quantum_broker_api_events_overflowed_total"); n != 0 {
			t.Errorf("%v events overflowed a tenant's queue", n)
		}
	}
	// A graceful stop: the process must exit 0 on SIGINT.
	if err := eng.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := eng.wait(time.Minute); err != nil {
		t.Fatalf("engine exit after SIGINT: %v\n%s", err, eng.output())
	}

	// The journal must agree with the broker: every tenant's 200 orders
	// journaled as filled, with the broker's order ids.
	var j interface {
		trading.Journal
		Open(context.Context) error
	} = sqlite.NewJournal(filepath.Join(data, "journal.db"))
	if dsn != "" {
		j = postgres.NewJournal(dsn)
	}
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range tenants {
		id := trading.TenantID(fmt.Sprintf("c%d", i))
		list, err := j.Orders(ctx, trading.OrderFilter{TenantID: id})
		if err != nil {
			t.Fatal(err)
		}
		statuses := map[trading.OrderStatus]int{}
		for _, o := range list {
			statuses[o.Status]++
			if o.BrokerOrderID == "" {
				t.Errorf("%s: %s has no broker order id", id, o.Intent.ClientOrderID)
			}
		}
		if len(list) != count || statuses[trading.StatusFilled] != count {
			t.Errorf("journal for %s: %d orders, statuses %v; want %d filled", id, len(list), statuses, count)
		}
	}

	for i, c := range clients {
		orders, err := listAll(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, o := range orders {
			ids[o.ClientOrderID]++
		}
		if len(orders) != count || len(ids) != count {
			var dups []string
			for id, n := range ids {
				if n > 1 {
					dups = append(dups, id)
				}
			}
			t.Errorf("tenant c%d: broker holds %d orders with %d distinct client ids, want %d (duplicated ids: %v)", i, len(orders), len(ids), count, dups)
		}
	}
}

// allDone reports whether every tenant has placed count orders and has
// none unfinished, according to the ops API.
func allDone(t *testing.T, api string, count int) (bool, string) {
	resp, err := http.Get(api + "/api/tenants")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Tenants []web.Tenant `json:"tenants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, err.Error()
	}
	var b strings.Builder
	done := len(body.Tenants) > 0
	for _, ts := range body.Tenants {
		fmt.Fprintf(&b, "%s: placed %d open %d health %s; ", ts.ID, ts.OrdersPlaced, ts.OpenOrders, ts.Health)
		if ts.OrdersPlaced < count || ts.OpenOrders > 0 {
			done = false
		}
	}
	return done, b.String()
}

// proc is a subprocess whose combined output is collected.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	lines  chan string
	waited chan error
}

func startProc(ctx context.Context, t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.CommandContext(ctx, bin, args...), lines: make(chan string, 1024), waited: make(chan error, 1)}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.Env = append(os.Environ(), "LOG_LEVEL=WARN")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is looking for a line any more
			}
		}
	}()
	go func() {
		err := p.cmd.Wait()
		pw.Close()
		wg.Wait()
		p.waited <- err
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// waitFor returns the first submatch of the first output line matching re.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-timer.C:
			t.Fatalf("%s: no line matching %s:\n%s", p.cmd.Path, re, p.output())
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(10 * time.Second)
}

func (p *proc) wait(d time.Duration) error {
	select {
	case err := <-p.waited:
		p.waited <- err // later waits see it too
		return err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

func (p *proc) stop(t *testing.T) {
	// Signalling a process that has exited is a harmless error.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.wait(10 * time.Second)
}

var brokerRE = regexp.MustCompile(`serving the Alpaca API on (http://\S+)`)

// startBroker runs `quantum broker` as its own process, so that killing an
// engine cannot take the broker's state with it, and returns its URL.
func startBroker(ctx context.Context, t *testing.T, bin string, flags ...string) (*proc, string) {
	t.Helper()
	p := startProc(ctx, t, bin, append([]string{"broker", "--listen", "127.0.0.1:0", "--auto-provision"}, flags...)...)
	return p, p.waitFor(t, brokerRE, 20*time.Second)
}

// dcaFleet writes a config of n dca tenants named prefix0, prefix1, ...
// buying 1 AAPL every interval up to count, with the given top-level
// lines, and returns its path and a client on each tenant's account.
func dcaFleet(t *testing.T, dir, brokerURL, header, prefix string, n, count int, interval string) (string, []*alpaca.Client) {
	t.Helper()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "broker: %s\nrate_limit: 0\n%stenants:\n", brokerURL, header)
	runID := time.Now().UnixNano()
	clients := make([]*alpaca.Client, n)
	for i := range n {
		key, secret := fmt.Sprintf("PK%s%d%d", strings.ToUpper(prefix), runID, i), fmt.Sprintf("%s-secret-%d-0123456789", prefix, i)
		fmt.Fprintf(&cfg, "  - {id: %s%d, key_id: %s, secret: %s, strategy: dca, params: {symbol: AAPL, qty: 1, interval: %s, count: %d}}\n",
			prefix, i, key, secret, interval, count)
		c, err := alpaca.New(brokerURL, alpaca.WithCredentials(key, secret), alpaca.WithRateLimit(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	path := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, clients
}

// counter reads one unlabelled series from the engine's /metrics.
func counter(t *testing.T, api, name string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
