package backtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxCombinations bounds a parameter grid: beyond it a sweep would run for
// hours, which is more likely a typo in a step than an intent.
const MaxCombinations = 10_000

// Axis is one swept parameter and the values it takes, as a config would
// write them.
type Axis struct {
	Name   string
	Values []string
}

// Grid is a parameter sweep: every combination of its axes' values.
type Grid []Axis

// ParseGrid reads a sweep spec: comma-separated NAME=VALUES, where VALUES
// is a range FROM..TO:STEP (inclusive; integers when all three are, as in
// fast=5..20:5) or a list A|B|C (sample=bar|quote).
func ParseGrid(spec string) (Grid, error) {
	var g Grid
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		name, vals, ok := strings.Cut(part, "=")
		name, vals = strings.TrimSpace(name), strings.TrimSpace(vals)
		if !ok || name == "" || vals == "" {
			return nil, fmt.Errorf("sweep: %q: want NAME=FROM..TO:STEP or NAME=A|B|C", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("sweep: %s appears twice", name)
		}
		seen[name] = true
		var values []string
		var err error
		if strings.Contains(vals, "..") {
			values, err = parseRange(vals)
			if err != nil {
				return nil, fmt.Errorf("sweep: %s=%s: %w", name, vals, err)
			}
		} else {
			for v := range strings.SplitSeq(vals, "|") {
				if v = strings.TrimSpace(v); v == "" {
					return nil, fmt.Errorf("sweep: %s=%s: an empty value", name, vals)
				}
				values = append(values, v)
			}
		}
		g = append(g, Axis{Name: name, Values: values})
	}
	if n := g.Size(); n > MaxCombinations {
		return nil, fmt.Errorf("sweep: %d combinations, more than %d: use larger steps", n, MaxCombinations)
	}
	return g, nil
}

// parseRange expands FROM..TO:STEP.
func parseRange(s string) ([]string, error) {
	lohi, stepS, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("want FROM..TO:STEP")
	}
	loS, hiS, _ := strings.Cut(lohi, "..")
	if ints, err := intRange(loS, hiS, stepS); err == nil {
		return ints, nil
	}
	lo, err1 := strconv.ParseFloat(strings.TrimSpace(loS), 64)
	hi, err2 := strconv.ParseFloat(strings.TrimSpace(hiS), 64)
	step, err3 := strconv.ParseFloat(strings.TrimSpace(stepS), 64)
	switch {
	case err1 != nil || err2 != nil || err3 != nil || math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi):
		return nil, fmt.Errorf("FROM, TO and STEP must be numbers")
	case !(step > 0):
		return nil, fmt.Errorf("STEP must be positive")
	case hi < lo:
		return nil, fmt.Errorf("TO is below FROM")
	case (hi-lo)/step >= MaxCombinations:
		return nil, fmt.Errorf("more than %d values", MaxCombinations)
	}
	var out []string
	// Counting steps rather than adding them keeps 0.1-sized steps from
	// drifting past TO; the small slack admits a TO that is FROM plus a
	// whole number of steps in decimal but not quite in binary.
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step*1e-9 {
			break
		}
		out = append(out, strconv.FormatFloat(math.Round(v*1e9)/1e9, 'f', -1, 64))
	}
	return out, nil
}

func intRange(loS, hiS, stepS string) ([]string, error) {
	lo, err1 := strconv.ParseInt(strings.TrimSpace(loS), 10, 64)
	hi, err2 := strconv.ParseInt(strings.TrimSpace(hiS), 10, 64)
	step, err3 := strconv.ParseInt(strings.TrimSpace(stepS), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("not integers")
	}
	if step <= 0 || hi < lo || (hi-lo)/step >= MaxCombinations {
		// Let the float path give the message.
		return nil, fmt.Errorf("bad range")
	}
	var out []string
	for v := lo; v <= hi; v += step {
		out = append(out, strconv.FormatInt(v, 10))
	}
	return out, nil
}

// Size is the number of combinations, saturating at MaxCombinations+1.
func (g Grid) Size() int {
	n := 1
	for _, a := range g {
		n *= len(a.Values)
		if n > MaxCombinations {
			return MaxCombinations + 1
		}
	}
	return n
}

// Combinations lists every combination, the last axis varying fastest.
func (g Grid) Combinations() []map[string]string {
	n := g.Size()
	out := make([]map[string]string, 0, n)
	for i := range n {
		c := make(map[string]string, len(g))
		rest := i
		for k := len(g) - 1; k >= 0; k-- {
			a := g[k]
			c[a.Name] = a.Values[rest%len(a.Values)]
			rest /= len(a.Values)
		}
		out = append(out, c)
	}
	return out
}
