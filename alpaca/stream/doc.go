// Package stream holds the clients of Alpaca's streaming APIs, for the
// same accounts the alpaca package's REST Client serves:
//
//   - TradeEvents: the account's trade updates over server-sent events
//     (GET /v2/events/trades), which resumes after a dropped connection
//     without a gap or a repeat;
//   - TradeSocket: the same updates over the older trade_updates
//     websocket (/stream), which cannot resume and so asks the caller to
//     reconcile after every reconnect;
//   - MarketData: trades, quotes and bars over the market-data websocket
//     (/v2/{feed});
//   - CryptoMarketData: the same for crypto pairs, with fractional sizes,
//     over the crypto websocket (/v1beta3/crypto/{loc}), the same client
//     on another path, plus the crypto-only order books
//     (Subscription.Orderbooks, KindOrderbook): a whole book marked
//     Reset, then updates in which a level of size 0 is removed.
//
// Every client is built with options (Option, Options), runs under one
// call to Run that reconnects with jittered backoff until its context
// ends, reports through callbacks and Stats rather than logging, and owns
// every goroutine it starts: when Run returns, they have exited and the
// output channel is closed.
//
// The wire types (alpaca.TradeUpdate, alpaca.Trade, alpaca.Quote,
// alpaca.Bar, alpaca.CryptoTrade, ...) are the REST client's, so an
// update read from a stream and an order read by REST decode alike.
package stream
