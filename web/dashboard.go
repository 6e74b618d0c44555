package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// The dashboard is one page of plain HTML, CSS and JavaScript, embedded
// in the binary and built on the v1 API; there is no build step. Its
// script and style are inlined into the page so that the page is the only
// route a browser loads without the bearer token (it cannot send one when
// it navigates): it holds code, no data.
//
//go:embed dashboard
var dashboardFS embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// dashboardPage is the dashboard, assembled once; csp allows exactly its inline
// script and style and connections to this origin, so nothing it shows
// can load or send anything elsewhere.
var dashboardPage, csp = buildDashboard()

func buildDashboard() ([]byte, string) {
	read := func(name string) string {
		b, err := dashboardFS.ReadFile("dashboard/" + name)
		if err != nil {
			panic(err) // embedded at build time: cannot happen
		}
		return string(b)
	}
	html, css, js := read("index.html"), read("style.css"), read("app.js")
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	html = strings.Replace(html, "<!--style-->", "<style>"+css+"</style>", 1)
	html = strings.Replace(html, "<!--script-->", "<script>"+js+"</script>", 1)
	policy := "default-src 'none'; script-src " + hash(js) + "; style-src " + hash(css) +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return []byte(html), policy
}

func (a *OpsAPI) dashboard(w http.ResponseWriter, r *http.Request) {
	a.serveDashboard(w, http.StatusOK)
}

func (a *OpsAPI) serveDashboard(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(dashboardPage)
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}
