package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/clitest"
	"github.com/quantum-alpaca/quantum/notify"
	"github.com/quantum-alpaca/quantum/web"
)

// hookToken is the secret part of the webhook URLs below.
const hookToken = "T0HOOK/B0HOOK/hookSecretToken42"

func TestNotifyConfig(t *testing.T) {
	env := map[string]string{"HOOK": hookToken, "CHAT": "-100123"}
	getenv := func(k string) string { return env[k] }
	base := "tenants:\n  - {id: t1, key_id: PK1, secret: s, strategy: dca, params: {symbol: AAPL}}\n  - {id: t2, key_id: PK2, secret: s, strategy: dca, params: {symbol: MSFT}}\n"

	t.Run("OK", func(t *testing.T) {
		cfg, err := ParseConfig(strings.NewReader(base+`notify:
  - url: https://hooks.slack.com/services/${HOOK}
    format: Slack
    events: [fill, breaker_open]
    tenants: [t2]
  - url: https://api.telegram.org/bot1:x/sendMessage
    format: telegram
    chat_id: ${CHAT}
  - url: http://127.0.0.1:9000/alerts
`), getenv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.validate(&New().strategies, false); err != nil {
			t.Fatal(err)
		}
		slack, tg, plain := cfg.Notify[0].target, cfg.Notify[1].target, cfg.Notify[2].target
		if slack.URL != "https://hooks.slack.com/services/"+hookToken || slack.Format != notify.FormatSlack ||
			len(slack.Events) != 2 || len(slack.Tenants) != 1 || slack.Tenants[0] != "t2" {
			t.Errorf("slack target %+v", slack)
		}
		if tg.ChatID != "-100123" || tg.Format != notify.FormatTelegram {
			t.Errorf("telegram target %+v", tg)
		}
		if plain.Format != "" || plain.Events != nil {
			t.Errorf("json target %+v, want the defaults left to notify", plain)
		}
	})

	for _, tc := range []struct{ name, notify, field string }{
		{"UnknownFormat", "  - {url: https://example.com/h, format: teams}\n", "notify[0].format"},
		{"UnknownEvent", "  - {url: https://example.com/h, events: [fills]}\n", "notify[0].events"},
		{"BadScheme", "  - {url: \"ftp://hooks.slack.com/services/${HOOK}\"}\n", "notify[0].url"},
		{"NoURL", "  - {format: slack}\n", "notify[0].url"},
		{"UnsetEnv", "  - {url: \"https://hooks.slack.com/services/${NOPE}\"}\n", "notify[0].url"},
		{"TelegramNoChat", "  - {url: \"https://api.telegram.org/bot${HOOK}/sendMessage\", format: telegram}\n", "notify[0].chat_id"},
		{"UnknownTenant", "  - {url: https://example.com/h}\n  - {url: https://example.com/h, tenants: [t3]}\n", "notify[1].tenants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(base+"notify:\n"+tc.notify), getenv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cfg.validate(&New().strategies, false)
			var ce *ConfigValidationError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want a ConfigValidationError for %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "hookSecretToken42") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	t.Run("READMEExample", func(t *testing.T) {
		// The README's Alerts example is a config that validates.
		readme, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		_, after, _ := strings.Cut(string(readme), "### Alerts")
		_, after, _ = strings.Cut(after, "```yaml\n")
		example, _, ok := strings.Cut(after, "```")
		if !ok || !strings.HasPrefix(example, "notify:") {
			t.Fatalf("no notify: example under ### Alerts in README.md")
		}
		env := map[string]string{"SLACK_PATH": hookToken, "TELEGRAM_TOKEN": "1:x"}
		cfg, err := ParseConfig(strings.NewReader(base+example), func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.validate(&New().strategies, false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UnknownKey", func(t *testing.T) {
		_, err := ParseConfig(strings.NewReader(base+"notify:\n  - {url: https://example.com/h, evnts: [fill]}\n"), getenv)
		if err == nil || !strings.Contains(err.Error(), "evnts") {
			t.Fatalf("err = %v, want it to name evnts", err)
		}
	})
}

// startRun runs quantum run with the config text in-process on the
// embedded broker and returns the ops API's address, its output, and a
// stop function that returns Run's error.
func startRun(t *testing.T, cfgText string, env map[string]string) (api string, stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	m, stdout, stderr := newApp(env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"})
	}()
	var once bool
	var err error
	stop = func() error {
		if !once {
			once = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	for deadline := time.Now().Add(time.Minute); api == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if mm := clitest.OpsAPIRE.FindStringSubmatch(stdout.String()); mm != nil {
			api = mm[1]
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run ended early: %v\n%s", err, stderr)
		default:
		}
	}
	if api == "" {
		t.Fatalf("no ops API address printed:\n%s\n%s", stdout, stderr)
	}
	return api, stdout, stderr, stop
}

// TestRunNotify runs the engine with alerts to a local webhook receiver,
// up and then down: alerts arrive, and a dead receiver neither stops
// trading nor holds up the shutdown beyond its bound.
func TestRunNotify(t *testing.T) {
	env := map[string]string{"HOOK_TOKEN": hookToken}
	tenant := "tenants:\n  - {id: n1, strategy: dca, params: {symbol: AAPL, qty: 1, interval: 10ms, count: 10}}\n"

	t.Run("Receiver", func(t *testing.T) {
		kinds := make(chan string, 1000)
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var a notify.Activity
			if err := json.NewDecoder(r.Body).Decode(&a); err != nil || !strings.HasSuffix(r.URL.Path, hookToken) {
				http.Error(w, "bad alert", http.StatusBadRequest)
				return
			}
			kinds <- string(a.Kind)
		}))
		defer rc.Close()
		_, stdout, stderr, stop := startRun(t, fmt.Sprintf("%snotify:\n  - url: %s/hooks/${HOOK_TOKEN}\n    events: [engine_start, fill, engine_stop]\n", tenant, rc.URL), env)

		seen := map[string]bool{}
		for deadline := time.After(time.Minute); !seen["engine_start"] || !seen["fill"]; {
			select {
			case k := <-kinds:
				seen[k] = true
			case <-deadline:
				t.Fatalf("alerts received: %v\n%s", seen, stderr)
			}
		}
		if err := stop(); err != nil {
			t.Fatalf("run: %v", err)
		}
		// Run returns after the alerts are flushed: the stop has arrived.
		for len(kinds) > 0 {
			seen[<-kinds] = true
		}
		if !seen["engine_stop"] {
			t.Errorf("no engine_stop alert; got %v\n%s", seen, stderr)
		}
		for what, s := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
			if strings.Contains(s, "hookSecretToken42") {
				t.Errorf("%s shows the webhook token:\n%s", what, s)
			}
		}
	})

	t.Run("ReceiverDown", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := ln.Addr().String()
		ln.Close()
		api, stdout, stderr, stop := startRun(t, fmt.Sprintf("%snotify:\n  - url: http://%s/hooks/${HOOK_TOKEN}\n    format: slack\n    events: [engine_start, order, fill, engine_stop]\n", tenant, down), env)

		// Trading goes on: the tenant places all its orders.
		var placed int
		for deadline := time.Now().Add(time.Minute); placed < 10; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("orders placed: %d of 10\n%s", placed, stderr)
			}
			var ts struct {
				Tenants []web.Tenant `json:"tenants"`
			}
			resp, err := http.Get(api + "/api/tenants")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(b, &ts); err != nil || len(ts.Tenants) != 1 {
				t.Fatalf("/api/tenants: %v: %s", err, b)
			}
			placed = ts.Tenants[0].OrdersPlaced
		}
		// And it stops cleanly, with the undelivered alerts reported
		// against the redacted URL.
		if err := stop(); err != nil {
			t.Fatalf("run: %v", err)
		}
		logs := stderr.String()
		if !strings.Contains(logs, "target=http://"+down+"/…") || !strings.Contains(logs, "connection refused") {
			t.Errorf("no warning about the dead receiver:\n%s", logs)
		}
		for what, s := range map[string]string{"stdout": stdout.String(), "stderr": logs} {
			if strings.Contains(s, "hookSecretToken42") {
				t.Errorf("%s shows the webhook token:\n%s", what, s)
			}
		}
	})
}
