package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/web"
)

// chromium returns the browser the dashboard test drives: the one
// QUANTUM_TEST_CHROMIUM names, else Debian's /usr/bin/chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("QUANTUM_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("QUANTUM_TEST_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Skip("no browser: install Debian's chromium (scripts/install-chromium.sh) or set QUANTUM_TEST_CHROMIUM to a Chromium binary")
	return ""
}

// watchWriter keeps what is written and closes found once it matches re.
type watchWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	re    *regexp.Regexp
	match []string
	found chan struct{}
}

func newWatchWriter(re *regexp.Regexp) *watchWriter {
	return &watchWriter{re: re, found: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.match == nil {
		if m := w.re.FindStringSubmatch(w.b.String()); m != nil {
			w.match = m
			close(w.found)
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitDOM resolves once the JavaScript condition holds, checking it on
// every change of the page (a MutationObserver), never on a timer.
func waitDOM(cond string) chromedp.Action[bool] {
	return chromedp.Evaluate[bool](`new Promise((resolve) => {
  const ok = () => { try { return !!(`+cond+`); } catch (e) { return false; } };
  if (ok()) { resolve(true); return; }
  const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); resolve(true); } });
  obs.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
})`, chromedp.EvalAwaitPromise)
}

// TestDashboardInBrowser runs the demo (engine, embedded paper broker over
// TCP, the ops API with a token) and drives its dashboard in a real
// headless Chromium: the token prompt, the fleet table updating live, a
// tenant's page with its charts, and the kill switch, whose effect is
// checked through the API. With QUANTUM_SCREENSHOTS=1 it saves the
// screenshots the README shows.
func TestDashboardInBrowser(t *testing.T) {
	browser := chromium(t)
	shots := os.Getenv("QUANTUM_SCREENSHOTS") == "1"
	const token = "dashboard-test-token"

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stdout := newWatchWriter(clitest.OpsAPIRE)
	stderr := &syncBuffer{}
	app := New()
	app.Stdin, app.Stdout, app.Stderr = strings.NewReader(""), stdout, stderr
	app.Getenv = func(k string) string {
		if k == "QUANTUM_API_TOKEN" {
			return token
		}
		return ""
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(runCtx, []string{"run", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0"})
	}()
	defer func() {
		stopRun()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if strings.Contains(stderr.String(), token) {
			t.Errorf("the token is in the log")
		}
	}()
	select {
	case <-stdout.found:
	case err := <-done:
		done <- err
		t.Fatalf("run ended: %v\n%s", err, stderr)
	case <-ctx.Done():
		t.Fatalf("no ops API address printed:\n%s\n%s", stdout, stderr)
	}
	api := stdout.match[1]

	tenant := func(id string) web.TenantV1 {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", api+"/api/v1/tenants/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v web.TenantV1
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET tenant %s: %d %v", id, resp.StatusCode, err)
		}
		return v
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1440, 1000),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v\nengine log (end):\n%s", what, err, tail(stderr.String(), 4000))
		}
	}
	wait := func(what, cond string) {
		t.Helper()
		// Each wait gets a part of the test's time, so that the page can
		// still be asked what it showed when one runs out.
		wctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		if _, err := chromedp.Run(wctx, waitDOM(cond)); err != nil {
			// The page's last message and what it shows say what it saw
			// go wrong; the end of the log, what the engine did last.
			shown, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
  last_message: document.querySelector('#toast').dataset.last || '',
  confirm_open: document.querySelector('#confirm').open,
  stream: document.querySelector('#conn').dataset.state,
  route: location.hash,
})`))
			t.Fatalf("waiting for %s: %v\npage: %s\nengine log (end):\n%s", what, err, shown, tail(stderr.String(), 4000))
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	screenshot := func(name string) {
		t.Helper()
		if !shots {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		// A full-page capture resizes the page's viewport; clicks need
		// the one the page is laid out for.
		do("restore the viewport", chromedp.EmulateViewport(1440, 1000))
	}

	// The page asks for the token, then lists the demo's tenants.
	do("open the dashboard", chromedp.EmulateViewport(1440, 1000), chromedp.Navigate(api+"/"))
	wait("the token prompt", `document.querySelector('#login').open`)
	do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login-submit")))
	for _, id := range []string{"demo-dca", "demo-macross", "demo-rebalance"} {
		wait("tenant "+id+" in the fleet table", `document.querySelector('#fleet tr[data-tenant="`+id+`"] [data-field="state"]').textContent === 'ACTIVE'`)
	}
	wait("the live stream", `document.querySelector('#conn').dataset.state === 'live'`)

	// The order count changes in place, from the event stream.
	const orders = `document.querySelector('#fleet tr[data-tenant="demo-dca"] [data-field="orders_placed"]').textContent`
	before := text(orders)
	wait("demo-dca's order count to change", orders+` !== `+strconv.Quote(before))
	after := text(orders)
	b, _ := strconv.Atoi(before)
	if a, err := strconv.Atoi(after); err != nil || a <= b {
		t.Fatalf("orders went from %q to %q", before, after)
	}
	wait("a fill in the activity list", `document.querySelector('#activity li.fill')`)
	if shots {
		wait("broker figures for every tenant", `[...document.querySelectorAll('#fleet [data-field="equity"]')].every(td => td.textContent !== '—')`)
	}
	screenshot("dashboard-fleet.png")

	// The tenant's page: positions, fills from the journal, and charts
	// with its fills marked on the price.
	do("open demo-dca", chromedp.Click(chromedp.CSS(`#fleet tr[data-tenant="demo-dca"] [data-field="id"] a`)))
	wait("the tenant page", `!document.querySelector('#tenant-view').hidden && document.querySelector('#t-id').textContent === 'demo-dca'`)
	wait("the equity curve", `+document.querySelector('#equity-chart').dataset.points >= 1 && document.querySelector('#equity-chart polyline, #equity-chart circle')`)
	wait("the price chart with fills marked", `+document.querySelector('#price-chart').dataset.markers >= 1 && document.querySelector('#price-chart path[data-fill]')`)
	wait("the market's minute bars on the price chart", `document.querySelector('#price-chart').dataset.source === 'bars' && +document.querySelector('#price-chart').dataset.points >= 2`)
	wait("the fills table", `document.querySelector('#fills tbody td.mono')`)
	wait("the positions table", `document.querySelector('#positions tbody tr[data-symbol="AAPL"]')`)
	if shots {
		// Enough history for a picture worth showing.
		wait("more history", `+document.querySelector('#equity-chart').dataset.points >= 2 && +document.querySelector('#price-chart').dataset.markers >= 8`)
	}
	screenshot("dashboard-tenant.png")

	// The kill switch asks first: cancelling changes nothing.
	halt := chromedp.Click(chromedp.CSS(`#t-switch button[data-state="HALTED"]`))
	do("press halt", halt)
	wait("the confirmation", `document.querySelector('#confirm').open`)
	do("cancel", chromedp.Click(chromedp.CSS("#confirm-cancel")))
	wait("the confirmation to close", `!document.querySelector('#confirm').open`)
	if s := tenant("demo-dca").State; s != "ACTIVE" {
		t.Fatalf("after cancelling the kill switch demo-dca is %s", s)
	}
	do("press halt again", halt)
	wait("the confirmation", `document.querySelector('#confirm').open`)
	do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	wait("the confirmation to close after confirming", `!document.querySelector('#confirm').open`)
	wait("the page to show HALTED", `document.querySelector('#t-state .badge').textContent === 'HALTED'`)
	if s := tenant("demo-dca").State; s != "HALTED" {
		t.Fatalf("the API says demo-dca is %s after the kill switch, want HALTED", s)
	}
	if s := tenant("demo-macross").State; s != "ACTIVE" {
		t.Fatalf("halting demo-dca changed demo-macross to %s", s)
	}

	// The fleet's kill switch.
	do("press halt all", chromedp.Click(chromedp.CSS(`button[data-action="state-all"][data-state="HALTED"]`)))
	wait("the confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-title').textContent.includes('all 3')`)
	do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	do("back to the fleet", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	wait("every tenant HALTED in the table", `[...document.querySelectorAll('#fleet [data-field="state"]')].map(td => td.textContent).join() === 'HALTED,HALTED,HALTED'`)
	for _, id := range []string{"demo-dca", "demo-macross", "demo-rebalance"} {
		if s := tenant(id).State; s != "HALTED" {
			t.Errorf("the API says %s is %s after halting all", id, s)
		}
	}
	if t.Failed() {
		fmt.Fprintln(os.Stderr, stderr.String())
	}
}

// tail is the last n bytes of s, from a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
