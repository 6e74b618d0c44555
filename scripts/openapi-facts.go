//go:build ignore

// openapi-facts reduces an OpenAPI file to its facts (paths, parameters,
// schemas: names, types, enums, required fields) by dropping prose
// (descriptions, summaries, examples, contacts), and writes it as JSON.
// The broker's schema test reads the result from sim/testdata/openapi.
//
//	go run scripts/openapi-facts.go ALPACA_OPENAPI.yaml > sim/testdata/openapi/NAME.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

var prose = map[string]bool{
	"description": true, "summary": true, "example": true, "examples": true,
	"externalDocs": true, "contact": true, "termsOfService": true, "x-internal": true,
}

// strip drops prose keys everywhere except where keys are names chosen by
// the API (properties, schemas, paths, parameters' names), so that a field
// called "description" or "summary" survives.
func strip(v any, names bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if !names && (prose[k] || k == "title" || k == "tags") {
				continue
			}
			out[k] = strip(val, !names && (k == "properties" || k == "schemas" || k == "paths" || k == "responses"))
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = strip(val, false)
		}
		return out
	}
	return v
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/openapi-facts.go FILE.yaml > OUT.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := strip(doc, false).(map[string]any)
	// OpenAPI requires a response description; an empty one says nothing.
	if paths, ok := out["paths"].(map[string]any); ok {
		for _, item := range paths {
			for _, op := range item.(map[string]any) {
				if m, ok := op.(map[string]any); ok {
					if rs, ok := m["responses"].(map[string]any); ok {
						for _, r := range rs {
							if rm, ok := r.(map[string]any); ok {
								if _, ref := rm["$ref"]; !ref {
									rm["description"] = ""
								}
							}
						}
					}
				}
			}
		}
	}
	if info, ok := doc["info"].(map[string]any); ok {
		out["info"] = map[string]any{"title": info["title"], "version": info["version"]}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
