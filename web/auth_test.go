package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

// With a token set, every route the server has (the dashboard, the v1
// and unversioned API, the event stream, the OpenAPI document, metrics),
// all but the two probes, refuses a request without the right bearer
// token with 401, before it reads or changes anything. The routes come
// from the mux itself, so a route added later is covered.
func TestAuth_EveryRouteNeedsTheToken(t *testing.T) {
	t.Parallel()
	const tok = "tok-123"
	f := newFleet("a")
	var fd feed
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 1), Token: tok, Subscribe: fd.Subscribe,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "metrics") })})
	// The event stream is asked with a context that has ended, so that
	// it answers and returns instead of streaming.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	do := func(pattern, auth string) *httptest.ResponseRecorder {
		method, path := concrete(pattern)
		body := ""
		if method == "POST" {
			body = `{"state":"HALTED"}`
		}
		if strings.HasSuffix(path, "/bars") {
			path += "?symbol=AAPL" // required
		}
		ctx := context.Background()
		if path == "/api/v1/events" {
			ctx = ended
		}
		req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	patterns := h.Patterns()
	if len(patterns) < 18 {
		t.Fatalf("only %d routes: %v", len(patterns), patterns)
	}
	for _, p := range patterns {
		t.Run(strings.NewReplacer(" ", "_", "/", "_").Replace(p), func(t *testing.T) {
			_, path := concrete(p)
			if path == "/healthz" || path == "/readyz" {
				if rec := do(p, ""); rec.Code != http.StatusOK {
					t.Fatalf("probe without a token: %d", rec.Code)
				}
				return
			}
			for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer tok-12", "Bearer tok-1234", tok, "Basic " + tok, "bearer " + tok, "Bearer  " + tok} {
				rec := do(p, auth)
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("Authorization %q: %d, want 401 with WWW-Authenticate", auth, rec.Code)
				}
				if strings.Contains(rec.Body.String(), `"tenants"`) || strings.Contains(rec.Body.String(), `"orders"`) {
					t.Errorf("Authorization %q: a refusal carries data: %.200s", auth, rec.Body)
				}
			}
			if s, _ := f.Status("a"); s.State != trading.Active {
				t.Fatalf("a refused request changed the state to %s", s.State)
			}
			if rec := do(p, "Bearer "+tok); rec.Code != http.StatusOK {
				t.Errorf("with the token: %d %.200s", rec.Code, rec.Body)
			}
			if err := f.SetState("a", trading.Active); err != nil {
				t.Fatal(err)
			}
		})
	}
}
