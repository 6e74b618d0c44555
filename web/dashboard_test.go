package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/web"
)

// The dashboard is one self-contained page: its script and style are
// inline and allowed by hash, and it names no other site to load from,
// so it works on a closed network and a page it shows cannot call out.
func TestDashboard_Page(t *testing.T) {
	t.Parallel()
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 0)})
	rec := serve(t, h, "GET", "/", "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'sha256-", "style-src 'sha256-", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if !strings.Contains(body, "<script>'use strict';") || !strings.Contains(body, "<style>:root") || strings.Contains(body, "<!--script-->") {
		t.Fatalf("script or style not inlined")
	}
	// The only URL is SVG's XML namespace, an identifier nothing loads.
	for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*`).FindAllString(body, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the page names an external URL: %s", u)
		}
	}
	if regexp.MustCompile(`(?i)<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:|//)`).MatchString(body) {
		t.Error("the page loads something from another site")
	}
	for _, path := range []string{"/index.html", "/app.js", "/nope"} {
		if rec := serve(t, h, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

// With a token set, a browser's navigation (which carries no bearer
// header) gets the page with 401: code that asks for the token, no data.
func TestDashboard_TokenPage(t *testing.T) {
	t.Parallel()
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("secret-tenant"), Journal: mustJournal(t, "secret-tenant", 0), Token: "tok"})
	rec := serve(t, h, "GET", "/", "")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `id="login"`) {
		t.Fatalf("%d, want 401 with the token dialog", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "secret-tenant") {
		t.Fatal("the page without a token shows a tenant")
	}
	if rec := serve(t, h, "GET", "/", "", "Authorization", "Bearer tok"); rec.Code != http.StatusOK {
		t.Fatalf("with the token: %d", rec.Code)
	}
}
