package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --assets FILE lists the active US equities of an asset list saved from
// Alpaca's GET /v2/assets instead of the default universe.
func TestBrokerAssets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "assets.json")
	saved := `[{"id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","class":"us_equity","exchange":"NASDAQ","symbol":"AAPL","name":"Apple Inc. Common Stock","status":"active","tradable":true,"marginable":true,"shortable":true,"easy_to_borrow":true,"fractionable":true},
	 {"id":"7f6c1a2e-0000-4000-8000-000000000001","class":"us_equity","exchange":"NYSE","symbol":"ZZZQ","name":"Zed Corp","status":"active","tradable":true}]`
	if err := os.WriteFile(file, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, stderr := newApp(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"broker", "--listen", "127.0.0.1:0", "--auto-provision", "--assets", file})
	}()
	var base string
	for deadline := time.Now().Add(time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		base = servingRE.FindString(stderr.String())
	}
	if base == "" {
		t.Fatalf("broker did not report its address: %s", stderr)
	}
	req, _ := http.NewRequest("GET", base+"/v2/assets", nil)
	req.Header.Set("APCA-API-KEY-ID", "PKASSETS")
	req.Header.Set("APCA-API-SECRET-KEY", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var assets []struct{ ID, Symbol string }
	err = json.NewDecoder(resp.Body).Decode(&assets)
	resp.Body.Close()
	var syms []string
	for _, a := range assets {
		syms = append(syms, a.Symbol)
	}
	if err != nil || strings.Join(syms, ",") != "AAPL,ZZZQ,FAKEPACA" || assets[0].ID != "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415" {
		t.Fatalf("assets %v: %v", assets, err)
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

func TestBrokerAssetsRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"not":"a list"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, _ := newApp(nil)
	err := m.Run(context.Background(), []string{"broker", "--auto-provision", "--assets", bad, "--bars", dir})
	var ue usageError
	if !errors.As(err, &ue) {
		t.Errorf("--assets with --bars: err = %v, want a usage error", err)
	}
	for _, f := range []string{bad, filepath.Join(dir, "missing.json")} {
		m, _, _ := newApp(nil)
		if err := m.Run(context.Background(), []string{"broker", "--auto-provision", "--listen", "127.0.0.1:0", "--assets", f}); err == nil || !strings.Contains(err.Error(), "assets file") {
			t.Errorf("--assets %s: err = %v", filepath.Base(f), err)
		}
	}
}
