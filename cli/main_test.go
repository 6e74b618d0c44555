package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is written by the command's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newApp returns the command with the built-in strategies, on buffers
// and the environment env.
func newApp(env map[string]string) (*App, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	a := New()
	a.Stdin, a.Stdout, a.Stderr, a.Getenv = strings.NewReader(""), out, errb, func(k string) string { return env[k] }
	return a, out, errb
}

var servingRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

func TestBrokerCommand(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(accounts, []byte("- {key_id: PKA, secret: sa, cash: 5000}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, stderr := newApp(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"broker", "--listen", "127.0.0.1:0", "--accounts", accounts, "--market", "nyse"})
	}()
	var base string
	for deadline := time.Now().Add(time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		base = servingRE.FindString(stderr.String())
	}
	if base == "" {
		cancel()
		t.Fatalf("broker did not report its address: %s", stderr)
	}
	req, _ := http.NewRequest("GET", base+"/v2/account", nil)
	req.Header.Set("APCA-API-KEY-ID", "PKA")
	req.Header.Set("APCA-API-SECRET-KEY", "sa")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acct struct {
		Cash string `json:"cash"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&acct)
	resp.Body.Close()
	if resp.StatusCode != 200 || acct.Cash != "5000" {
		t.Fatalf("account: %d %+v", resp.StatusCode, acct)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("broker: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("broker did not stop")
	}
}

func TestStressCommandJSON(t *testing.T) {
	m, stdout, stderr := newApp(nil)
	err := m.Run(context.Background(), []string{"stress", "--threads", "8", "--orders-per-thread", "25", "--tenants", "2", "--json"})
	if err != nil {
		t.Fatalf("stress: %v\n%s", err, stderr)
	}
	var rep map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on stdout: %s", stdout)
	}
	for _, k := range []string{"orders", "acked", "rejected", "errors", "lost", "duplicates", "seconds", "orders_per_sec", "latency_ms", "rss_mib", "goroutines_peak", "client_mode", "tenants", "threads"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["acked"].(float64) != 200 || rep["lost"].(float64) != 0 || rep["duplicates"].(float64) != 0 {
		t.Fatalf("report: %v", rep)
	}
	lat := rep["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency lacks %q", k)
		}
	}
}

// quantum stress --broker-api with no other flags opens customer accounts
// under a made-up firm on the embedded broker and reconciles each.
func TestStressCommandBrokerAPIJSON(t *testing.T) {
	// A firm key in the environment is for a real broker, never sent to
	// the embedded one.
	m, stdout, stderr := newApp(map[string]string{"BROKER_API_KEY": "CKENV", "BROKER_API_SECRET": "env-secret"})
	err := m.Run(context.Background(), []string{"stress", "--broker-api", "--threads", "4", "--orders-per-thread", "10", "--tenants", "3", "--json"})
	if err != nil {
		t.Fatalf("stress: %v\n%s", err, stderr)
	}
	var rep struct {
		API           string `json:"api"`
		Acked         int    `json:"acked"`
		Lost          int    `json:"lost"`
		Duplicates    int    `json:"duplicates"`
		Tenants       int    `json:"tenants"`
		AccountsExact int    `json:"accounts_exact"`
		Accounts      []struct {
			AccountID string `json:"account_id"`
			Orders    int    `json:"orders"`
			Held      int    `json:"held"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if rep.API != "broker" || rep.Acked != 40 || rep.Lost != 0 || rep.Duplicates != 0 || rep.Tenants != 3 || rep.AccountsExact != 3 || len(rep.Accounts) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	held := 0
	for _, a := range rep.Accounts {
		if a.AccountID == "" || a.Orders != a.Held {
			t.Errorf("account %+v", a)
		}
		held += a.Held
	}
	if held != 40 {
		t.Errorf("the accounts hold %d orders, want 40", held)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"fly"},
		{"broker"}, // no accounts
		{"broker", "--auto-provision", "--market", "lunar"},
		{"broker", "--auto-provision", "--fail-rate", "2"},
		{"stress", "--threads", "0"},
		{"stress", "--target", "ftp://x"},
		{"stress", "--tenants", "5", "--threads", "2"},
		{"stress", "--tenants", "0"},
		{"stress", "--broker-api", "--tenants", "-1"},
		{"stress", "--broker-key", "CK1", "--broker-secret", "s"}, // without --broker-api
		{"stress", "--fund-from", "x"},
		{"stress", "--broker-api", "--client-per-worker"},
		{"stress", "--broker-api", "--broker-key", "CK1"},
		{"stress", "--broker-api", "--threads", "2", "--orders-per-thread", "4", "--tenants", "5"}, // 4 order pairs
		{"stress", "--broker-api", "--fund-from", "x"},                                             // the embedded broker
		{"stress", "--broker-api", "--target", "http://127.0.0.1:1", "--fund-from", "x", "--cash", "0"},
		{"stress", "--broker-api", "--target", "http://127.0.0.1:1"}, // no firm key
		{"stress", "--broker-api", "--target", "https://broker-api.alpaca.markets", "--broker-key", "CK1", "--broker-secret", "s"},
	} {
		m, _, _ := newApp(nil)
		err := m.Run(context.Background(), args)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"broker", "stress"} {
		m, _, stderr := newApp(nil)
		if err := m.Run(context.Background(), []string{cmd, "-h"}); err == nil || !strings.Contains(stderr.String(), "Usage: quantum "+cmd) {
			t.Errorf("%s -h: %v\n%s", cmd, err, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	m, stdout, _ := newApp(nil)
	if err := m.Run(context.Background(), []string{"version"}); err != nil {
		t.Fatal(err)
	}
	got := stdout.String()
	if !strings.HasPrefix(got, "quantum ") || !strings.Contains(got, runtime.Version()) {
		t.Fatalf("version = %q, want the build's version and its Go toolchain", got)
	}
}

// TestMainStatus: Main turns Run's outcome into the exit status a shell
// sees.
func TestMainStatus(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"run", "-h"}, 0, "Usage: quantum run"},
		{[]string{"fly"}, 2, `quantum: unknown command "fly"`},
		{[]string{"run", "--log-format", "xml"}, 2, "quantum: --log-format"},
		{[]string{"run", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "quantum: config: open"},
	} {
		a, _, stderr := newApp(nil)
		if got := a.Main(tc.args); got != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: status %d, want %d; stderr should mention %q:\n%s", tc.args, got, tc.status, tc.stderr, stderr)
		}
	}
}
