package alpaca_test

import (
	"fmt"
	"log"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func ExampleNewBroker() {
	// One Broker per firm: its credentials, connection pool and the
	// Broker API's 1,000 requests a minute are shared by every account.
	firm, err := alpaca.NewBroker(alpaca.BrokerSandboxURL,
		alpaca.WithClientCredentials("example-client-id", "example-client-secret"))
	if err != nil {
		log.Fatal(err)
	}
	// A customer account's trading goes through a Client scoped to it:
	// acct.SubmitOrder(ctx, req) posts to
	// /v1/trading/accounts/{account_id}/orders, exactly once per
	// client_order_id, as Client.SubmitOrder does on the Trading API.
	acct := firm.Account("8f2d9d52-1b0e-4e8c-9c54-0c2f3f7c1a10")
	fmt.Println(firm.BaseURL())
	fmt.Println(acct.AccountID())
	fmt.Println(acct.DataBaseURL())
	// Output:
	// https://broker-api.sandbox.alpaca.markets
	// 8f2d9d52-1b0e-4e8c-9c54-0c2f3f7c1a10
	// https://data.sandbox.alpaca.markets
}
