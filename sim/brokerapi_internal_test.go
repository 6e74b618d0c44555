package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The firm's feed carries its customers' trade events and nothing of the
// Trading API's accounts, holds at most BrokerFeedCapacity of them, and
// cuts off a subscriber that falls a whole ring behind (it resumes with
// since_id), so that a stalled firm stream costs the server no more than
// a stalled account stream.
func TestFirmFeed(t *testing.T) {
	const capacity = 4
	s, err := New(Config{Seed: 3, AutoProvision: true, BrokerKey: "CKFIRM", BrokerSecret: "firm-secret",
		BrokerFeedCapacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	h := s.Handler()
	do := func(method, path string, body any, firm bool) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(raw))
		if firm {
			req.SetBasicAuth("CKFIRM", "firm-secret")
		} else {
			req.Header.Set("APCA-API-KEY-ID", "PKTRADER")
			req.Header.Set("APCA-API-SECRET-KEY", "trader-secret")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		var v map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return v
	}
	open := func(email string) string {
		a := do("POST", "/v1/accounts", map[string]any{
			"contact":     map[string]any{"email_address": email},
			"identity":    map[string]any{"given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "country_of_tax_residence": "USA", "funding_source": []string{"savings"}},
			"disclosures": map[string]any{},
			"agreements":  []map[string]any{{"agreement": "customer_agreement", "signed_at": "2026-01-05T15:00:00Z", "ip_address": "127.0.0.1"}},
		}, true)
		return a["id"].(string)
	}
	order := func(path, cid string, firm bool) {
		do("POST", path, map[string]any{"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
			"limit_price": "1.00", "time_in_force": "gtc", "client_order_id": cid}, firm)
	}

	ids := []string{open("a@example.com"), open("b@example.com")}
	stalled := s.firm.feed.subscribe(nil) // never reads
	for i := range capacity {
		order("/v2/orders", fmt.Sprintf("trader-%d", i), false)
	}
	if n := s.firm.feed.n; n != 0 {
		t.Fatalf("the firm's feed holds %d events of a Trading API account", n)
	}
	for i := range capacity + 1 {
		order("/v1/trading/accounts/"+ids[i%2]+"/orders", fmt.Sprintf("cust-%d", i), true)
	}
	f := s.firm.feed
	f.mu.Lock()
	n, ringLen := f.n, len(f.ring)
	seen := map[uint32]bool{}
	for i := range f.n {
		seen[f.ring[(f.head+i)%len(f.ring)].v.acct] = true
	}
	f.mu.Unlock()
	if n != capacity || ringLen != capacity {
		t.Fatalf("firm feed holds %d events in a ring of %d, want %d", n, ringLen, capacity)
	}
	if !seen[1] || !seen[2] || len(seen) != 2 {
		t.Fatalf("firm feed's accounts %v, want both customers", seen)
	}
	select {
	case <-stalled.gone:
	default:
		t.Fatal("a subscriber a whole ring behind was not cut off")
	}
}
