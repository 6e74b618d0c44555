package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/strategy"
)

// TestInit: the starter config parses and validates as quantum run reads
// it (on the embedded broker), has a tenant for every registered
// strategy, and is never written over without --force.
func TestInit(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		a, stdout, _ := newApp(nil)
		out := filepath.Join(t.TempDir(), "quantum.yaml")
		if err := a.Run(context.Background(), []string{"init", "--out", out}); err != nil {
			t.Fatal(err)
		}
		cfg, err := ReadConfigFile(out, a.getenv)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := cfg.validate(&a.strategies, cfg.Broker == "")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Broker != "" {
			t.Errorf("broker %q, want the embedded one", cfg.Broker)
		}
		have := map[string]bool{}
		for _, s := range specs {
			have[s.Strategy] = true
		}
		for _, s := range a.strategies.Specs() {
			if !have[s.Name] {
				t.Errorf("no tenant runs %s", s.Name)
			}
		}
		text, _ := os.ReadFile(out)
		for _, want := range []string{"key_id_env: APCA_API_KEY_ID", "secret_env: APCA_API_SECRET_KEY", "#journal: postgres://", "paper-api.alpaca.markets"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("the starter config lacks the example %q", want)
			}
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v (%v), want 0600: the file may hold a secret key", fi.Mode().Perm(), err)
		}
		if !strings.Contains(stdout.String(), "quantum run --config "+out) {
			t.Errorf("init does not say how to run it: %q", stdout)
		}
	})

	t.Run("RefusesOverwrite", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "quantum.yaml")
		if err := os.WriteFile(out, []byte("mine\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		a, _, _ := newApp(nil)
		if err := a.Run(context.Background(), []string{"init", "--out", out}); err == nil || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("err = %v, want a refusal that names --force", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "mine\n" {
			t.Fatalf("the file was changed: %q", b)
		}
		if err := a.Run(context.Background(), []string{"init", "--out", out, "--force"}); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadConfigFile(out, a.getenv); err != nil {
			t.Fatalf("after --force: %v", err)
		}
	})

	// A strategy a program registered is in its starter config too; one
	// whose required parameter init cannot guess is there commented out.
	t.Run("RegisteredStrategies", func(t *testing.T) {
		a, stdout, _ := newApp(nil)
		a.Register(holdSpec())
		odd := holdSpec()
		odd.Name = "odd"
		odd.Params = []strategy.Param{{Name: "mystery", Required: true, Help: "what init cannot guess"}}
		a.Register(odd)
		if err := a.Run(context.Background(), []string{"init", "--out", "-"}); err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseConfig(strings.NewReader(stdout.String()), a.getenv)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tc := range cfg.Tenants {
			names = append(names, tc.Strategy)
		}
		if got, want := strings.Join(names, ","), "dca,hold,macross,meanrev,rebalance"; got != want {
			t.Errorf("tenants run %s, want %s", got, want)
		}
		if !strings.Contains(stdout.String(), "  #    mystery: FILL_IN") {
			t.Errorf("the odd strategy is not there commented out:\n%s", stdout)
		}
	})

	t.Run("Usage", func(t *testing.T) {
		a, _, _ := newApp(nil)
		var ue usageError
		if err := a.Run(context.Background(), []string{"init", "extra"}); !errors.As(err, &ue) {
			t.Errorf("err = %v, want a usage error", err)
		}
	})
}
