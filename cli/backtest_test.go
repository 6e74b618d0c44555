package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeConfig writes a config file into a temporary directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const macrossConfig = `tenants:
  - {id: mx, strategy: macross, params: {symbol: AAPL, qty: 10, fast: 5, slow: 20, sample: bar}}
  - {id: dc, strategy: dca, params: {symbol: MSFT, qty: 1, interval: 30m, count: 5}}
`

var elapsedRE = regexp.MustCompile(`"(elapsed_ms|bars_per_sec)":[0-9.e+]+`)

// TestBacktestJSON: --json prints one JSON object with every tenant's
// figures, and a second run prints the same bytes apart from timings.
func TestBacktestJSON(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, macrossConfig)
	run := func() string {
		a, out, errb := newApp(nil)
		if err := a.Run(context.Background(), []string{"backtest", "--config", cfg, "--from", "2025-03-03", "--to", "2025-03-08", "--json"}); err != nil {
			t.Fatalf("backtest: %v\n%s", err, errb)
		}
		return out.String()
	}
	first := run()
	var res struct {
		Tenants []struct {
			ID     string
			Orders int
		}
		Bars int
	}
	dec := json.NewDecoder(strings.NewReader(first))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v: %s", err, first)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value: %s", first)
	}
	if len(res.Tenants) != 2 || res.Tenants[0].ID != "mx" || res.Tenants[1].ID != "dc" {
		t.Fatalf("tenants: %+v", res.Tenants)
	}
	if res.Tenants[0].Orders == 0 || res.Tenants[1].Orders != 5 || res.Bars != 2*5*390 {
		t.Errorf("orders %d and %d (want some and 5), bars %d (want %d)", res.Tenants[0].Orders, res.Tenants[1].Orders, res.Bars, 2*5*390)
	}
	if second := run(); elapsedRE.ReplaceAllString(first, "") != elapsedRE.ReplaceAllString(second, "") {
		t.Errorf("two runs differ:\n%s\n%s", first, second)
	}
}

// TestBacktestSweep: every combination runs, those the strategy refuses
// are listed as skipped, the rest are ranked, and the JSON is the same
// twice apart from timings.
func TestBacktestSweep(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, macrossConfig)
	run := func() string {
		a, out, errb := newApp(nil)
		err := a.Run(context.Background(), []string{"backtest", "--config", cfg, "--from", "2025-03-03", "--to", "2025-03-05",
			"--sweep", "fast=3..5:1,slow=4|6", "--rank", "return", "--parallel", "2", "--json"})
		if err != nil {
			t.Fatalf("backtest: %v\n%s", err, errb)
		}
		return out.String()
	}
	first := run()
	var rep sweepReport
	if err := json.Unmarshal([]byte(first), &rep); err != nil {
		t.Fatalf("%v: %s", err, first)
	}
	if rep.Combinations != 6 || len(rep.Results) != 4 || len(rep.Skipped) != 2 {
		t.Fatalf("%d combinations, %d results, %d skipped; want 6, 4, 2", rep.Combinations, len(rep.Results), len(rep.Skipped))
	}
	for i, r := range rep.Results {
		if r.Rank != i+1 || (i > 0 && r.Score > rep.Results[i-1].Score) || r.Score != r.ReturnPct {
			t.Errorf("result %d: rank %d score %v return %v: not ranked by return", i, r.Rank, r.Score, r.ReturnPct)
		}
		if len(r.Tenants) != 2 {
			t.Errorf("result %d (%v): %d tenants, want 2", i, r.Params, len(r.Tenants))
		}
	}
	for _, s := range rep.Skipped {
		if !strings.Contains(s.Skipped, "fast") {
			t.Errorf("skipped %v for %q, want a reason naming fast", s.Params, s.Skipped)
		}
	}
	if second := run(); elapsedRE.ReplaceAllString(first, "") != elapsedRE.ReplaceAllString(second, "") {
		t.Errorf("two sweeps differ:\n%s\n%s", first, second)
	}
}

func TestBacktestUsageErrors(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, macrossConfig)
	for name, args := range map[string][]string{
		"no config":      {"--from", "2025-03-03", "--to", "2025-03-04"},
		"bad from":       {"--config", cfg, "--from", "March", "--to", "2025-03-04"},
		"from after to":  {"--config", cfg, "--from", "2025-03-04", "--to", "2025-03-03"},
		"bad sweep":      {"--config", cfg, "--from", "2025-03-03", "--to", "2025-03-04", "--sweep", "fast=5..1:1"},
		"unknown param":  {"--config", cfg, "--from", "2025-03-03", "--to", "2025-03-04", "--sweep", "speed=1|2"},
		"unknown rank":   {"--config", cfg, "--from", "2025-03-03", "--to", "2025-03-04", "--sweep", "fast=3|4", "--rank", "luck"},
		"bad fill rate":  {"--config", cfg, "--from", "2025-03-03", "--to", "2025-03-04", "--partial-fill-rate", "2"},
		"data not a dir": {"--config", cfg, "--from", "2025-03-03", "--to", "2025-03-04", "--data", cfg},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _, _ := newApp(nil)
			err := a.Run(context.Background(), append([]string{"backtest"}, args...))
			if _, ok := err.(usageError); !ok {
				t.Errorf("got %v (%T), want a usage error", err, err)
			}
		})
	}
}
