package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

// The validator decodes a response body by its media type; the
// non-JSON ones are documented as plain strings.
var registerDecoders sync.Once

func rawDecoder(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

// specHost is where the validator's copy of each request is addressed;
// the document's server is relative, the router needs a host.
const specHost = "http://ops.test"

// mustSpec loads the OpenAPI document the server serves.
func mustSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	registerDecoders.Do(func() {
		for _, ct := range []string{"text/html", "text/event-stream"} {
			openapi3filter.RegisterBodyDecoder(ct, rawDecoder)
		}
	})
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 0)})
	rec := serve(t, h, "GET", "/api/v1/openapi.json", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("openapi.json: %d", rec.Code)
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: specHost}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// operations lists the document's operations as mux patterns.
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if path == "/" {
				path = "/{$}" // the mux's pattern for the root alone
			}
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// Every route the server has is in the document, and every operation the
// document describes is a route of the server.
func TestOpenAPI_RoutesMatchMux(t *testing.T) {
	t.Parallel()
	doc, _ := mustSpec(t)
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 0), Metrics: http.NotFoundHandler()})
	mux := h.Patterns()
	sort.Strings(mux)
	ops := operations(doc)
	for _, p := range mux {
		if !slices.Contains(ops, p) {
			t.Errorf("route %q is not in the OpenAPI document", p)
		}
	}
	for _, p := range ops {
		if !slices.Contains(mux, p) {
			t.Errorf("the OpenAPI document describes %q, which the server does not route", p)
		}
	}
}

// validator checks real responses against the document and remembers
// which operation answered with which status.
type validator struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD /path status"
}

