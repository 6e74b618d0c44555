package web

// Patterns returns the mux's route patterns, for the tests that hold the
// OpenAPI document and the auth rules to every route.
func (a *OpsAPI) Patterns() []string { return append([]string(nil), a.patterns...) }
