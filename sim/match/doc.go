// Package match is the paper broker's matching engine for one account: a
// pure, deterministic state machine with no I/O, no goroutines, no global
// state and no clock of its own. The simulator's HTTP server (package sim)
// owns one Account per API key behind a mutex, feeds it quotes and session
// changes, and converts its values to the alpaca wire structs.
//
// # Calling convention
//
// Every state-changing method takes the current time and an event slice,
// appends the trade_updates events it causes in the order they happened,
// and returns the extended slice; pass ev[:0] of a reused slice to avoid
// allocation. Errors are always *Error, whose Kind gives the HTTP status
// and Alpaca code (HTTPStatus, Code) and whose Message and Fields follow
// Alpaca's error bodies.
//
// # Numbers
//
// Quantities, prices and money are int64 fixed point: Qty in 1e-9 share,
// Price in $0.0001, Money in cents, AvgPrice in 1e-9 dollar and Percent in
// 1e-4 percentage point. Requests carry shopspring decimals exactly as
// received, so validation sees the caller's digits; out of the engine,
// every type has a Decimal method. Products use 128-bit intermediates and
// input beyond MaxOrderQty, MaxPrice or MaxNotional is rejected, so no
// operation can overflow; balances saturate rather than wrap in the
// absurd case of a position appreciating past int64 cents. A fill moves
// cash by qty×price truncated to the cent; reservations round up, which
// keeps a cash account's buying power from ever going negative.
//
// # Identifiers
//
// Order and execution ids are UUIDv4 drawn from the account's PCG source
// (seeded by Config.Seed), so a seed and an operation sequence reproduce
// the same ids. An order id also hides the order's sequence number under
// a keyed bijection, which makes lookup an index instead of a map. A
// client_order_id left empty is generated the same way (a UUID string);
// client ids are unique per account for all time, terminal orders
// included.
//
// # Matching
//
// Orders fill against the last quote only when marketable: buys at the
// ask when ask <= limit, sells at the bid when bid >= limit; quote size is
// ignored. Stops trigger when the ask rises to (buy) or the bid falls to
// (sell) the stop, then work as market (stop, trailing_stop) or limit
// (stop_limit) orders. Opening buys are capped at the price their buying
// power was reserved at: the ask plus Alpaca's 4% (under $50) or 2.5%
// collar for market orders, the same collar over the stop for stops, as
// Alpaca converts buy stops to stop-limits. Every eligible evaluation
// fills a random part of the remainder with probability
// Config.PartialFillRate (Alpaca paper: 10%); the rest waits for the next
// quote. ioc orders cancel what did not fill at once; fok orders never
// fill partially. A fill never flips a position: what cannot execute
// without crossing zero is canceled.
//
// # Sessions
//
// With Config.AlwaysOpen the session never closes: opg and cls orders work
// like day orders, and the server may call EndOfDay once a day to expire
// day orders and aged gtc orders. Otherwise the server calls OnOpen,
// OnClose and EndOfDay from its market clock: orders submitted while
// closed are accepted and start at the open (extended-hours limit orders
// work at once), opg orders execute in the opening auction and cls orders
// in the closing auction or expire, day orders expire at the close (an
// extended-hours day order at EndOfDay), gtc orders sleep overnight and
// expire 90 days after creation.
//
// # Order classes
//
// Bracket and OTO exit legs are held until the entry fills, then work for
// the filled quantity (capped at what is still left to close); a bracket's
// two exits are one-cancels-other, and a partial fill of one shrinks the
// other. An OCO order is the take-profit limit order itself with the stop
// loss as its leg, both working at once. Canceling any member cancels the
// group. Replace creates a new order (new id, Replaces/ReplacedBy) that
// takes the old one's place, in its group too; its qty is the new order's
// total, defaulting to the old order's unfilled remainder.
//
// # Account rules
//
// Multiplier 1 is a cash account: buying power is cash minus what open
// buy orders reserve, and it cannot short (a sell beyond the position is
// "insufficient qty"). Multipliers 2 and 4 give max(equity - initial
// margin, 0) × multiplier minus reservations, and allow shorting when
// enabled for shortable, easy-to-borrow assets, with short sales valued at
// the ask plus 3%. Sells and covers are checked against the position less
// what other closing orders hold. With equity under $25,000 a fourth day
// trade within five business days is refused (a day trade is closing a
// position that was opened or added to the same trading day).
package match
