package alpaca

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Broker API hosts.
const (
	// BrokerLiveURL is the Broker API for live customer accounts.
	BrokerLiveURL = "https://broker-api.alpaca.markets"
	// BrokerSandboxURL is the Broker API's sandbox.
	BrokerSandboxURL = "https://broker-api.sandbox.alpaca.markets"
	// BrokerDataSandboxURL is the market-data host of sandbox firms.
	BrokerDataSandboxURL = "https://data.sandbox.alpaca.markets"
)

// Defaults of NewBroker that differ from New's.
const (
	// DefaultBrokerRateLimit and DefaultBrokerRateBurst keep a firm under
	// the Broker API's 1,000 requests a minute in any 60-second window
	// (950/min refill + 50 burst), the same shape as DefaultRateLimit.
	// Every account view of the firm draws from this one budget.
	DefaultBrokerRateLimit = 950
	DefaultBrokerRateBurst = 50
)

// Broker is a client of Alpaca's Broker API for one firm: customer
// accounts, their funding, and, through Account, trading in each of them.
// It is safe for concurrent use. One Broker owns one connection pool, one
// rate limiter and one set of firm credentials, which every account view
// shares: a fleet of thousands of accounts costs one Client, not
// thousands.
//
// The firm-wide trade-event stream (GET /v2/events/trades, every event
// carrying its account_id) is stream.NewBrokerTradeEvents.
type Broker struct {
	c     *Client
	views sync.Map // account id -> *Client
}

// DefaultBrokerOptions returns the options NewBroker starts from:
// DefaultOptions with the Broker API's rate budget.
func DefaultBrokerOptions() Options {
	o := DefaultOptions()
	o.RateLimit, o.RateBurst = DefaultBrokerRateLimit, DefaultBrokerRateBurst
	return o
}

// NewBroker returns a Broker for the Broker API at baseURL
// (BrokerSandboxURL, BrokerLiveURL or a simulator's address).
// Credentials are required: WithBrokerCredentials (HTTP Basic with the
// firm's key pair) or WithClientCredentials (short-lived bearer tokens).
func NewBroker(baseURL string, opts ...Option) (*Broker, error) {
	c, err := newClient(baseURL, DefaultBrokerOptions(), opts)
	if err != nil {
		return nil, err
	}
	if c.auth.tokens == nil && c.auth.basic == nil {
		return nil, errors.New("alpaca: NewBroker: need WithBrokerCredentials or WithClientCredentials")
	}
	return &Broker{c: c}, nil
}

// BaseURL returns the Broker API base URL.
func (b *Broker) BaseURL() string { return b.c.base }

// CloseIdleConnections closes the firm's idle keep-alive connections,
// which every account view shares.
func (b *Broker) CloseIdleConnections() { b.c.CloseIdleConnections() }

// Account returns a Client for trading in one customer account: its
// orders, positions and account routes go to the Broker API's
// /v1/trading/accounts/{account_id}/... on the firm's connection pool,
// rate limiter and credentials. Every Client method that has a
// per-account route works on it as on a Trading API Client, SubmitOrder's
// exactly-once submission included (its look-up goes to the account's
// orders:by_client_order_id). Clock, calendar and assets go to the
// Broker API's /v1 routes, account activities to /v1/accounts/activities
// for the account, and market data to the firm's data host.
//
// The same account id always yields the same Client, so a per-account
// budget (WithAccountRateLimit) holds however often it is asked for.
// CloseIdleConnections on a view closes the whole firm's idle
// connections.
func (b *Broker) Account(accountID string) *Client {
	if v, ok := b.views.Load(accountID); ok {
		return v.(*Client)
	}
	v, _ := b.views.LoadOrStore(accountID, b.c.accountView(accountID))
	return v.(*Client)
}

// Authorize sets the firm's credentials on req, for a request the Broker
// does not send itself, such as an event stream's. With client
// credentials it may first fetch a token, within ctx.
func (b *Broker) Authorize(ctx context.Context, req *http.Request) error {
	h, err := b.c.auth.authorization(ctx, b.c)
	if err != nil {
		return err
	}
	req.Header["Authorization"] = h
	return nil
}

// Unauthorized tells the Broker that the server refused req's
// credentials, as set by Authorize. It reports whether trying again is
// worthwhile: true when they were an access token, which is then dropped
// so that the next Authorize fetches another; false for a key pair,
// which will not get better.
func (b *Broker) Unauthorized(req *http.Request) bool {
	if b.c.auth.tokens == nil {
		return false
	}
	return b.c.auth.tokens.invalidate(req.Header["Authorization"])
}

