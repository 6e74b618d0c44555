package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// exampleServer stands in for Alpaca so the examples run offline.
func exampleServer() *httptest.Server {
	order, _ := os.ReadFile("testdata/order.json")
	account, _ := os.ReadFile("testdata/account.json")
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/account":
			w.Write(account)
		case r.Method == http.MethodPost && r.URL.Path == "/v2/orders":
			w.Write(order)
		case r.URL.Path == "/v2/orders":
			io.WriteString(w, "["+string(order)+"]")
		case r.URL.Path == "/v2/positions/TSLA":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"code":40410000,"message":"position does not exist"}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"code":40310000,"message":"insufficient buying power","buying_power":"10.00","cost_basis":"1805.00"}`)
		}
	}))
}

func ExampleNew() {
	// In production: alpaca.New(alpaca.PaperURL, ...) with keys from the
	// caller's configuration; the library never reads the environment.
	c, err := alpaca.New(alpaca.PaperURL,
		alpaca.WithCredentials("PKEXAMPLE", "example-secret"),
		alpaca.WithRateLimit(190, 10), // stay under Alpaca's 200/min
		alpaca.WithObserver(func(ri alpaca.RequestInfo) {
			// feed a metrics histogram labelled by ri.Route and ri.StatusCode
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())
	fmt.Println(c.DataBaseURL())
	// Output:
	// https://paper-api.alpaca.markets
	// https://data.alpaca.markets
}

func ExampleClient_SubmitOrder() {
	srv := exampleServer()
	defer srv.Close()
	c, _ := alpaca.New(srv.URL, alpaca.WithCredentials("PKEXAMPLE", "example-secret"))

	qty, limit := decimal.NewFromInt(10), decimal.RequireFromString("180.50")
	order, err := c.SubmitOrder(context.Background(), alpaca.OrderRequest{
		Symbol: "AAPL", Qty: &qty, Side: alpaca.Buy, Type: alpaca.Limit,
		TimeInForce: alpaca.Day, LimitPrice: &limit,
		// Journal this id before sending; after a crash, look it up.
		ClientOrderID: "qa-t1-000000000042",
	})
	var unknown *alpaca.UnknownOutcomeError
	switch {
	case errors.As(err, &unknown):
		fmt.Println("record as unknown and reconcile:", unknown.ClientOrderID)
	case err != nil:
		fmt.Println("rejected:", err)
	default:
		fmt.Println(order.Status, order.Symbol, order.Qty, order.LimitPrice)
	}
	// Output: accepted AAPL 10 180.5
}

func ExampleClient_ListOrders() {
	srv := exampleServer()
	defer srv.Close()
	c, _ := alpaca.New(srv.URL, alpaca.WithCredentials("PKEXAMPLE", "example-secret"))

	orders, err := c.ListOrders(context.Background(), alpaca.ListOrdersRequest{
		Status: alpaca.OrdersOpen, Symbols: []string{"AAPL"}, Limit: 100,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range orders {
		fmt.Println(o.ClientOrderID, o.Side, o.Qty, o.FilledQty)
	}
	// Output: qa-t1-000000000042 buy 10 0
}

func ExampleClient_GetAccount() {
	srv := exampleServer()
	defer srv.Close()
	c, _ := alpaca.New(srv.URL, alpaca.WithCredentials("PKEXAMPLE", "example-secret"))

	acct, err := c.GetAccount(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(acct.Status, acct.Equity, acct.BuyingPower)
	// Output: ACTIVE 103820.56 262113.632
}

func ExampleAPIError() {
	srv := exampleServer()
	defer srv.Close()
	c, _ := alpaca.New(srv.URL, alpaca.WithCredentials("PKEXAMPLE", "example-secret"))
	ctx := context.Background()

	_, err := c.GetPosition(ctx, "TSLA")
	fmt.Println(errors.Is(err, alpaca.ErrNotFound))

	qty := decimal.NewFromInt(1000)
	_, err = c.ClosePosition(ctx, "AAPL", alpaca.ClosePositionRequest{Qty: &qty})
	var apiErr *alpaca.APIError
	if errors.Is(err, alpaca.ErrInsufficientBuyingPower) && errors.As(err, &apiErr) {
		fmt.Println(apiErr.Code, apiErr.Fields["buying_power"])
	}
	fmt.Println(err)
	// Output:
	// true
	// 40310000 10.00
	// alpaca: insufficient buying power (HTTP 403, code 40310000)
}
