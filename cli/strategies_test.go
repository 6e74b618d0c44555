package cli

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// holdSpec is a strategy of a user's: it never trades.
func holdSpec() strategy.Spec {
	return strategy.Spec{
		Name:    "hold",
		Summary: "hold whatever is held",
		Params:  []strategy.Param{{Name: "symbol", Required: true, Help: "the ticker held"}, {Name: "patience", Default: "forever", Help: "how long"}},
		New: func(p strategy.Params) (func() (trading.Strategy, error), error) {
			r := strategy.NewReader(p)
			r.Symbol("symbol")
			r.String("patience", "forever", false)
			if err := r.Err(); err != nil {
				return nil, err
			}
			return func() (trading.Strategy, error) { return trading.BaseStrategy{}, nil }, nil
		},
	}
}

// TestRegister: a registered strategy is one a config may name, and the
// usage lists it with its params beside the built-ins.
func TestRegister(t *testing.T) {
	a, _, stderr := newApp(nil)
	a.Register(holdSpec())
	if err := a.Run(context.Background(), []string{"run", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h: %v", err)
	}
	usage := stderr.String()
	for _, want := range []string{"  hold: hold whatever is held\n", "symbol    (required)  the ticker held", "patience  forever", "  dca: ", "  rebalance: "} {
		if !strings.Contains(usage, want) {
			t.Errorf("run -h does not show %q:\n%s", want, usage)
		}
	}

	cfg, err := ParseConfig(strings.NewReader("tenants:\n  - {id: t1, strategy: hold, params: {symbol: AAPL}}\n"), a.getenv)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := cfg.validate(&a.strategies, true)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := specs[0].NewStrategy(); err != nil || s == nil {
		t.Fatalf("NewStrategy: %v, %v", s, err)
	}
	cfg.Tenants[0].Params["patience"] = "never"
	cfg.Tenants[0].Params["mood"] = "calm"
	var ce *ConfigValidationError
	if _, err := cfg.validate(&a.strategies, true); !errors.As(err, &ce) || ce.Field != "tenants[0](t1).params.mood" {
		t.Fatalf("an unknown param of a registered strategy: %v", err)
	}

	// Without it, the error names what is registered.
	cfg.Tenants[0].Params = strategy.Params{"symbol": "AAPL"}
	_, err = cfg.validate(&New().strategies, true)
	if err == nil || !strings.Contains(err.Error(), "unknown strategy (known: dca, macross, meanrev, rebalance)") {
		t.Fatalf("err = %v, want it to list the registered strategies", err)
	}

	defer func() {
		if recover() == nil {
			t.Error("registering hold twice did not panic")
		}
	}()
	a.Register(holdSpec())
}

// TestStrategiesDoc keeps docs/strategies.md from drifting from the
// built-ins: each has a section "### `name`" with a table row per param
// that gives its default as the Spec does.
func TestStrategiesDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/strategies.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range New().strategies.Specs() {
		_, section, ok := strings.Cut(doc, "\n### `"+s.Name+"`\n")
		if !ok {
			t.Errorf("docs/strategies.md has no section ### `%s`", s.Name)
			continue
		}
		if end := strings.Index(section, "\n#"); end >= 0 {
			section = section[:end]
		}
		for _, p := range s.Params {
			def := "`" + p.Default + "`"
			switch {
			case p.Required:
				def = "required"
			case p.Default == "":
				def = "none"
			}
			if row := "| `" + p.Name + "` | " + def + " |"; !strings.Contains(section, row) {
				t.Errorf("docs/strategies.md, section %s: no row starting %s", s.Name, row)
			}
		}
	}
}