// check validates one response (status, headers, body) against the
// operation the document has for method and path.
func (v *validator) check(method, path string, status int, hdr http.Header, body []byte) {
	v.t.Helper()
	vreq := httptest.NewRequest(method, specHost+path, nil)
	route, params, err := v.router.FindRoute(vreq)
	if err != nil {
		v.t.Errorf("%s %s: not in the document: %v", method, path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 status,
		Header:                 hdr,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		var me openapi3.MultiError
		if !errors.As(err, &me) {
			me = openapi3.MultiError{err}
		}
		for _, e := range me {
			v.t.Errorf("%s %s %d: %v\nbody: %.600s", method, path, status, e, body)
		}
	}
	v.mu.Lock()
	v.seen[fmt.Sprintf("%s %s %d", method, route.Path, status)] = true
	v.mu.Unlock()
}

// call sends a request through h, checks its status and validates the
// answer; hdr are header name/value pairs ("Host" sets the host).
func (v *validator) call(h http.Handler, method, path, body string, want int, hdr ...string) []byte {
	v.t.Helper()
	rec := serve(v.t, h, method, path, body, hdr...)
	if rec.Code != want {
		v.t.Errorf("%s %s: %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	v.check(method, path, rec.Code, rec.Header(), rec.Body.Bytes())
	return rec.Body.Bytes()
}

// concrete turns a mux pattern into a method and a path to request.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, strings.NewReplacer("{id}", "a", "{$}", "").Replace(path)
}

// TestOpenAPI_Responses sends every route its successes and its errors
// and validates each real answer (status, content type, body schema:
// names, types, enums, patterns such as the price rounding, required
// fields, no undocumented field) against the document; then it checks
// that every status the document lists was seen.
func TestOpenAPI_Responses(t *testing.T) {
	t.Parallel()
	doc, router := mustSpec(t)
	v := &validator{t: t, router: router, seen: map[string]bool{}}

	// A fleet with broker figures, orders, fills, and history.
	f := newFleet("a", "b")
	withAccount(f, "a")
	var fd feed
	const tok = "tok-123"
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 3), Token: tok, Subscribe: fd.Subscribe, Interval: 5 * time.Millisecond,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, "quantum_up 1")
		})})
	if err := h.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	fd.Publish(trading.Activity{Time: asOf, Kind: trading.ActivityFill, Tenant: "a", ClientOrderID: "c1", Symbol: "AAPL",
		Side: trading.Buy, Qty: decimal.NewFromInt(1), Price: decimal.RequireFromString("272.4539")})
	auth := []string{"Authorization", "Bearer " + tok}
	get := func(path string, want int) []byte { t.Helper(); return v.call(h, "GET", path, "", want, auth...) }
	post := func(path, body string, want int, hdr ...string) []byte {
		t.Helper()
		return v.call(h, "POST", path, body, want, append(hdr, auth...)...)
	}

	get("/healthz", 200)
	get("/readyz", 200)
	get("/metrics", 200)
	get("/", 200)
	get("/api/v1/openapi.json", 200)
	get("/api/v1/tenants", 200)
	get("/api/v1/tenants/a", 200)
	get("/api/v1/tenants/b", 200)
	get("/api/v1/tenants/zz", 404)
	var page struct {
		NextAfter *uint64 `json:"next_after"`
	}
	if err := json.Unmarshal(get("/api/v1/tenants/a/orders?limit=2", 200), &page); err != nil || page.NextAfter == nil {
		t.Errorf("orders page without a cursor: %v", err)
	} else {
		get("/api/v1/tenants/a/orders?after="+strconv.FormatUint(*page.NextAfter, 10), 200)
	}
	get("/api/v1/tenants/a/orders?status=open", 200)
	get("/api/v1/tenants/a/orders?status=bogus", 400)
	get("/api/v1/tenants/zz/orders", 404)
	get("/api/v1/tenants/a/fills?limit=2", 200)
	get("/api/v1/tenants/a/fills?limit=0", 400)
	get("/api/v1/tenants/zz/fills", 404)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(string(get("/api/v1/tenants/a/history", 200)), `"source": "fill"`); {
		if time.Now().After(deadline) {
			t.Fatal("the history never recorded the fill")
		}
		time.Sleep(5 * time.Millisecond)
	}
	get("/api/v1/tenants/zz/history", 404)
	if body := string(get("/api/v1/tenants/a/bars?symbol=aapl&limit=2", 200)); !strings.Contains(body, `"open": "272.45"`) {
		t.Errorf("bars not in Alpaca's price rounding: %s", body)
	}
	get("/api/v1/tenants/a/bars", 400)
	get("/api/v1/tenants/a/bars?symbol=AAPL&limit=5000", 400)
	get("/api/v1/tenants/a/bars?symbol=DOWN", 503)
	get("/api/v1/tenants/zz/bars?symbol=AAPL", 404)
	post("/api/v1/tenants/a/state", `{"state":"halted"}`, 200)
	post("/api/v1/tenants/a/state", `{"state":"soon"}`, 400)
	post("/api/v1/tenants/zz/state", `{"state":"HALTED"}`, 404)
	post("/api/v1/tenants/a/state", `{"state":"HALTED"}`, 415, "Content-Type", "text/plain")
	post("/api/v1/tenants/a/state", `{"state":"HALTED"}`, 403, "Origin", "https://evil.example")
	post("/api/v1/state", `{"state":"ACTIVE"}`, 200)
	post("/api/v1/state", `{}`, 400)
	post("/api/v1/state", `{"state":"HALTED"}`, 415, "Content-Type", "text/plain")
	post("/api/v1/state", `{"state":"HALTED"}`, 403, "Origin", "https://evil.example")
	// The unversioned routes.
	get("/api/tenants", 200)
	get("/api/tenants/a", 200)
	get("/api/tenants/zz", 404)
	get("/api/tenants/a/orders", 200)
	get("/api/tenants/a/orders?limit=x", 400)
	get("/api/tenants/zz/orders", 404)
	get("/api/tenants/a/fills", 200)
	get("/api/tenants/a/fills?after=x", 400)
	get("/api/tenants/zz/fills", 404)
	post("/api/tenants/a/state", `{"state":"reducing"}`, 200)
	post("/api/tenants/a/state", `{"state":"soon"}`, 400)
	post("/api/tenants/zz/state", `{"state":"HALTED"}`, 404)
	post("/api/tenants/a/state", `{"state":"HALTED"}`, 415, "Content-Type", "text/plain")
	post("/api/tenants/a/state", `{"state":"HALTED"}`, 403, "Origin", "https://evil.example")

	// Refusals every route shares: no token (401) and, on a loopback
	// server, a foreign host name (403).
	loop := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0), LoopbackOnly: true, Metrics: http.NotFoundHandler()})
	for _, p := range h.Patterns() {
		method, path := concrete(p)
		body := ""
		if method == "POST" {
			body = `{"state":"HALTED"}`
		}
		if path != "/healthz" && path != "/readyz" {
			v.call(h, method, path, body, 401)
		}
		v.call(loop, method, path, body, 403, "Host", "rebind.evil.example")
	}

	// Unhealthy and starting tenants.
	sick := newFleet("broken", "new")
	sick.st["broken"] = func(s trading.TenantStatus) trading.TenantStatus {
		s.Health, s.LastError = trading.HealthFailed, "disk full"
		return s
	}(sick.st["broken"])
	sick.st["new"] = func(s trading.TenantStatus) trading.TenantStatus { s.Health = trading.HealthStarting; return s }(sick.st["new"])
	hs := web.NewOpsAPI(web.Config{Fleet: sick, Journal: mustJournal(t, "a", 0)})
	v.call(hs, "GET", "/healthz", "", 503)
	v.call(hs, "GET", "/readyz", "", 503)

	// The state store: HALTED applied but not saved (202), a change
	// refused (503), an unexpected failure (500).
	down := newFleet("a", "b")
	hd := web.NewOpsAPI(web.Config{Fleet: down, Journal: mustJournal(t, "a", 0)})
	down.setErr = fmt.Errorf("%w: connection refused", trading.ErrSavedLater)
	for _, p := range []string{"/api/v1/tenants/a/state", "/api/tenants/a/state", "/api/v1/state"} {
		v.call(hd, "POST", p, `{"state":"HALTED"}`, 202)
	}
	down.setErr = trading.Errorf(trading.EUNAVAILABLE, "Trading state not changed: the state store cannot be written.")
	for _, p := range []string{"/api/v1/tenants/a/state", "/api/tenants/a/state", "/api/v1/state"} {
		v.call(hd, "POST", p, `{"state":"ACTIVE"}`, 503)
	}
	down.setErr = errors.New("disk on fire")
	v.call(hd, "POST", "/api/v1/state", `{"state":"ACTIVE"}`, 500)

	// The event stream: its headers and first events, each event's data
	// checked against its schema.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, evs := openStream(t, srv.URL, tok)
	schema := func(name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }
	var body bytes.Buffer
	for _, want := range []struct{ event, schema string }{{"tenants", "TenantsEvent"}, {"activity", "Activity"}, {"gap", "GapEvent"}} {
		switch want.event {
		case "activity":
			fd.Publish(trading.Activity{Time: asOf, Kind: trading.ActivityState, Tenant: "a", State: trading.Halted, Reason: "ops API"})
		case "gap":
			fd.drop(3)
		}
		ev := next(ctx, t, evs, want.event)
		fmt.Fprintf(&body, "event: %s\ndata: %s\n\n", ev.name, ev.data)
		var data any
		if err := json.Unmarshal([]byte(ev.data), &data); err != nil {
			t.Fatalf("%s event data is not JSON: %v", want.event, err)
		}
		if err := schema(want.schema).VisitJSON(data); err != nil {
			t.Errorf("%s event against %s: %v\n%s", want.event, want.schema, err, ev.data)
		}
	}
	v.check("GET", "/api/v1/events", resp.StatusCode, resp.Header, body.Bytes())
	// A server shutting down refuses new streams.
	closed := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
	closed.Close()
	v.call(closed, "GET", "/api/v1/events", "", 503)

	// Every status the document promises was produced and checked.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if !v.seen[fmt.Sprintf("%s %s %s", method, path, status)] {
					t.Errorf("%s %s %s: documented, never produced by the test", method, path, status)
				}
			}
		}
	}
}