// accountScope is what makes a Client a view of one Broker API account.
type accountScope struct {
	id     string
	prefix string       // "/v1/trading/accounts/<escaped id>"
	lim    *hostLimiter // the account's own budget; nil when none
}

// brokerAccountRoute is the route template of the per-account routes.
const brokerAccountRoute = "/v1/trading/accounts/{account_id}"

// accountView returns a copy of c that sends its trading calls to one
// account's Broker API routes.
func (c *Client) accountView(id string) *Client {
	v := *c
	v.acct = &accountScope{id: id, prefix: "/v1/trading/accounts/" + seg(id)}
	if c.opts.AccountRateLimit > 0 {
		v.acct.lim = newHostLimiter(c.opts.AccountRateLimit, c.opts.AccountRateBurst, 0)
	}
	return &v
}

// AccountID returns the Broker API account a Client obtained from
// Broker.Account trades in, and "" for a Trading API Client.
func (c *Client) AccountID() string {
	if c.acct == nil {
		return ""
	}
	return c.acct.id
}

// target maps a Trading API route, path and query to the account's Broker
// API equivalents. Paths without one are sent as they are.
func (a *accountScope) target(route, path string, q url.Values) (string, string, url.Values) {
	switch {
	case underPath(path, "/v2/account/activities"):
		// The Broker API lists activities firm-wide, filtered by account.
		q2 := make(url.Values, len(q)+1)
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("account_id", a.id)
		return "/v1/accounts" + strings.TrimPrefix(route, "/v2/account"),
			"/v1/accounts" + strings.TrimPrefix(path, "/v2/account"), q2
	case underPath(path, "/v2/orders"), underPath(path, "/v2/positions"),
		underPath(path, "/v2/account"), underPath(path, "/v2/watchlists"):
		return brokerAccountRoute + strings.TrimPrefix(route, "/v2"), a.prefix + strings.TrimPrefix(path, "/v2"), q
	case underPath(path, "/v2/clock"), underPath(path, "/v2/calendar"), underPath(path, "/v2/assets"):
		return "/v1" + strings.TrimPrefix(route, "/v2"), "/v1" + strings.TrimPrefix(path, "/v2"), q
	}
	return route, path, q
}

// underPath reports whether path is p or lies below it ("/v2/orders/x",
// and "/v2/orders:by_client_order_id", whose colon is literal).
func underPath(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return rest == "" || rest[0] == '/' || rest[0] == ':'
}

