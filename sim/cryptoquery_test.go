package sim_test

import (
	"io"
	"net/http"
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

// Crypto market data needs no API key at Alpaca, and the TypeScript SDK
// sends none for it: the simulator serves it without credentials, still
// refuses wrong ones, and still wants them for stock data (issue 9).
func TestCryptoDataWithoutCredentials(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5, Credentials: []sim.Credential{{KeyID: "PKCLOSED", Secret: "closed-secret-0123456789"}}})
	get := func(t *testing.T, path string, hdr map[string]string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong := map[string]string{"APCA-API-KEY-ID": "PKCLOSED", "APCA-API-SECRET-KEY": "not-the-secret-0123456789"}
	right := map[string]string{"APCA-API-KEY-ID": "PKCLOSED", "APCA-API-SECRET-KEY": "closed-secret-0123456789"}
	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		want       int
	}{
		{"CryptoAnonymous", "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD", nil, 200},
		{"CryptoBarsAnonymous", "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min", nil, 200},
		{"CryptoWrongSecret", "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD", wrong, 403},
		{"CryptoRightSecret", "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD", right, 200},
		{"StocksAnonymous", "/v2/stocks/AAPL/quotes/latest", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, tc.path, tc.hdr); got != tc.want {
				t.Errorf("GET %s: %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}
