package sim_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/quantum-alpaca/quantum/sim"
)

// BenchmarkHTTPMarketOrders measures market orders through the whole
// broker over loopback HTTP with 100 concurrent connections, next to a
// bare net/http handler that reads the same request and answers with a
// body of the same size, driven by the same client in the same run. The
// ratio of the two is the broker's share of the HTTP ceiling:
//
//	go test -run '^$' -bench HTTPMarketOrders -benchtime 100000x ./sim/
func BenchmarkHTTPMarketOrders(b *testing.B) {
	const conns = 100
	srv, err := sim.New(sim.Config{AutoProvision: true, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	broker := httptest.NewServer(srv.Handler())
	defer broker.Close()

	// One account per connection, as a stress run with one tenant per
	// worker has; each alternates buying and selling one share.
	body := func(i int64, sell bool) []byte {
		side := "buy"
		if sell {
			side = "sell"
		}
		return fmt.Appendf(nil, `{"symbol":"AAPL","qty":"1","side":"%s","type":"market","time_in_force":"day","client_order_id":"bench-%09d"}`, side, i)
	}
	sample := postOnce(b, broker.URL, "PKBENCHSAMPLE", body(0, false))
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(sample)
	}))
	defer bare.Close()

	// Shared across the benchmark's repeated runs, so that client ids and
	// accounts are never reused.
	var next, worker atomic.Int64
	for _, tc := range []struct{ name, url string }{{"bare", bare.URL}, {"broker", broker.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			var failed atomic.Int64
			b.SetParallelism((conns + 1) / 2) // GOMAXPROCS is 2 here: 100 goroutines
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := fmt.Sprintf("PKBENCH%s%d", tc.name, worker.Add(1))
				sell := false
				for pb.Next() {
					n := next.Add(1)
					req, _ := http.NewRequest("POST", tc.url+"/v2/orders", bytes.NewReader(body(n, sell)))
					sell = !sell
					req.Header.Set("APCA-API-KEY-ID", key)
					req.Header.Set("APCA-API-SECRET-KEY", "s")
					req.Header.Set("Content-Type", "application/json")
					resp, err := hc.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 && failed.Add(1) == 1 {
						b.Logf("status %d", resp.StatusCode)
					}
				}
			})
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d requests failed", f)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
		})
	}
}

func postOnce(b *testing.B, url, key string, body []byte) []byte {
	req, _ := http.NewRequest("POST", url+"/v2/orders", bytes.NewReader(body))
	req.Header.Set("APCA-API-KEY-ID", key)
	req.Header.Set("APCA-API-SECRET-KEY", "s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("sample order: %d %s", resp.StatusCode, out)
	}
	return out
}
