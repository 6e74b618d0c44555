package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/web"
)

// TestMultiNodeFailover is design section 6's test: three engines share
// one PostgreSQL journal and one separate broker; each runs the tenants
// whose lock it holds, two of six each once they have balanced. One is
// killed with SIGKILL while its tenants trade; the others adopt them, and
// in the end every tenant's account holds exactly `count` orders with
// `count` distinct client ids. A tenant halted through one node's API is
// halted on the node that runs it, and stays halted on the node that
// adopts it.
//
// BrokerAPI runs the same with the tenants as customer accounts of one
// Broker API firm: every engine reads the firm's event stream once and
// ignores the accounts it does not run.
func TestMultiNodeFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs subprocesses; skipped with -short")
	}
	t.Run("TradingAPI", func(t *testing.T) { multiNodeRun(t, func(context.Context, string) fleetFunc { return keyFleet }) })
	t.Run("BrokerAPI", func(t *testing.T) { multiNodeRun(t, firmFleet) })
}

func multiNodeRun(t *testing.T, newFleet func(context.Context, string) fleetFunc) {
	dsn := pgtest.SchemaDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	bin := quantumBinary(t)
	const (
		tenants = 6
		nodes   = 3
		count   = 400 // 8 s of trading at 20 ms: time to balance, kill and adopt
	)
	broker, brokerURL := startBroker(ctx, t, bin, append([]string{"--seed", "12"}, firmFlags...)...)
	defer broker.stop(t)
	dir := t.TempDir()
	cfgPath, clients := newFleet(ctx, bin)(t, dir, brokerURL, fmt.Sprintf("journal: %q\n", dsn), "m", tenants, count, "20ms")
	procs := make([]*proc, nodes)
	apis := make([]string, nodes)
	for n := range nodes {
		procs[n] = startProc(ctx, t, bin, "run", "--config", cfgPath, "--data", filepath.Join(dir, fmt.Sprint("node", n)), "--listen", "127.0.0.1:0")
		apis[n] = procs[n].waitFor(t, clitest.OpsAPIRE, 20*time.Second)
	}

	// The first node takes every tenant and gives the excess up as the
	// others join: in the end each runs its share of two.
	var owners map[string]int
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var exclusive bool
		owners, exclusive = running(t, apis, nil)
		perNode := map[int]int{}
		for _, n := range owners {
			perNode[n]++
		}
		if exclusive && len(owners) == tenants && perNode[0] == 2 && perNode[1] == 2 && perNode[2] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenants not balanced over the nodes: %v", owners)
		}
	}
	t.Logf("owners: %v", owners)
	waitOwnersNamed(t, apis, owners)
	victim := owners["m0"]
	var moved []string
	for id, n := range owners {
		if n == victim {
			moved = append(moved, id)
		}
	}
	other := (victim + 1) % nodes

	// The kill switch is shared: m0 halted through another node's API
	// halts it on the node that runs it.
	setState(t, apis[other], "m0", "HALTED")
	waitState(t, apis[victim], "m0", "HALTED")
	procs[victim].kill(t)
	killedAt := time.Now()
	t.Logf("killed node %d, which ran %v", victim, moved)

	alive := map[int]bool{}
	for n := range nodes {
		alive[n] = n != victim
	}
	// The node that adopts m0 keeps it halted: no new orders.
	adopter := -1
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		owners, _ = running(t, apis, alive)
		if n, ok := owners["m0"]; ok && n != victim {
			t.Logf("m0 adopted by node %d %v after the kill", n, time.Since(killedAt).Round(10*time.Millisecond))
			if s := tenantState(t, apis[n], "m0"); s != "HALTED" {
				t.Fatalf("m0 adopted by node %d in state %s, want HALTED", n, s)
			}
			adopter = n
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("m0 not adopted: %v", owners)
		}
	}
	before, err := listAll(ctx, clients[0])
	if err != nil {
		t.Fatal(err)
	}
	// Five decisions refused on the adopter, not a length of time: each
	// one would have been an order had the halt been lost.
	refused := tenantInfo(t, apis[adopter], "m0").RiskRejections
	for deadline := time.Now().Add(time.Minute); tenantInfo(t, apis[adopter], "m0").RiskRejections < refused+5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("adopted m0 made no decisions: %+v", tenantInfo(t, apis[adopter], "m0"))
		}
	}
	after, err := listAll(ctx, clients[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("halted m0 placed %d orders after its adoption", len(after)-len(before))
	}
	setState(t, apis[other], "m0", "ACTIVE")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var exclusive bool
		owners, exclusive = running(t, apis, alive)
		done := exclusive && len(owners) == tenants
		for _, c := range clients {
			orders, err := listAll(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(orders) < count {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenants not finished after the failover; running: %v", owners)
		}
	}
	for _, id := range moved {
		if n, ok := owners[id]; !ok || n == victim {
			t.Errorf("tenant %s of the killed node is not running elsewhere: %v", id, owners)
		}
	}
	for n, p := range procs {
		if n == victim {
			continue
		}
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if err := p.wait(time.Minute); err != nil {
			t.Errorf("node %d exit after SIGINT: %v\n%s", n, err, p.output())
		}
	}
	// Counted once every engine has stopped, so that nothing can still be
	// placed: an order placed twice would be among these.
	for i, c := range clients {
		orders, distinct := brokerCount(ctx, t, c)
		if orders != count || distinct != count {
			t.Errorf("tenant m%d: broker holds %d orders with %d distinct client ids, want %d", i, orders, distinct, count)
		}
	}
}

// running asks each node's ops API which tenants it runs and returns
// tenant -> node, and whether no tenant showed on two nodes (which
// status snapshots may for a moment while a tenant moves; the locks, not
// the snapshots, are what keep it on one). Nodes not in alive (when alive
// is set) are skipped.
func running(t *testing.T, apis []string, alive map[int]bool) (map[string]int, bool) {
	t.Helper()
	out := map[string]int{}
	exclusive := true
	for n, api := range apis {
		if alive != nil && !alive[n] {
			continue
		}
		resp, err := http.Get(api + "/api/tenants")
		if err != nil {
			t.Fatalf("node %d: %v", n, err)
		}
		var body struct {
			Tenants []web.Tenant `json:"tenants"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("node %d: %v", n, err)
		}
		for _, ts := range body.Tenants {
			if ts.Health != "running" && ts.Health != "starting" {
				continue
			}
			if _, dup := out[ts.ID]; dup {
				exclusive = false
			}
			out[ts.ID] = n
		}
	}
	return out, exclusive
}

func setState(t *testing.T, api, tenant, state string) {
	t.Helper()
	resp, err := http.Post(api+"/api/tenants/"+tenant+"/state", "application/json", strings.NewReader(`{"state":"`+state+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set %s %s: status %d", tenant, state, resp.StatusCode)
	}
}

func tenantInfo(t *testing.T, api, tenant string) web.Tenant {
	t.Helper()
	resp, err := http.Get(api + "/api/tenants/" + tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ts web.Tenant
	if err := json.NewDecoder(resp.Body).Decode(&ts); err != nil {
		t.Fatal(err)
	}
	return ts
}

func tenantState(t *testing.T, api, tenant string) string { return tenantInfo(t, api, tenant).State }

func waitState(t *testing.T, api, tenant, state string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); tenantState(t, api, tenant) != state; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %s on %s", tenant, state, api)
		}
	}
}

