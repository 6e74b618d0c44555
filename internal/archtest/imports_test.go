// Package archtest holds the test that keeps the module's dependency arrows
// pointing inward: the domain (trading) at the centre, adapters around it
// that never import one another or the engine, and cli as the only place
// that wires them together. The examples use only the public API a program
// outside the module has: cli, strategy and trading.
package archtest

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/quantum-alpaca/quantum"

// allowed lists, for each package of the module (a pattern ending in /...
// covers a tree), the module packages it may import directly. Only
// non-test imports count: tests may reach for real adapters (the engine's
// tests run against the broker simulator). A package missing here fails
// the test, so a new package has to state its place.
var allowed = []struct {
	pkg     string
	imports []string
}{
	// The centre: domain vocabulary and pure logic.
	{"trading", nil},
	{"sim/match", nil},
	// The wire client is a library of its own.
	{"alpaca/...", []string{"alpaca/..."}},

	// Adapters of the domain: trading, and the one thing each wraps.
	{"alpacabroker", []string{"trading", "alpaca/..."}},
	{"sqlite", []string{"trading", "internal/sqljournal"}},
	{"postgres", []string{"trading", "internal/sqljournal"}},
	{"internal/sqljournal", []string{"trading"}},
	{"metrics", []string{"trading", "alpaca/..."}},
	{"web", []string{"trading"}},
	// Alerts: activities to webhooks, over net/http and nothing of ours.
	{"notify", []string{"trading"}},
	{"strategy", []string{"trading"}},
	{"strategy/...", []string{"trading", "strategy"}},

	// The runtime: the domain only, never an adapter.
	{"engine", []string{"trading"}},
	// Backtesting drives the engine's runner against the simulator's
	// matching engine and synthetic market, on an in-memory journal.
	{"backtest", []string{"trading", "engine", "internal/memjournal", "sim/match", "sim/market"}},
	// The report renders a result; it reaches nothing live.
	{"backtest/report", []string{"backtest", "trading"}},
	{"internal/memjournal", []string{"trading"}},

	// The broker simulator and the load generator speak the wire format.
	{"sim", []string{"alpaca/...", "sim/match", "sim/market", "sim/internal/mdsession"}},
	{"sim/market", []string{"alpaca/...", "sim/internal/mdsession"}},
	// The market-data websocket session the stock, news and crypto
	// streams share: the wire protocol, nothing of the broker's.
	{"sim/internal/mdsession", []string{"alpaca/..."}},
	{"stress", []string{"alpaca/...", "internal/brokeracct"}},
	// Test customers' accounts under a Broker API firm, for tenants
	// create and stress --broker-api.
	{"internal/brokeracct", []string{"alpaca/..."}},
	// Recorded bars on disk, fetched with the wire client.
	{"bars", []string{"alpaca/..."}},

	// Test support.
	{"internal/journaltest", []string{"trading"}},
	{"internal/simtest", []string{"sim"}},
	{"internal/pgtest", nil},
	{"internal/archtest", nil},
	{"internal/clitest", nil},
	{"sdkcheck", nil},

	// Wiring: the command as a library, and the binaries made of it.
	{"cli", []string{"..."}},
	{"cmd/...", []string{"..."}},

	// What a program outside the module may use to add its strategies.
	{"examples/...", []string{"cli", "strategy", "strategy/...", "trading"}},
}

func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func TestImportArrows(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, ok := strings.CutPrefix(fields[0], module+"/")
		if !ok {
			continue
		}
		seen++
		i := slices.IndexFunc(allowed, func(r struct {
			pkg     string
			imports []string
		}) bool {
			return match(r.pkg, pkg)
		})
		if i < 0 {
			t.Errorf("%s: package has no rule in allowed; say what it may import", pkg)
			continue
		}
		rule := allowed[i]
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !slices.ContainsFunc(rule.imports, func(p string) bool { return match(p, dep) }) {
				t.Errorf("%s imports %s; allowed: %v (rule %q)", pkg, dep, rule.imports, path.Clean(rule.pkg))
			}
		}
	}
	if seen == 0 {
		t.Fatal("go list found no packages of the module")
	}
}
