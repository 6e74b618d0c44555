package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Hundreds of concurrent clients on a few accounts, mixing every kind of
// request: under -race nothing may race, and afterwards every account's
// books must balance (position = sum of fills, cash = fills, no filled
// quantity above the order's, ...).
func TestConcurrentClientsKeepAccountsConsistent(t *testing.T) {
	s, err := New(Config{AutoProvision: true, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	const clients, accounts, each = 200, 8, 15
	bodies := []string{
		`{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`,
		`{"symbol":"AAPL","qty":"1","side":"sell","type":"market","time_in_force":"day"}`,
		`{"symbol":"MSFT","qty":"2","side":"buy","type":"limit","limit_price":"1.00","time_in_force":"gtc"}`,
		`{"symbol":"NVDA","notional":"150","side":"buy","type":"market","time_in_force":"day"}`,
		`{"symbol":"TSLA","qty":"1","side":"sell","type":"trailing_stop","trail_percent":"5","time_in_force":"gtc"}`,
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			key := fmt.Sprintf("PKCONC%d", c%accounts)
			do := func(method, path, body string) {
				req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
				req.Header.Set("APCA-API-KEY-ID", key)
				req.Header.Set("APCA-API-SECRET-KEY", "s")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s: %d", method, path, resp.StatusCode)
				}
			}
			for i := 0; i < each; i++ {
				switch rng.IntN(6) {
				case 0:
					do("GET", "/v2/account", "")
				case 1:
					do("GET", "/v2/orders?status=all&limit=20", "")
				case 2:
					do("DELETE", "/v2/orders", "")
				case 3:
					do("GET", "/v2/positions", "")
				default:
					do("POST", "/v2/orders", bodies[rng.IntN(len(bodies))])
				}
			}
		}(c)
	}
	wg.Wait()
	for _, a := range s.accounts.all() {
		a.mu.Lock()
		err := a.eng.CheckInvariants()
		n := a.eng.OrderCount()
		a.mu.Unlock()
		if err != nil {
			t.Errorf("account %s: %v", a.keyID, err)
		}
		if n == 0 {
			t.Errorf("account %s has no orders", a.keyID)
		}
	}
}