// waitOwnersNamed waits until every node's /api/v1 names, for every
// tenant, the engine that runs it (owners: tenant -> node): the
// dashboard's engine column, the same on every node.
func waitOwnersNamed(t *testing.T, apis []string, owners map[string]int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		views := make([]map[string]string, len(apis))
		for n, api := range apis {
			views[n] = ownerNames(t, api)
		}
		// A node's name is what it calls itself for a tenant it runs.
		names := map[int]string{}
		for id, n := range owners {
			names[n] = views[n][id]
		}
		agreed := len(names) == len(apis)
		for id, n := range owners {
			for _, v := range views {
				if names[n] == "" || v[id] != names[n] {
					agreed = false
				}
			}
		}
		distinct := map[string]bool{}
		for _, name := range names {
			distinct[name] = true
		}
		if agreed && len(distinct) == len(apis) {
			t.Logf("engine names: %v", names)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes do not agree on which engine runs each tenant: %v (running: %v)", views, owners)
		}
	}
}

// ownerNames is tenant -> owner from one node's /api/v1/tenants.
func ownerNames(t *testing.T, api string) map[string]string {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/tenants")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Tenants []web.TenantV1 `json:"tenants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ts := range body.Tenants {
		out[ts.ID] = ts.Owner
	}
	return out
}
