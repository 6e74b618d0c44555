package backtest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/backtest"
)

func TestParseGrid(t *testing.T) {
	g, err := backtest.ParseGrid("fast=5..20:5, slow=30..60:10,sample=bar|quote")
	if err != nil {
		t.Fatal(err)
	}
	want := backtest.Grid{
		{Name: "fast", Values: []string{"5", "10", "15", "20"}},
		{Name: "slow", Values: []string{"30", "40", "50", "60"}},
		{Name: "sample", Values: []string{"bar", "quote"}},
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v", g)
	}
	combos := g.Combinations()
	if len(combos) != 32 || g.Size() != 32 {
		t.Fatalf("%d combinations, size %d, want 32", len(combos), g.Size())
	}
	if c := combos[0]; c["fast"] != "5" || c["slow"] != "30" || c["sample"] != "bar" {
		t.Errorf("first %v", c)
	}
	if c := combos[1]; c["sample"] != "quote" || c["slow"] != "30" {
		t.Errorf("the last axis must vary fastest: second %v", c)
	}
	if c := combos[31]; c["fast"] != "20" || c["slow"] != "60" || c["sample"] != "quote" {
		t.Errorf("last %v", c)
	}
}

func TestParseGridFloats(t *testing.T) {
	g, err := backtest.ParseGrid("threshold=0.5..1.1:0.2")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0.5", "0.7", "0.9", "1.1"}; !reflect.DeepEqual(g[0].Values, want) {
		t.Fatalf("got %v, want %v", g[0].Values, want)
	}
}

func TestParseGridErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                      "want NAME=",
		"fast":                  "want NAME=",
		"fast=5..20":            "FROM..TO:STEP",
		"fast=5..20:0":          "STEP must be positive",
		"fast=20..5:1":          "TO is below FROM",
		"fast=a..b:1":           "must be numbers",
		"fast=1|2,fast=3":       "twice",
		"fast=1||2":             "empty value",
		"a=1..200:1,b=1..200:1": "more than 10000",
	} {
		_, err := backtest.ParseGrid(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", spec, err, want)
		}
	}
}
