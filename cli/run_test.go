package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/web"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"K1": "PKFROMENV", "S1": "s3cr3t-from-env"}
	getenv := func(k string) string { return env[k] }

	t.Run("OK", func(t *testing.T) {
		cfg, err := ParseConfig(strings.NewReader(`
broker: http://127.0.0.1:8090
data: /tmp/x
rate_limit: 200
idle_conn_timeout: 30s
tenants:
  - id: t1
    key_id: PK1
    secret: ${S1}
    strategy: dca
    params: {symbol: aapl, qty: 1, interval: 10ms, count: 200}
    risk: {max_order_notional: 50000, max_position_qty: 1000, max_open_orders: 50, daily_loss_limit: "2500.50"}
  - id: t2
    key_id_env: K1
    secret_env: S1
    strategy: rebalance
    params: {targets: "AAPL:0.5,MSFT:0.5"}
    state: halted
`), getenv)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := cfg.validate(&New().strategies, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(specs), 2; got != want {
			t.Fatalf("got %d tenants, want %d", got, want)
		}
		if specs[0].Secret != "s3cr3t-from-env" || specs[1].KeyID != "PKFROMENV" || specs[1].State != "HALTED" {
			t.Fatalf("specs: %+v", specs)
		}
		if specs[0].Limits.MaxOpenOrders != 50 || specs[0].Limits.DailyLossLimit.String() != "2500.5" {
			t.Fatalf("limits: %+v", specs[0].Limits)
		}
		if *cfg.RateLimit != 200 || cfg.Broker != "http://127.0.0.1:8090" || cfg.idleConn != 30*time.Second {
			t.Fatalf("cfg: %+v", cfg)
		}
	})

	t.Run("KeyValueJournal", func(t *testing.T) {
		cfg, err := ParseConfig(strings.NewReader("journal: \"host=db.internal port=5433 user=q password=s3cr3t dbname=trading\"\n"+
			"tenants:\n  - {id: t1, key_id: PK1, secret: s, strategy: dca, params: {symbol: AAPL}}\n"), getenv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.validate(&New().strategies, false); err != nil {
			t.Fatal(err)
		}
		if !cfg.sharedJournal() || strings.Contains(cfg.journalAt, "s3cr3t") || !strings.Contains(cfg.journalAt, "db.internal:5433/trading") {
			t.Fatalf("journal shown as %q", cfg.journalAt)
		}
	})

	// Tenants as customer accounts of one Broker API firm.
	firm := "broker_api:\n  url: http://127.0.0.1:8090\n  key: CKFIRM\n  secret: s3cr3t\n"
	acct := func(id, account string) string {
		return "  - {id: " + id + ", broker_account_id: " + account + ", strategy: dca, params: {symbol: AAPL}}\n"
	}
	t.Run("BrokerAPIAccounts", func(t *testing.T) {
		cfg, err := ParseConfig(strings.NewReader(strings.Replace(firm, "secret: s3cr3t", "secret_env: S1", 1)+
			"tenants:\n"+acct("a", "acc-1")+acct("b", "acc-2")+"  - {id: c, key_id: PK1, secret: s, strategy: dca, params: {symbol: AAPL}}\n"), getenv)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := cfg.validate(&New().strategies, false)
		if err != nil {
			t.Fatal(err)
		}
		if specs[0].BrokerAccountID != "acc-1" || specs[1].BrokerAccountID != "acc-2" || specs[0].KeyID != "" || specs[2].KeyID != "PK1" {
			t.Fatalf("specs %+v", specs)
		}
		if cfg.BrokerAPI.secret != "s3cr3t-from-env" || cfg.BrokerAPI.URL != "http://127.0.0.1:8090" {
			t.Fatalf("firm %+v", cfg.BrokerAPI)
		}
	})

	// Each bad config must fail before anything runs, naming the field.
	base := "tenants:\n  - id: t1\n    key_id: PK1\n    secret: s\n    strategy: dca\n    params: {symbol: AAPL}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"UnknownTopKey", "brokr: http://x\n" + base, "field brokr not found"},
		{"UnknownTenantKey", strings.Replace(base, "strategy: dca", "strategy: dca\n    sekret: x", 1), "field sekret not found"},
		{"UnknownRiskKey", base + "    risk: {max_notional: 5}\n", "field max_notional not found"},
		{"UnknownParam", strings.Replace(base, "{symbol: AAPL}", "{symbol: AAPL, intervl: 1s}", 1), "tenants[0](t1).params.intervl"},
		{"BadInterval", strings.Replace(base, "{symbol: AAPL}", "{symbol: AAPL, interval: soon}", 1), "tenants[0](t1).params.interval"},
		{"MissingSymbol", strings.Replace(base, "{symbol: AAPL}", "{qty: 1}", 1), "tenants[0](t1).params.symbol"},
		{"MissingSecret", strings.Replace(base, "    secret: s\n", "", 1), "tenants[0](t1).secret"},
		{"UnsetSecretEnv", strings.Replace(base, "secret: s", "secret_env: NOPE", 1), "NOPE"},
		{"UnknownStrategy", strings.Replace(base, "strategy: dca", "strategy: yolo", 1), "tenants[0](t1).strategy"},
		{"BadRisk", base + "    risk: {max_order_notional: lots}\n", "tenants[0](t1).risk.max_order_notional"},
		{"NegativeRisk", base + "    risk: {max_open_orders: -1}\n", "tenants[0](t1).risk.max_open_orders"},
		{"BadState", base + "    state: panic\n", "tenants[0](t1).state"},
		{"NegativeRate", "rate_limit: -5\n" + base, "rate_limit"},
		{"BadIdleConnTimeout", "idle_conn_timeout: forever\n" + base, "idle_conn_timeout"},
		{"BadJournal", "journal: mysql://u:s3cr3t@db/x\n" + base, "journal"},
		{"ZeroIdleConnTimeout", "idle_conn_timeout: 0s\n" + base, "idle_conn_timeout"},
		{"BadBroker", "broker: ftp://x\n" + base, "broker"},
		{"DuplicateID", base + strings.TrimPrefix(base, "tenants:\n"), "used by two tenants"},
		{"DuplicateKey", base + strings.Replace(strings.TrimPrefix(base, "tenants:\n"), "id: t1", "id: t2", 1), "tenants[1](t2).key_id"},
		{"NegativeBreaker", base + "    risk: {breaker_errors: -3}\n", "tenants[0](t1).risk.breaker_errors"},
		{"HugeLimit", base + "    risk: {max_order_notional: 1e400}\n", "must be below"},
		{"BadKeyValueJournal", "journal: \"host=db password=s3cr3t port=notaport\"\n" + base, "journal"},
		{"NoTenants", "data: x\n", "at least one tenant"},
		{"AccountWithoutFirm", strings.Replace(base, "key_id: PK1\n    secret: s", "broker_account_id: acc-1", 1), "needs a broker_api"},
		{"AccountWithKeys", firm + strings.Replace(base, "key_id: PK1", "broker_account_id: acc-1\n    key_id: PK1", 1), "drop key_id and secret"},
		{"DuplicateAccount", firm + "tenants:\n" + acct("a", "acc-1") + acct("b", "acc-1"), "tenants[1](b).broker_account_id"},
		{"FirmWithoutURL", strings.Replace(firm, "  url: http://127.0.0.1:8090\n", "", 1) + "tenants:\n" + acct("a", "acc-1"), "broker_api.url"},
		{"FirmWithoutSecret", strings.Replace(firm, "  secret: s3cr3t\n", "", 1) + "tenants:\n" + acct("a", "acc-1"), "broker_api.secret"},
		{"FirmNegativeAccountRate", strings.Replace(firm, "  key: CKFIRM\n", "  key: CKFIRM\n  account_rate_limit: -1\n", 1) + "tenants:\n" + acct("a", "acc-1"), "broker_api.account_rate_limit"},
		{"FirmBadURL", strings.Replace(firm, "http://127.0.0.1:8090", "ftp://x", 1) + "tenants:\n" + acct("a", "acc-1"), "broker_api.url"},
		{"BadTenantID", strings.Replace(base, "id: t1", "id: \"\"", 1), "tenants[0].id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(tc.yaml), getenv)
			if err == nil {
				_, err = cfg.validate(&New().strategies, false)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

// TestRunCommand runs the real wiring in-process against a simulator:
// two dca tenants finish their counts, the ops API reports them, the kill
// switch works, and no response or log line contains a secret.
func TestRunCommand(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 7})
	dir := t.TempDir()
	const secret = "very-secret-value-123"
	cfgPath := filepath.Join(dir, "cfg.yaml")
	cfgText := fmt.Sprintf(`broker: %s
rate_limit: 0
tenants:
  - {id: a, key_id: PKRUNA, secret: %s-a, strategy: dca, params: {symbol: AAPL, qty: 1, interval: 5ms, count: 20}}
  - {id: b, key_id: PKRUNB, secret_env: B_SECRET, strategy: dca, params: {symbol: MSFT, qty: 2, interval: 5ms, count: 10}, risk: {max_open_orders: 5}}
`, srv.URL, secret)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	m, stdout, stderr := newApp(map[string]string{"B_SECRET": secret + "-b"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"})
	}()
	defer func() {
		cancel()
		<-done
	}()
	var api string
	for deadline := time.Now().Add(time.Minute); api == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if mm := clitest.OpsAPIRE.FindStringSubmatch(stdout.String()); mm != nil {
			api = mm[1]
		}
	}
	if api == "" {
		t.Fatalf("no ops API address printed:\n%s\n%s", stdout, stderr)
	}
	var bodies strings.Builder
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		bodies.Write(b)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode
	}
	type tenants struct {
		Tenants []web.Tenant `json:"tenants"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var ts tenants
		get("/api/tenants", &ts)
		if len(ts.Tenants) == 2 && ts.Tenants[0].OrdersPlaced == 20 && ts.Tenants[1].OrdersPlaced == 10 &&
			ts.Tenants[0].OpenOrders == 0 && ts.Tenants[1].OpenOrders == 0 {
			if ts.Tenants[1].Positions["MSFT"] != "20" {
				t.Errorf("tenant b positions: %v, want MSFT 20", ts.Tenants[1].Positions)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenants did not finish: %+v", ts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var orders struct {
		Orders []web.Order `json:"orders"`
	}
	if code := get("/api/tenants/a/orders?limit=100", &orders); code != 200 || len(orders.Orders) != 20 {
		t.Fatalf("orders: %d, %d orders", code, len(orders.Orders))
	}
	// Tenant b's fills, paged three at a time: 20 shares over distinct
	// executions, however the broker split them.
	total, execs, after := decimal.Zero, map[string]bool{}, ""
	for page := 0; ; page++ {
		var fills struct {
			Fills     []web.Fill `json:"fills"`
			NextAfter *uint64    `json:"next_after"`
		}
		if code := get("/api/tenants/b/fills?limit=3"+after, &fills); code != 200 || page > 20 {
			t.Fatalf("fills page %d: %d", page, code)
		}
		for _, f := range fills.Fills {
			if execs[f.ExecutionID] {
				t.Fatalf("execution %s listed twice", f.ExecutionID)
			}
			execs[f.ExecutionID] = true
			total = total.Add(decimal.RequireFromString(f.Qty))
		}
		if fills.NextAfter == nil {
			break
		}
		after = fmt.Sprintf("&after=%d", *fills.NextAfter)
	}
	if !total.Equal(decimal.NewFromInt(20)) {
		t.Errorf("tenant b fills add up to %s, want 20", total)
	}
	if code := get("/api/tenants/b/fills?limit=0", nil); code != 400 {
		t.Errorf("fills limit=0: %d, want 400", code)
	}
	// Prometheus metrics: the tenants' snapshots and the broker traffic.
	resp0, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mbody, _ := io.ReadAll(resp0.Body)
	resp0.Body.Close()
	bodies.Write(mbody)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(mbody))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	metric := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("metric %s missing", name)
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("metric %s%v missing", name, labels)
		return 0
	}
	if v := metric("quantum_tenant_orders_placed_total", map[string]string{"tenant": "b"}); v != 10 {
		t.Errorf("tenant b orders placed metric = %v, want 10", v)
	}
	if v := metric("quantum_tenant_open_orders", map[string]string{"tenant": "a"}); v != 0 {
		t.Errorf("tenant a open orders metric = %v, want 0", v)
	}
	if v := metric("quantum_broker_requests_total", map[string]string{"method": "POST", "route": "/v2/orders", "code": "200"}); v < 30 {
		t.Errorf("order submissions counted = %v, want at least 30", v)
	}
	if n := len(families["quantum_tenant_info"].GetMetric()); n != 2 {
		t.Errorf("tenant_info series = %d, want 2", n)
	}
	if code := get("/api/tenants/nobody/orders", nil); code != 404 {
		t.Errorf("unknown tenant: %d, want 404", code)
	}
	if code := get("/healthz", nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	resp, err := http.Post(api+"/api/tenants/a/state", "application/json", strings.NewReader(`{"state":"HALTED"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	bodies.Write(b)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state": "HALTED"`) {
		t.Fatalf("set state: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Post(api+"/api/tenants/a/state", "application/json", strings.NewReader(`{"state":"MAYBE"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad state: %d, want 400", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	done <- nil // for the deferred wait
	for what, s := range map[string]string{"API responses": bodies.String(), "stdout": stdout.String(), "stderr": stderr.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contain a secret", what)
		}
	}

	// The kill switch survives a restart.
	m2, stdout2, stderr2 := newApp(map[string]string{"B_SECRET": secret + "-b"})
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		done2 <- m2.Run(ctx2, []string{"run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"})
	}()
	defer func() { cancel2(); <-done2 }()
	api = ""
	for deadline := time.Now().Add(time.Minute); api == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if mm := clitest.OpsAPIRE.FindStringSubmatch(stdout2.String()); mm != nil {
			api = mm[1]
		}
	}
	if api == "" {
		t.Fatalf("restart: no ops API address:\n%s", stderr2)
	}
	var ta web.Tenant
	for deadline := time.Now().Add(time.Minute); ta.Health != "running" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		get("/api/tenants/a", &ta)
	}
	if ta.State != "HALTED" || ta.OrdersPlaced != 20 {
		t.Fatalf("after restart tenant a: state %s, placed %d; want HALTED, 20", ta.State, ta.OrdersPlaced)
	}
}

func TestRunCommandConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("tenants:\n  - {id: t1, strategy: dca, params: {symbol: AAPL}, typo: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, _ := newApp(nil)
	err := m.Run(context.Background(), []string{"run", "--config", bad, "--data", filepath.Join(dir, "d")})
	if err == nil || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("err = %v, want it to name the unknown key", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "d")); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("data directory created before the config was validated")
	}
	// External broker without keys: refused before anything runs.
	noKeys := filepath.Join(dir, "nokeys.yaml")
	if err := os.WriteFile(noKeys, []byte("broker: http://127.0.0.1:1\ntenants:\n  - {id: t1, strategy: dca, params: {symbol: AAPL}}\n  - {id: t2, strategy: dca, params: {symbol: AAPL}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = m.Run(context.Background(), []string{"run", "--config", noKeys, "--data", filepath.Join(dir, "d")})
	var ce *ConfigValidationError
	if !errors.As(err, &ce) || ce.Field != "tenants[0](t1).key_id" {
		t.Fatalf("err = %v, want a ConfigValidationError for tenants[0](t1).key_id", err)
	}
}

func TestRunUsage(t *testing.T) {
	m, _, stderr := newApp(nil)
	if err := m.Run(context.Background(), []string{"run", "-h"}); err == nil || !strings.Contains(stderr.String(), "Usage: quantum run") {
		t.Errorf("run -h: %v\n%s", err, stderr)
	}
	for _, args := range [][]string{{"run", "extra"}, {"run", "--nope"}, {"run", "--log-format", "xml"}} {
		m, _, _ := newApp(nil)
		var ue usageError
		if err := m.Run(context.Background(), args); !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	// A non-loopback ops API without a token is refused before anything
	// starts.
	m, _, _ = newApp(nil)
	err := m.Run(context.Background(), []string{"run", "--listen", "0.0.0.0:0", "--data", t.TempDir()})
	var ce *ConfigValidationError
	if !errors.As(err, &ce) || ce.Field != "listen" {
		t.Errorf("public listen without token: %v", err)
	}
}
