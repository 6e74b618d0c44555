package sim_test

import (
	"testing"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// GET /v2/orders?symbols= finds a crypto pair's orders by either of the
// forms Alpaca accepts, BTC/USD (escaped or not) and BTCUSD, as positions
// are found, and only that pair's (issue 9).
func TestListOrdersByCryptoSymbolForm(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	c := cryptoClient{t, srv.URL, "PKCRYPTOLIST"}
	var btc, eth cryptoOrderJSON
	c.json("POST", "/v2/orders", `{"symbol":"BTC/USD","qty":"0.001","side":"buy","type":"limit","limit_price":"1000","time_in_force":"gtc"}`, 200, &btc)
	c.json("POST", "/v2/orders", `{"symbol":"ETHUSD","qty":"0.01","side":"buy","type":"limit","limit_price":"100","time_in_force":"gtc"}`, 200, &eth)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"symbols=BTCUSD", []string{btc.ID}},
		{"symbols=BTC/USD", []string{btc.ID}},
		{"symbols=BTC%2FUSD", []string{btc.ID}},
		{"symbols=ETH/USD", []string{eth.ID}},
		{"symbols=BTCUSD,ETHUSD&direction=asc", []string{btc.ID, eth.ID}},
		{"symbols=BTC/USD,ETHUSD&direction=asc", []string{btc.ID, eth.ID}},
		{"symbols=LTCUSD", nil},
		{"symbols=AAPL", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			c := cryptoClient{t, srv.URL, c.key}
			var got []cryptoOrderJSON
			c.json("GET", "/v2/orders?status=all&"+tc.query, "", 200, &got)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d orders %+v, want %v", len(got), got, tc.want)
			}
			for i, o := range got {
				if o.ID != tc.want[i] {
					t.Errorf("order %d: got %s, want %s", i, o.ID, tc.want[i])
				}
			}
		})
	}
}

// The account says it may trade crypto, as an Alpaca paper account does.
func TestAccountCryptoStatus(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	c := cryptoClient{t, srv.URL, "PKCRYPTOSTATUS"}
	var acct struct {
		Status       string `json:"status"`
		CryptoStatus string `json:"crypto_status"`
	}
	c.json("GET", "/v2/account", "", 200, &acct)
	if acct.Status != "ACTIVE" || acct.CryptoStatus != "ACTIVE" {
		t.Errorf("got status %q crypto_status %q, want ACTIVE and ACTIVE", acct.Status, acct.CryptoStatus)
	}
}
