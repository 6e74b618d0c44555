package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

// --max-accounts caps auto-provisioning: a new key beyond the cap gets
// Alpaca's 403 error body, and the keys already provisioned keep working.
func TestBrokerMaxAccounts(t *testing.T) {
	m, _, stderr := newApp(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"broker", "--listen", "127.0.0.1:0", "--auto-provision", "--max-accounts", "2"})
	}()
	var base string
	for deadline := time.Now().Add(time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		base = servingRE.FindString(stderr.String())
	}
	if base == "" {
		t.Fatalf("broker did not report its address: %s", stderr)
	}
	get := func(key string) (int, int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v2/account", nil)
		req.Header.Set("APCA-API-KEY-ID", key)
		req.Header.Set("APCA-API-SECRET-KEY", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Code, e.Message
	}
	for _, k := range []string{"PKMAX1", "PKMAX2"} {
		if status, _, _ := get(k); status != http.StatusOK {
			t.Fatalf("%s: status %d", k, status)
		}
	}
	if status, code, msg := get("PKMAX3"); status != http.StatusForbidden || code != 40310000 || msg == "" {
		t.Fatalf("key beyond the cap: status %d, code %d, message %q; want 403, 40310000", status, code, msg)
	}
	if status, _, _ := get("PKMAX1"); status != http.StatusOK {
		t.Fatalf("provisioned key after the cap: status %d", status)
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

func TestBrokerMaxAccountsUsage(t *testing.T) {
	for _, v := range []string{"0", "-2", "many"} {
		m, _, _ := newApp(nil)
		err := m.Run(context.Background(), []string{"broker", "--auto-provision", "--max-accounts", v})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("--max-accounts %s: err = %v, want a usage error", v, err)
		}
	}
}

// The replay flags: each refused with a usage error that says why, before
// anything listens.
func TestBrokerReplayUsage(t *testing.T) {
	t.Parallel()
	notDir := writeConfig(t, "tenants: []\n")
	empty := t.TempDir()
	for name, args := range map[string][]string{
		"from without bars":  {"--from", "2024-01-02"},
		"step without bars":  {"--step"},
		"speed without bars": {"--speed", "60"},
		"speed and step":     {"--bars", empty, "--speed", "60", "--step"},
		"bad speed":          {"--bars", empty, "--speed", "0"},
		"bars not a dir":     {"--bars", notDir},
		"no bars in dir":     {"--bars", empty},
		"bad fill rate":      {"--partial-fill-rate", "1.5"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, _, _ := newApp(nil)
			err := m.Run(context.Background(), append([]string{"broker", "--auto-provision", "--listen", "127.0.0.1:0"}, args...))
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}