// CreateAccount submits a customer's application (POST /v1/accounts) and
// returns the account, whose Status says whether it can trade yet
// (Alpaca's sandbox and the simulator make it ACTIVE at once; production
// may take a while, announced on the account status events).
//
// Like every request that creates something, it is retried only when the
// server certainly did not act on it (a 429, a failed connect). After
// any other failure the account may exist: find it with ListAccounts
// (Query: the e-mail address) before applying again; a second
// application with the same e-mail address is refused with 409.
func (b *Broker) CreateAccount(ctx context.Context, req CreateAccountRequest) (*BrokerAccount, error) {
	var a BrokerAccount
	if _, err := b.c.send(ctx, http.MethodPost, "/v1/accounts", "/v1/accounts", nil, &req, &a, false); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListAccountsRequest filters GET /v1/accounts. Zero fields are not sent.
type ListAccountsRequest struct {
	// Query holds space-separated tokens that must all match an account's
	// number, phone number, name or e-mail address.
	Query string
	// CreatedAfter and CreatedBefore bound the creation time. The server
	// returns at most 1,000 accounts ordered by creation: page by passing
	// the last one's CreatedAt as CreatedAfter.
	CreatedAfter, CreatedBefore time.Time
	// Status restricts the list to one status.
	Status AccountStatus
	// Sort is Asc or Desc.
	Sort string
	// Entities names extra parts to include (for example "contact",
	// "identity").
	Entities []string
}

// ListAccounts lists the firm's accounts (GET /v1/accounts).
func (b *Broker) ListAccounts(ctx context.Context, req ListAccountsRequest) ([]BrokerAccount, error) {
	q := url.Values{}
	setNonEmpty(q, "query", req.Query)
	setTime(q, "created_after", req.CreatedAfter)
	setTime(q, "created_before", req.CreatedBefore)
	setNonEmpty(q, "status", string(req.Status))
	setNonEmpty(q, "sort", req.Sort)
	if len(req.Entities) > 0 {
		q.Set("entities", strings.Join(req.Entities, ","))
	}
	var out []BrokerAccount
	if err := b.c.get(ctx, "/v1/accounts", "/v1/accounts", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetAccount returns one customer account with its application details
// (GET /v1/accounts/{account_id}); ErrNotFound when the firm has none
// with this id. Its trading figures (cash, buying power) are
// Account(id).GetAccount's.
func (b *Broker) GetAccount(ctx context.Context, accountID string) (*BrokerAccount, error) {
	var a BrokerAccount
	if err := b.c.get(ctx, "/v1/accounts/{account_id}", "/v1/accounts/"+seg(accountID), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// CloseAccount closes a customer account (POST
// /v1/accounts/{account_id}/actions/close); its records remain. Close its
// positions and withdraw its cash first. Closing is idempotent and
// retried like a read.
func (b *Broker) CloseAccount(ctx context.Context, accountID string) error {
	_, err := b.c.send(ctx, http.MethodPost, "/v1/accounts/{account_id}/actions/close",
		"/v1/accounts/"+seg(accountID)+"/actions/close", nil, nil, nil, true)
	return err
}

// CreateJournal moves cash (JournalCash, Amount) or shares
// (JournalSecurities, Symbol and Qty) between two of the firm's accounts
// (POST /v1/journals); funding a customer account from the firm's own
// account is a cash journal. The journal may settle at once (Status
// executed) or later.
//
// A journal has no client-chosen id, so it is retried only when the
// server certainly did not act on it (429, failed connect). After any
// other failure the money may have moved: check ListJournals before
// sending it again.
func (b *Broker) CreateJournal(ctx context.Context, req JournalRequest) (*Journal, error) {
	var j Journal
	if _, err := b.c.send(ctx, http.MethodPost, "/v1/journals", "/v1/journals", nil, &req, &j, false); err != nil {
		return nil, err
	}
	return &j, nil
}

// ListJournalsRequest filters GET /v1/journals. Zero fields are not sent.
type ListJournalsRequest struct {
	// After and Before bound the creation date (dates, not times).
	After, Before time.Time
	Status        JournalStatus
	EntryType     string
	FromAccount   string
	ToAccount     string
}

// ListJournals lists journals (GET /v1/journals).
func (b *Broker) ListJournals(ctx context.Context, req ListJournalsRequest) ([]Journal, error) {
	q := url.Values{}
	if !req.After.IsZero() {
		q.Set("after", formatDate(req.After))
	}
	if !req.Before.IsZero() {
		q.Set("before", formatDate(req.Before))
	}
	setNonEmpty(q, "status", string(req.Status))
	setNonEmpty(q, "entry_type", req.EntryType)
	setNonEmpty(q, "from_account", req.FromAccount)
	setNonEmpty(q, "to_account", req.ToAccount)
	var out []Journal
	if err := b.c.get(ctx, "/v1/journals", "/v1/journals", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetJournal returns one journal (GET /v1/journals/{journal_id}).
func (b *Broker) GetJournal(ctx context.Context, journalID string) (*Journal, error) {
	var j Journal
	if err := b.c.get(ctx, "/v1/journals/{journal_id}", "/v1/journals/"+seg(journalID), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// CancelJournal cancels a journal that is still pending (DELETE
// /v1/journals/{journal_id}); an executed one is reversed with a journal
// the other way.
func (b *Broker) CancelJournal(ctx context.Context, journalID string) error {
	_, err := b.c.send(ctx, http.MethodDelete, "/v1/journals/{journal_id}", "/v1/journals/"+seg(journalID),
		nil, nil, nil, true)
	return err
}

// CreateTransfer moves money into or out of a customer account (POST
// /v1/accounts/{account_id}/transfers). Timing defaults to "immediate".
// Like CreateJournal it is not retried after an ambiguous failure: check
// ListTransfers before sending it again.
func (b *Broker) CreateTransfer(ctx context.Context, accountID string, req TransferRequest) (*Transfer, error) {
	if req.Timing == "" {
		req.Timing = "immediate"
	}
	var t Transfer
	if _, err := b.c.send(ctx, http.MethodPost, "/v1/accounts/{account_id}/transfers",
		"/v1/accounts/"+seg(accountID)+"/transfers", nil, &req, &t, false); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTransfers lists an account's transfers (GET
// /v1/accounts/{account_id}/transfers), newest first.
func (b *Broker) ListTransfers(ctx context.Context, accountID string) ([]Transfer, error) {
	var out []Transfer
	if err := b.c.get(ctx, "/v1/accounts/{account_id}/transfers", "/v1/accounts/"+seg(accountID)+"/transfers",
		nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
