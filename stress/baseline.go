package stress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Baseline measures the ceiling that any order path over HTTP on this
// machine is judged against: a bare net/http handler on loopback that reads
// a request the size of an order submission and answers with a canned body
// the size of the broker's order reply, driven by a plain net/http client
// with the same concurrency. It returns requests per second.
func Baseline(ctx context.Context, threads, requests int) (float64, error) {
	reqBody, respBody := sampleBodies()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(respBody)
	})}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	tr := &http.Transport{MaxIdleConnsPerHost: threads + 8, MaxConnsPerHost: threads + 8, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + ln.Addr().String() + "/v2/orders"
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(requests) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqBody))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d of %d baseline requests failed", f, requests)
	}
	return float64(requests) / elapsed.Seconds(), nil
}

// sampleBodies builds an order submission and an order reply shaped like
// the ones a stress run exchanges, so that the baseline moves the same
// number of bytes.
func sampleBodies() (req, resp []byte) {
	o := orderFor([]string{"AAPL"}, 0, 0, "st0123456789-17-421")
	req, _ = json.Marshal(o)
	now := time.Date(2026, 11, 23, 15, 1, 2, 123456789, time.UTC)
	price := decimal.RequireFromString("230.17")
	sub := "st0123456789-17-421"
	reply := alpaca.Order{
		ID: "7d3b1f4e-6a55-4c1e-9a53-0f2d8c1b2a3e", ClientOrderID: sub,
		CreatedAt: now, UpdatedAt: &now, SubmittedAt: &now, FilledAt: &now,
		AssetID: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", Symbol: "AAPL", AssetClass: "us_equity",
		Qty: o.Qty, FilledQty: *o.Qty, FilledAvgPrice: &price,
		OrderType: alpaca.Market, Type: alpaca.Market, Side: alpaca.Buy, TimeInForce: alpaca.Day,
		Status: alpaca.StatusFilled, PositionIntent: alpaca.BuyToOpen,
	}
	resp, _ = json.Marshal(reply)
	return req, append(resp, '\n')
}
