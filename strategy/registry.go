package strategy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/quantum-alpaca/quantum/trading"
)

// Param describes one parameter a strategy reads from its config, for
// usage text and documentation. The parser is the authority on what is
// valid; Spec.Verify keeps the two from drifting apart.
type Param struct {
	Name string
	// Default is the value used when the config leaves the parameter out,
	// written as it would be in the config; empty when there is none.
	Default string
	// Help is a short phrase: what the parameter means, and its unit.
	Help string
	// Required parameters have no default: the config must give them.
	Required bool
}

// Spec makes a strategy available by name to a config file.
type Spec struct {
	// Name is what a tenant's config names in `strategy:`.
	Name string
	// Summary is one line for usage text.
	Summary string
	// Params lists every parameter New reads, in the order usage text
	// shows them.
	Params []Param
	// New parses params and returns a constructor of fresh instances.
	// The runner calls the constructor on every start of the tenant,
	// restarts included, so that a strategy that panicked comes back
	// clean. A wrong or unknown parameter is a *ParamError: read params
	// with a Reader and return its Err.
	New func(Params) (func() (trading.Strategy, error), error)
}

// Factory returns a Spec.New made of the usual two halves of a strategy
// package: a parser of its config and the function that builds a
// strategy from that config.
func Factory[C any, S trading.Strategy](parse func(Params) (C, error), build func(C) S) func(Params) (func() (trading.Strategy, error), error) {
	return func(p Params) (func() (trading.Strategy, error), error) {
		c, err := parse(p)
		if err != nil {
			return nil, err
		}
		return func() (trading.Strategy, error) { return build(c), nil }, nil
	}
}

// probeParam is a parameter name no strategy reads: Verify passes it to
// see New reject it and list the parameters it does read.
const probeParam = "verify-unknown-parameter"

// Verify checks that s.Params declares exactly the parameters s.New
// reads, that the declared defaults parse, and that New rejects a
// parameter it does not know. example gives a value to each required
// parameter (and may override defaults). A strategy's test calls it, so
// that its usage text cannot drift from its parser.
//
// It sees the parameters New reads with every declared one given; read
// every parameter whatever the others say.
func (s Spec) Verify(example Params) error {
	p := Params{}
	for _, d := range s.Params {
		if v, ok := example[d.Name]; ok {
			p[d.Name] = v
		} else if d.Default != "" {
			p[d.Name] = d.Default
		} else if d.Required {
			return fmt.Errorf("strategy %s: the example needs a value for the required %s", s.Name, d.Name)
		}
	}
	for k := range example {
		if _, ok := p[k]; !ok {
			p[k] = example[k]
		}
	}
	if _, err := s.New(p); err != nil {
		return fmt.Errorf("strategy %s: the declared defaults and the example: %w", s.Name, err)
	}
	p[probeParam] = "1"
	_, err := s.New(p)
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != probeParam {
		return fmt.Errorf("strategy %s: an unknown parameter is not an error (New must return Reader.Err); got %v", s.Name, err)
	}
	declared := make([]string, 0, len(s.Params))
	for _, d := range s.Params {
		declared = append(declared, d.Name)
	}
	slices.Sort(declared)
	if !slices.Equal(declared, pe.Known) {
		return fmt.Errorf("strategy %s: Params declares %s but New reads %s", s.Name, strings.Join(declared, ", "), strings.Join(pe.Known, ", "))
	}
	return nil
}

// ErrRegistered is wrapped by Register's error for a name already taken.
var ErrRegistered = errors.New("strategy: name already registered")

// Registry holds Specs by name. The zero value is empty and ready to use;
// it is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]Spec
}

// Register adds s. An empty name, a nil New, a parameter named twice or
// a required parameter with a default is an error, and so is a name
// already registered (wrapping ErrRegistered): a config names exactly
// one strategy.
func (r *Registry) Register(s Spec) error {
	if err := s.check(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Name]; dup {
		return fmt.Errorf("%w: %q", ErrRegistered, s.Name)
	}
	if r.specs == nil {
		r.specs = map[string]Spec{}
	}
	r.specs[s.Name] = s
	return nil
}

func (s Spec) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("strategy: register %q: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Name == "":
		return bad("no name")
	case strings.ContainsFunc(s.Name, func(r rune) bool { return r <= ' ' }):
		return bad("a name is one word")
	case strings.Contains(s.Summary, "\n"):
		return bad("the summary is one line")
	case s.New == nil:
		return bad("no New")
	}
	seen := map[string]bool{}
	for _, p := range s.Params {
		switch {
		case p.Name == "":
			return bad("a parameter has no name")
		case seen[p.Name]:
			return bad("parameter %s declared twice", p.Name)
		case p.Required && p.Default != "":
			return bad("parameter %s is required but has a default", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Lookup returns the Spec registered as name.
func (r *Registry) Lookup(name string) (Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// Specs returns every registered Spec, sorted by name.
func (r *Registry) Specs() []Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return out
}
