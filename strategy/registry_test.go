package strategy_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/strategy/meanrev"
	"github.com/quantum-alpaca/quantum/strategy/rebalance"
	"github.com/quantum-alpaca/quantum/trading"
)

// required gives the built-ins' required parameters a value.
var required = strategy.Params{"symbol": "AAPL", "targets": "AAPL:1"}

func builtins() []strategy.Spec {
	return []strategy.Spec{dca.Spec(), macross.Spec(), meanrev.Spec(), rebalance.Spec()}
}

// TestBuiltinSpecs proves that each built-in's declared parameters are
// the ones its parser reads, and that each declared default is the
// parser's own: a strategy built with every default written out equals
// one built with them left out.
func TestBuiltinSpecs(t *testing.T) {
	for _, s := range builtins() {
		t.Run(s.Name, func(t *testing.T) {
			example := strategy.Params{}
			minimal := strategy.Params{}
			written := strategy.Params{}
			for _, p := range s.Params {
				if p.Required {
					example[p.Name] = required[p.Name]
					minimal[p.Name] = required[p.Name]
				}
				written[p.Name] = p.Default
				if p.Required {
					written[p.Name] = required[p.Name]
				}
			}
			if err := s.Verify(example); err != nil {
				t.Fatal(err)
			}
			if err := new(strategy.Registry).Register(s); err != nil {
				t.Fatal(err)
			}
			build := func(p strategy.Params) trading.Strategy {
				t.Helper()
				mk, err := s.New(p)
				if err != nil {
					t.Fatalf("New(%v): %v", p, err)
				}
				st, err := mk()
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			if got, want := build(written), build(minimal); !reflect.DeepEqual(got, want) {
				t.Errorf("with the declared defaults written out: %+v\nleft out: %+v", got, want)
			}
		})
	}
}

// fake is a strategy whose parser reads what the test says.
func fake(reads []string, declared ...string) strategy.Spec {
	s := strategy.Spec{Name: "fake", New: func(p strategy.Params) (func() (trading.Strategy, error), error) {
		r := strategy.NewReader(p)
		for _, k := range reads {
			r.String(k, "", false)
		}
		if err := r.Err(); err != nil {
			return nil, err
		}
		return func() (trading.Strategy, error) { return trading.BaseStrategy{}, nil }, nil
	}}
	for _, d := range declared {
		s.Params = append(s.Params, strategy.Param{Name: d})
	}
	return s
}

func TestVerify(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := fake([]string{"a", "b"}, "b", "a").Verify(nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrUndeclared", func(t *testing.T) {
		err := fake([]string{"a", "b"}, "a").Verify(nil)
		if err == nil || !strings.Contains(err.Error(), "reads a, b") {
			t.Fatalf("err = %v, want the parameters read", err)
		}
	})
	t.Run("ErrNotRead", func(t *testing.T) {
		// The declared parameter is given, and the parser rejects it.
		if err := fake([]string{"a"}, "a", "b").Verify(strategy.Params{"b": "1"}); err == nil {
			t.Fatal("a declared parameter the parser does not read passed")
		}
	})
	t.Run("ErrUnknownAccepted", func(t *testing.T) {
		s := strategy.Spec{Name: "lax", New: func(strategy.Params) (func() (trading.Strategy, error), error) {
			return func() (trading.Strategy, error) { return trading.BaseStrategy{}, nil }, nil
		}}
		if err := s.Verify(nil); err == nil || !strings.Contains(err.Error(), "unknown parameter is not an error") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrRequiredWithoutExample", func(t *testing.T) {
		s := fake([]string{"a"})
		s.Params = []strategy.Param{{Name: "a", Required: true}}
		if err := s.Verify(nil); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestRegistry(t *testing.T) {
	var r strategy.Registry
	for _, s := range builtins() {
		if err := r.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register(dca.Spec()); !errors.Is(err, strategy.ErrRegistered) {
		t.Errorf("second dca: err = %v, want ErrRegistered", err)
	}
	var names []string
	for _, s := range r.Specs() {
		names = append(names, s.Name)
	}
	if want := []string{"dca", "macross", "meanrev", "rebalance"}; !slices.Equal(names, want) {
		t.Errorf("Specs: %v, want %v", names, want)
	}
	if s, ok := r.Lookup("meanrev"); !ok || s.Name != "meanrev" {
		t.Errorf("Lookup(meanrev) = %v, %v", s.Name, ok)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	ok := fake(nil)
	for name, s := range map[string]strategy.Spec{
		"no name":           {New: ok.New},
		"two words":         {Name: "two words", New: ok.New},
		"no New":            {Name: "x"},
		"two-line summary":  {Name: "x", Summary: "a\nb", New: ok.New},
		"param twice":       {Name: "x", New: ok.New, Params: []strategy.Param{{Name: "a"}, {Name: "a"}}},
		"unnamed param":     {Name: "x", New: ok.New, Params: []strategy.Param{{}}},
		"required, default": {Name: "x", New: ok.New, Params: []strategy.Param{{Name: "a", Required: true, Default: "1"}}},
	} {
		if err := r.Register(s); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
}

// TestFactory: every call of the constructor is a fresh strategy, for
// the runner's restarts.
func TestFactory(t *testing.T) {
	mk, err := dca.Spec().New(strategy.Params{"symbol": "AAPL", "interval": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := mk()
	b, _ := mk()
	if a == b {
		t.Fatal("the constructor returned the same strategy twice")
	}
	sub, err := a.Start(trading.NewEnv(trading.EnvState{}))
	if err != nil || sub.Interval != time.Second {
		t.Fatalf("Start: %+v, %v", sub, err)
	}
	if _, err := dca.Spec().New(strategy.Params{"symbol": "AAPL", "cnt": "3"}); err == nil {
		t.Fatal("an unknown parameter was accepted")
	}
}
