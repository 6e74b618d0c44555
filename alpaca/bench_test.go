package alpaca_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func orderServer(tb testing.TB) *httptest.Server {
	order := []byte(mustRead(tb, "testdata/order.json"))
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(order)
	}))
}

func tunedTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
}

// BenchmarkSubmitOrder compares one order placement through our client and
// through the official SDK's PlaceOrder, both on a tuned transport, with 1
// and 64 concurrent callers.
func BenchmarkSubmitOrder(b *testing.B) {
	srv := orderServer(b)
	defer srv.Close()
	qty, px := decimal.NewFromInt(10), decimal.RequireFromString("180.5")

	ours, err := alpaca.New(srv.URL, alpaca.WithCredentials(testKey, testSecret), alpaca.WithRateLimit(0, 0),
		alpaca.WithTransport(tunedTransport()))
	if err != nil {
		b.Fatal(err)
	}
	ourReq := alpaca.OrderRequest{Symbol: "AAPL", Qty: &qty, Side: alpaca.Buy, Type: alpaca.Limit,
		TimeInForce: alpaca.Day, LimitPrice: &px, ClientOrderID: "qa-t1-000000000042"}
	theirs := sdk.NewClient(sdk.ClientOpts{BaseURL: srv.URL, APIKey: testKey, APISecret: testSecret,
		HTTPClient: &http.Client{Transport: tunedTransport()}})
	theirReq := sdk.PlaceOrderRequest{Symbol: "AAPL", Qty: &qty, Side: sdk.Buy, Type: sdk.Limit,
		TimeInForce: sdk.Day, LimitPrice: &px, ClientOrderID: "qa-t1-000000000042"}

	impls := map[string]func() error{
		"ours": func() error { _, err := ours.SubmitOrder(context.Background(), ourReq); return err },
		"sdk":  func() error { _, err := theirs.PlaceOrder(theirReq); return err },
	}
	for _, name := range []string{"ours", "sdk"} {
		submit := impls[name]
		b.Run(name+"/p1", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := submit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/p64", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := submit(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIdleClientMemory measures what an idle tenant costs: one Client
// holding one kept-alive connection, over 1,000 tenants. The server runs in
// a child process so that only client-side memory is counted. Run with
// -benchtime=1x; it reports heap-B/client and stack-B/client.
// BenchmarkIdleClientMemory measures what one idle tenant client with one
// kept-alive connection costs, at 1,000 and 10,000 tenants; the server runs
// in a child process so that only the clients are counted:
//
//	go test -run '^$' -bench IdleClientMemory -benchtime 1x ./alpaca/
func BenchmarkIdleClientMemory(b *testing.B) {
	for _, tenants := range []int{1000, 10000} {
		b.Run(fmt.Sprint(tenants), func(b *testing.B) { benchIdleClients(b, tenants) })
	}
}

func benchIdleClients(b *testing.B, tenants int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(tenants)+256 {
		b.Skipf("open-file limit %d is too low for %d connections", lim.Cur, tenants)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleServer$")
	cmd.Env = append(os.Environ(), "QA_HELPER_IDLE_SERVER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))

	for b.Loop() {
		clients := make([]*alpaca.Client, 0, tenants)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range tenants {
			c, err := alpaca.New("http://"+addr, alpaca.WithCredentials(fmt.Sprint("PK", i), testSecret))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.GetClock(context.Background()); err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(tenants), "heap-B/client")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(tenants), "stack-B/client")
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		runtime.KeepAlive(clients)
	}
}

// TestHelperIdleServer is the child process of BenchmarkIdleClientMemory.
func TestHelperIdleServer(t *testing.T) {
	if os.Getenv("QA_HELPER_IDLE_SERVER") != "1" {
		t.Skip("helper process for BenchmarkIdleClientMemory")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"timestamp":"2026-01-05T10:00:00Z","is_open":true,"next_open":"2026-01-06T14:30:00Z","next_close":"2026-01-05T21:00:00Z"}`)
	}))
}
