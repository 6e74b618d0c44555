package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// The Broker API side of the server: one firm (Config.BrokerKey), the
// customer accounts it opens, the journals and transfers that fund them,
// its access tokens, and one trade-event feed that carries every
// customer's events. A customer account is an ordinary account of the
// server (its own match.Account, lock and per-account feed), reached
// through the firm's routes instead of a key pair of its own.

// Defaults of the Broker API side.
const (
	// DefaultBrokerFeedCapacity is how many trade events the firm-wide
	// feed keeps for replay: a firm's stream carries every account's
	// events, so it keeps more than one account's feed.
	DefaultBrokerFeedCapacity = 65536
	// DefaultTokenLifetime is how long an access token lives, as
	// Alpaca's do (its token endpoint says expires_in 899).
	DefaultTokenLifetime = 15 * time.Minute
	// maxTokens bounds the live access tokens kept: a client that asks
	// for a token per request must not grow the server without end. The
	// oldest is forgotten first.
	maxTokens = 4096
	// maxListedAccounts is the most accounts GET /v1/accounts answers
	// with, as Alpaca's route does.
	maxListedAccounts = 1000
	// maxJournals and maxTransfers bound what the firm remembers of its
	// funding (the firm's journals, each account's transfers), so that a
	// client posting them without end cannot grow the server without end;
	// the oldest are forgotten first, the money they moved stays moved.
	maxJournals  = 100_000
	maxTransfers = 1000
)

// firmRecord is a firm-feed entry: which customer (an index, keeping the
// entry pointer-free) and the trade update as its own feed keeps it.
type firmRecord struct {
	acct uint32 // customer index, from 1
	tu   tuRecord
}

// firm is the server's Broker API firm.
type firm struct {
	key        string
	secretHash [32]byte
	// id is the firm's own account: the source of funding journals, with
	// funds enough for any sandbox.
	id   string
	feed *feed[firmRecord]
	rate rateWindow
	// acts orders the customers' activities for the firm-wide activity
	// stream (activitystream.go).
	acts firmActivities

	mu        sync.Mutex
	customers []*customer          // creation order; index+1 is customer.idx
	byID      map[string]*customer // account id -> customer
	byEmail   map[string]*customer
	journals  []*alpaca.Journal
	journalID map[string]*alpaca.Journal
	tokens    map[[32]byte]time.Time // token hash -> expiry
	tokenList [][32]byte             // issue order, for forgetting the oldest
}

// customer is an account the firm opened.
type customer struct {
	a         *account
	idx       uint32
	info      alpaca.BrokerAccount // status and application; guarded by firm.mu
	transfers []*alpaca.Transfer   // newest last; guarded by firm.mu
}

func newFirm(key, secret string) *firm {
	sum := sha256.Sum256([]byte("quantum-broker-firm:" + key))
	var u match.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return &firm{
		key: key, secretHash: hashSecret(secret), id: u.String(), feed: newFeed[firmRecord](),
		byID: map[string]*customer{}, byEmail: map[string]*customer{},
		journalID: map[string]*alpaca.Journal{}, tokens: map[[32]byte]time.Time{},
	}
}

// FirmAccountID returns the Broker API firm's own account id, which
// funding journals (JNLC) draw from; "" when the server has no Broker API
// (Config.BrokerKey unset).
func (s *Server) FirmAccountID() string {
	if s.firm == nil {
		return ""
	}
	return s.firm.id
}

// firmAuth says what a request's credentials are to the firm.
type firmAuth int

const (
	firmNotIt     firmAuth = iota // not the firm's credentials (an account's, or none)
	firmOK                        // the firm's key pair or one of its live tokens
	firmWrongPass                 // the firm's key with another secret
)

// authenticate checks a request's credentials against the firm's: HTTP
// Basic or Alpaca's key headers with the firm's key pair, or a bearer
// token the firm was issued.
func (f *firm) authenticate(r *http.Request, now time.Time) firmAuth {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		h := sha256.Sum256([]byte(tok))
		f.mu.Lock()
		exp, found := f.tokens[h]
		f.mu.Unlock()
		if found && now.Before(exp) {
			return firmOK
		}
		return firmNotIt
	}
	key, secret, ok := credentials(r)
	if !ok || key != f.key {
		return firmNotIt
	}
	h := hashSecret(secret)
	if subtle.ConstantTimeCompare(h[:], f.secretHash[:]) != 1 {
		return firmWrongPass
	}
	return firmOK
}

// owns reports whether a key pair is the firm's.
func (f *firm) owns(key, secret string) bool {
	h := hashSecret(secret)
	return key == f.key && subtle.ConstantTimeCompare(h[:], f.secretHash[:]) == 1
}

// issueToken returns a new access token valid for life.
func (f *firm) issueToken(now time.Time, life time.Duration) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(tok))
	f.mu.Lock()
	defer f.mu.Unlock()
	// Forget expired tokens from the oldest on, and the oldest live ones
	// beyond the bound.
	n := 0
	for n < len(f.tokenList) && (len(f.tokenList)-n >= maxTokens || !now.Before(f.tokens[f.tokenList[n]])) {
		delete(f.tokens, f.tokenList[n])
		n++
	}
	f.tokenList = append(f.tokenList[n:], h)
	f.tokens[h] = now.Add(life)
	return tok
}

// customer returns the firm's account with this id, or nil.
func (f *firm) customer(id string) *customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byID[id]
}

// customerAt returns the customer with feed index idx.
func (f *firm) customerAt(idx uint32) *customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.customers[idx-1]
}

// firmAuthorized wraps a Broker API handler with the firm's
// authentication, its rate limit and the fault injector, as authorized
// does for the Trading API.
func (s *Server) firmAuthorized(h http.HandlerFunc) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.firm.authenticate(r, s.rateNow()) {
		case firmOK:
		case firmWrongPass:
			writeError(w, http.StatusForbidden, codeForbidden, "forbidden: access key verification failed", nil)
			return
		default:
			writeError(w, http.StatusUnauthorized, codeUnauthorized, "request is not authorized", nil)
			return
		}
		if lim := s.cfg.BrokerRateLimit; lim > 0 && !s.firm.rate.take(w.Header(), lim, s.cfg.RateWindow, s.rateNow()) {
			writeError(w, http.StatusTooManyRequests, codeRateLimited, "rate limit exceeded", nil)
			return
		}
		h(w, r)
	})
	return s.faults.wrap(inner)
}

// firmAccount wraps a Trading API handler as the Broker API's
// /v1/trading/accounts/{account_id}/... route of the same call: the firm
// authenticates, and the account comes from the path. A closed account
// can still be read but not traded.
func (s *Server) firmAccount(h func(http.ResponseWriter, *http.Request, *account)) http.Handler {
	return s.firmAuthorized(func(w http.ResponseWriter, r *http.Request) {
		c := s.firm.customer(r.PathValue("account_id"))
		if c == nil {
			notFound(w, "account not found")
			return
		}
		if r.Method != http.MethodGet {
			s.firm.mu.Lock()
			st := c.info.Status
			s.firm.mu.Unlock()
			if st != alpaca.AccountActive {
				writeError(w, http.StatusForbidden, codeForbidden, "account is not active: "+string(st), nil)
				return
			}
		}
		h(w, r, c.a)
	})
}

// customerActivities serves GET /v1/accounts/activities[/{type}]: the
// activities of the customer named by account_id, or without it of every
// customer of the firm, merged in time order (activitylist.go), the
// booked ones (SPLIT, DIV, JNLC, CSD and CSW) included; each item carries
// its account_id, as Alpaca's Broker API's do. With date, every activity
// of the day comes in one page unless page_size says otherwise.
func (s *Server) customerActivities(w http.ResponseWriter, r *http.Request) {
	var accts []*account
	if id := r.URL.Query().Get("account_id"); id != "" {
		c := s.firm.customer(id)
		if c == nil {
			notFound(w, "account not found")
			return
		}
		accts = []*account{c.a}
	} else {
		s.firm.mu.Lock()
		accts = make([]*account, len(s.firm.customers))
		for i, c := range s.firm.customers {
			accts[i] = c.a
		}
		s.firm.mu.Unlock()
	}
	f, ok := parseActFilter(w, r, true)
	if !ok {
		return
	}
	if list, ok := listActivities(w, &f, accts); ok {
		writeJSON(w, http.StatusOK, list)
	}
}

// firmOnly wraps a handler that needs no account (clock, calendar,
// assets) for the Broker API's /v1 routes.
func (s *Server) firmOnly(h func(http.ResponseWriter, *http.Request, *account)) http.Handler {
	return s.firmAuthorized(func(w http.ResponseWriter, r *http.Request) { h(w, r, nil) })
}

// brokerRoutes registers the Broker API. Its account routes are the
// Trading API's handlers, so an order placed through either behaves the
// same.
func (s *Server) brokerRoutes() {
	firm := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.firmAuthorized(h)) }
	acct := func(pattern string, h func(http.ResponseWriter, *http.Request, *account)) {
		s.mux.Handle(pattern, s.firmAccount(h))
	}
	s.mux.Handle("POST "+alpaca.TokenPath, s.faults.wrap(http.HandlerFunc(s.postToken)))

	firm("POST /v1/accounts", s.createCustomer)
	firm("GET /v1/accounts", s.listCustomers)
	firm("GET /v1/accounts/{account_id}", s.getCustomer)
	firm("POST /v1/accounts/{account_id}/actions/close", s.closeCustomer)
	firm("DELETE /v1/accounts/{account_id}", s.closeCustomer)
	firm("POST /v1/accounts/{account_id}/transfers", s.createTransfer)
	// GET /v1/accounts/activities/{type} and .../{account_id}/transfers
	// overlap as patterns ("activities" could be an account id), so one
	// route serves both.
	firm("GET /v1/accounts/{account_id}/{what}", func(w http.ResponseWriter, r *http.Request) {
		switch what := r.PathValue("what"); {
		case r.PathValue("account_id") == "activities":
			r.SetPathValue("type", what)
			s.customerActivities(w, r)
		case what == "transfers":
			s.listTransfers(w, r)
		default:
			notFound(w, "endpoint not found")
		}
	})
	firm("POST /v1/journals", s.createJournal)
	firm("GET /v1/journals", s.listJournals)
	firm("GET /v1/journals/{journal_id}", s.getJournal)
	firm("DELETE /v1/journals/{journal_id}", s.cancelJournal)

	const p = "/v1/trading/accounts/{account_id}"
	acct("GET "+p+"/account", s.getAccount)
	acct("GET "+p+"/account/configurations", s.getConfigurations)
	acct("PATCH "+p+"/account/configurations", s.patchConfigurations)
	acct("GET "+p+"/account/portfolio/history", s.getPortfolioHistory)
	acct("POST "+p+"/orders", s.postOrder)
	acct("GET "+p+"/orders", s.listOrders)
	acct("DELETE "+p+"/orders", s.cancelAllOrders)
	acct("GET "+p+"/orders/{id}", s.getOrder)
	acct("PATCH "+p+"/orders/{id}", s.replaceOrder)
	acct("DELETE "+p+"/orders/{id}", s.cancelOrder)
	acct("GET "+p+"/orders:by_client_order_id", s.getOrderByClientID)
	acct("GET "+p+"/positions", s.listPositions)
	acct("DELETE "+p+"/positions", s.closeAllPositions)
	acct("GET "+p+"/positions/{symbol}", s.getPosition)
	acct("DELETE "+p+"/positions/{symbol}", s.closePosition)
	acct("GET "+p+"/watchlists", s.listWatchlists)
	acct("POST "+p+"/watchlists", s.createWatchlist)
	acct("GET "+p+"/watchlists/{id}", s.getWatchlist)
	acct("PUT "+p+"/watchlists/{id}", s.updateWatchlist)
	acct("POST "+p+"/watchlists/{id}", s.addToWatchlist)
	acct("DELETE "+p+"/watchlists/{id}", s.deleteWatchlist)
	acct("DELETE "+p+"/watchlists/{id}/{symbol}", s.removeFromWatchlist)

	firm("GET /v1/accounts/activities", s.customerActivities)
	s.mux.Handle("GET /v1/clock", s.firmOnly(s.getClock))
	s.mux.Handle("GET /v1/calendar", s.firmOnly(s.getCalendar))
	s.mux.Handle("GET /v1/assets", s.firmOnly(s.listAssets))
	s.mux.Handle("GET /v1/assets/{symbol}", s.firmOnly(s.getAsset))
}

// postToken serves the client-credentials grant: the firm's key pair as
// client_id and client_secret buys a bearer token for the Broker API.
func (s *Server) postToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	h := hashSecret(f.Get("client_secret"))
	if f.Get("client_id") != s.firm.key || subtle.ConstantTimeCompare(h[:], s.firm.secretHash[:]) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	life := s.cfg.TokenLifetime
	tok := s.firm.issueToken(s.rateNow(), life)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": max(int64(life/time.Second)-1, 1), // a second's margin, as Alpaca's 899 "token_type": "Bearer",
	})
}

// validApplication checks what Alpaca requires of an application and
// returns the first problem.
func validApplication(req *alpaca.CreateAccountRequest) string {
	id := &req.Identity
	switch {
	case !strings.Contains(req.Contact.EmailAddress, "@"):
		return "contact.email_address is required"
	case id.GivenName == "" || id.FamilyName == "":
		return "identity.given_name and identity.family_name are required"
	case id.CountryOfTaxResidence == "":
		return "identity.country_of_tax_residence is required"
	case len(id.FundingSource) == 0:
		return "identity.funding_source is required"
	case len(req.Agreements) == 0:
		return "agreements are required"
	}
	if _, err := time.Parse(time.DateOnly, id.DateOfBirth); err != nil {
		return "identity.date_of_birth must be YYYY-MM-DD"
	}
	for _, a := range req.Agreements {
		switch a.Agreement {
		case "customer_agreement", "account_agreement", "margin_agreement", "crypto_agreement":
		default:
			return "agreements: unknown agreement " + a.Agreement
		}
		if a.SignedAt.IsZero() || a.IPAddress == "" {
			return "agreements: signed_at and ip_address are required"
		}
	}
	switch req.AccountType {
	case "", "trading":
	default:
		return "account_type " + req.AccountType + " is not supported by this broker"
	}
	return ""
}

// createCustomer serves POST /v1/accounts. As in Alpaca's sandbox, the
// account is ACTIVE at once, and it starts with Config.Cash so that it
// can trade at once, as an auto-provisioned Trading API account does.
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req alpaca.CreateAccountRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if msg := validApplication(&req); msg != "" {
		invalid(w, msg)
		return
	}
	email := strings.ToLower(req.Contact.EmailAddress)
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byEmail[email] != nil {
		writeError(w, http.StatusConflict, 40910000, "email address already in use", nil)
		return
	}
	idx := uint32(len(f.customers) + 1)
	// A synthetic key that no request can present: the account is reached
	// through the firm only. Its number makes the account's seeded
	// randomness, and so its id, repeat from run to run.
	key := "broker-account:" + f.key + ":" + strconv.FormatUint(uint64(idx), 10)
	var nokey [32]byte
	_, _ = rand.Read(nokey[:])
	a := s.accounts.getOrCreate(key, s.cfg.MaxAccounts, func() *account {
		a := s.newAccount(key, nokey, s.cfg.Cash)
		a.firmIdx = idx
		return a
	})
	if a == nil {
		s.accountLimitHit()
		writeError(w, http.StatusForbidden, codeForbidden, accountLimitMessage, nil)
		return
	}
	f.acts.opened(idx, a.created)
	c := &customer{a: a, idx: idx, info: alpaca.BrokerAccount{
		ID: a.id, AccountNumber: a.number, Status: alpaca.AccountActive, Currency: "USD",
		LastEquity: decimal.NewFromFloat(s.cfg.Cash).Round(2), CreatedAt: a.created,
		AccountType: "trading", EnabledAssets: req.EnabledAssets,
	}}
	if len(c.info.EnabledAssets) == 0 {
		c.info.EnabledAssets = []string{"us_equity"}
	}
	contact, identity, disc := req.Contact, req.Identity, req.Disclosures
	identity.TaxID = "" // kept by a real broker; this one has no use for it
	c.info.Contact, c.info.Identity, c.info.Disclosures = &contact, &identity, &disc
	c.info.Agreements = slices.Clone(req.Agreements)
	c.info.TrustedContact = req.TrustedContact
	f.customers = append(f.customers, c)
	f.byID[a.id] = c
	f.byEmail[email] = c
	writeJSON(w, http.StatusOK, &c.info)
}

// summary is an account as the list route returns it: the application
// details only where entities asks for them.
func summary(c *customer, entities map[string]bool) alpaca.BrokerAccount {
	out := c.info
	if !entities["contact"] {
		out.Contact = nil
	}
	if !entities["identity"] {
		out.Identity = nil
	}
	if !entities["disclosures"] {
		out.Disclosures = nil
	}
	if !entities["agreements"] {
		out.Agreements = nil
	}
	if !entities["trusted_contact"] {
		out.TrustedContact = nil
	}
	return out
}

// listCustomers serves GET /v1/accounts: query tokens (all must match the
// number, e-mail address, phone or name), created_after/created_before,
// status, sort by creation (asc unless desc), at most 1,000.
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, ok := queryTime(w, q.Get("created_after"), "created_after")
	if !ok {
		return
	}
	before, ok := queryTime(w, q.Get("created_before"), "created_before")
	if !ok {
		return
	}
	desc := false
	switch q.Get("sort") {
	case "", "asc":
	case "desc":
		desc = true
	default:
		invalid(w, "invalid sort: must be asc or desc")
		return
	}
	entities := map[string]bool{}
	for _, e := range strings.Split(q.Get("entities"), ",") {
		entities[strings.TrimSpace(e)] = true
	}
	tokens := strings.Fields(strings.ToLower(q.Get("query")))
	status := alpaca.AccountStatus(q.Get("status"))

	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []alpaca.BrokerAccount{}
	n := len(f.customers)
	for i := range n {
		c := f.customers[i]
		if desc {
			c = f.customers[n-1-i]
		}
		in := &c.info
		if (!after.IsZero() && !in.CreatedAt.After(after)) || (!before.IsZero() && !in.CreatedAt.Before(before)) ||
			(status != "" && in.Status != status) || !matches(in, tokens) {
			continue
		}
		out = append(out, summary(c, entities))
		if len(out) == maxListedAccounts {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func matches(a *alpaca.BrokerAccount, tokens []string) bool {
	for _, t := range tokens {
		hay := []string{strings.ToLower(a.AccountNumber)}
		if a.Contact != nil {
			hay = append(hay, strings.ToLower(a.Contact.EmailAddress), strings.ToLower(a.Contact.PhoneNumber))
		}
		if a.Identity != nil {
			hay = append(hay, strings.ToLower(a.Identity.GivenName), strings.ToLower(a.Identity.FamilyName))
		}
		found := false
		for _, h := range hay {
			if strings.Contains(h, t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID[r.PathValue("account_id")]
	if c == nil {
		notFound(w, "account not found")
		return
	}
	writeJSON(w, http.StatusOK, &c.info)
}

// closeCustomer serves POST /v1/accounts/{account_id}/actions/close (and
// the older DELETE /v1/accounts/{account_id}). The sandbox does not
// insist that positions be closed and cash withdrawn first; the account
// stops trading, and closing it again changes nothing.
func (s *Server) closeCustomer(w http.ResponseWriter, r *http.Request) {
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID[r.PathValue("account_id")]
	if c == nil {
		notFound(w, "account not found")
		return
	}
	c.info.Status = alpaca.AccountClosed
	w.WriteHeader(http.StatusNoContent)
}

// move credits amount (negative: debits) to the customer's cash and
// books the activity that records it (issue 9): of type typ (JNLC, CSD or
// CSW), net amount amount, executed, its id made of its time and of ref,
// the journal's or transfer's id, and the account's, so that the two
// sides of a journal differ. The account's last equity moves with it, so
// that funding does not show as the day's profit.
func (s *Server) move(c *customer, amount match.Money, typ, ref, desc string) error {
	a := c.a
	a.mu.Lock()
	if err := a.eng.Deposit(amount); err != nil {
		a.mu.Unlock()
		return err
	}
	a.lastEquity += amount
	at := a.bookTime(s.now())
	net := amount.Decimal()
	a.book(s, at, alpaca.Activity{
		ID: activityID(at, ref, a.id), ActivityType: typ, Date: at.In(newYork).Format(time.DateOnly),
		NetAmount: &net, Description: desc, Status: "executed",
	})
	a.mu.Unlock()
	a.ringActivities(s)
	return nil
}

// createJournal serves POST /v1/journals for cash journals (JNLC)
// between the firm's own account and its customers, or between two
// customers. They settle at once, as sandbox journals under the limit do,
// and each customer side gets its JNLC activity: net amount negative on
// the source, positive on the destination. The firm's own account is an
// id only, with no cash, activities or listing of its own, so its side
// records none.
func (s *Server) createJournal(w http.ResponseWriter, r *http.Request) {
	var req alpaca.JournalRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.EntryType != alpaca.JournalCash {
		invalid(w, "entry_type must be JNLC: this broker journals cash only")
		return
	}
	if req.Amount == nil || !req.Amount.IsPositive() {
		invalid(w, "amount must be a positive decimal")
		return
	}
	amount, ok := match.ParseMoney(*req.Amount)
	if !ok {
		invalid(w, "amount must have at most 2 decimals")
		return
	}
	if req.FromAccount == req.ToAccount {
		invalid(w, "from_account and to_account must differ")
		return
	}
	f := s.firm
	jid := newUUID()
	var from, to *customer
	for _, side := range []struct {
		id  string
		dst **customer
	}{{req.FromAccount, &from}, {req.ToAccount, &to}} {
		if side.id == f.id {
			continue
		}
		c := f.customer(side.id)
		if c == nil {
			notFound(w, "account "+side.id+" not found")
			return
		}
		*side.dst = c
	}
	desc := func(dir, other string) string {
		d := "cash journal " + jid + " " + dir + " account " + other
		if req.Description != "" {
			d += ": " + req.Description
		}
		return d
	}
	if from != nil {
		if err := s.move(from, -amount, "JNLC", jid, desc("to", req.ToAccount)); err != nil {
			writeError(w, http.StatusForbidden, codeForbidden, "the amount requested to move is not available", nil)
			return
		}
	}
	if to != nil {
		_ = s.move(to, amount, "JNLC", jid, desc("from", req.FromAccount)) // a credit cannot fail
	}
	now := s.now()
	day := now.In(newYork).Format(time.DateOnly)
	net := amount.Decimal()
	j := &alpaca.Journal{
		ID: jid, EntryType: alpaca.JournalCash, FromAccount: req.FromAccount, ToAccount: req.ToAccount,
		Status: alpaca.JournalExecuted, SettleDate: &day, SystemDate: &day, NetAmount: &net,
		Description: req.Description,
	}
	f.mu.Lock()
	if len(f.journals) == maxJournals {
		delete(f.journalID, f.journals[0].ID)
		f.journals = slices.Delete(f.journals, 0, 1)
	}
	f.journals = append(f.journals, j)
	f.journalID[j.ID] = j
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

// listJournals serves GET /v1/journals, oldest first.
func (s *Server) listJournals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after, before string
	for _, p := range []struct {
		name string
		dst  *string
	}{{"after", &after}, {"before", &before}} {
		if v := q.Get(p.name); v != "" {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				invalid(w, "invalid "+p.name+": expected YYYY-MM-DD")
				return
			}
			*p.dst = v
		}
	}
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*alpaca.Journal{}
	for _, j := range f.journals {
		d := *j.SystemDate
		if (after != "" && d < after) || (before != "" && d > before) ||
			(q.Get("status") != "" && string(j.Status) != q.Get("status")) ||
			(q.Get("entry_type") != "" && j.EntryType != q.Get("entry_type")) ||
			(q.Get("from_account") != "" && j.FromAccount != q.Get("from_account")) ||
			(q.Get("to_account") != "" && j.ToAccount != q.Get("to_account")) {
			continue
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getJournal(w http.ResponseWriter, r *http.Request) {
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.journalID[r.PathValue("journal_id")]
	if j == nil {
		notFound(w, "journal not found")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// cancelJournal serves DELETE /v1/journals/{journal_id}: every journal
// here has executed, and an executed journal cannot be canceled.
func (s *Server) cancelJournal(w http.ResponseWriter, r *http.Request) {
	f := s.firm
	f.mu.Lock()
	j := f.journalID[r.PathValue("journal_id")]
	f.mu.Unlock()
	if j == nil {
		notFound(w, "journal not found")
		return
	}
	writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, "journal is not pending: "+string(j.Status), nil)
}

// createTransfer serves POST /v1/accounts/{account_id}/transfers for ACH
// deposits and withdrawals, which complete at once, each with its
// activity: a CSD for a deposit, a CSW (net amount negative) for a
// withdrawal. The sandbox's ACH relationships are not modelled: any
// relationship_id is accepted.
func (s *Server) createTransfer(w http.ResponseWriter, r *http.Request) {
	c := s.firm.customer(r.PathValue("account_id"))
	if c == nil {
		notFound(w, "account not found")
		return
	}
	var req alpaca.TransferRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case req.TransferType != "ach":
		invalid(w, "transfer_type must be ach: the sandbox supports ACH only")
		return
	case req.Direction != alpaca.TransferIncoming && req.Direction != alpaca.TransferOutgoing:
		invalid(w, "direction must be INCOMING or OUTGOING")
		return
	case req.Timing != "" && req.Timing != "immediate":
		invalid(w, "timing must be immediate")
		return
	case !req.Amount.IsPositive():
		invalid(w, "amount must be a positive decimal")
		return
	}
	amount, ok := match.ParseMoney(req.Amount)
	if !ok {
		invalid(w, "amount must have at most 2 decimals")
		return
	}
	tid := newUUID()
	typ, desc := "CSD", "ACH deposit, transfer "+tid
	if req.Direction == alpaca.TransferOutgoing {
		amount = -amount
		typ, desc = "CSW", "ACH withdrawal, transfer "+tid
	}
	if err := s.move(c, amount, typ, tid, desc); err != nil {
		writeError(w, http.StatusForbidden, codeForbidden, "insufficient funds for the withdrawal", nil)
		return
	}
	now := s.now().UTC()
	t := &alpaca.Transfer{
		ID: tid, AccountID: c.a.id, Type: "ach", Status: alpaca.TransferComplete,
		Amount: req.Amount, Direction: req.Direction, CreatedAt: now, UpdatedAt: &now,
	}
	if req.RelationshipID != "" {
		rel := req.RelationshipID
		t.RelationshipID = &rel
	}
	if req.AdditionalInformation != "" {
		info := req.AdditionalInformation
		t.AdditionalInformation = &info
	}
	s.firm.mu.Lock()
	if len(c.transfers) == maxTransfers {
		c.transfers = slices.Delete(c.transfers, 0, 1)
	}
	c.transfers = append(c.transfers, t)
	s.firm.mu.Unlock()
	writeJSON(w, http.StatusOK, t)
}

// listTransfers serves GET /v1/accounts/{account_id}/transfers, newest
// first.
func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request) {
	f := s.firm
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID[r.PathValue("account_id")]
	if c == nil {
		notFound(w, "account not found")
		return
	}
	out := make([]*alpaca.Transfer, 0, len(c.transfers))
	for i := len(c.transfers) - 1; i >= 0; i-- {
		out = append(out, c.transfers[i])
	}
	writeJSON(w, http.StatusOK, out)
}

// newUUID returns a random v4 UUID for journals and transfers, whose ids
// need not repeat from run to run.
func newUUID() string {
	var u match.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// FirmEvents is how many trade events the Broker API firm's stream has
// published, over every account; 0 without a firm. A consumer that read
// the stream to the end has received exactly this many.
func (s *Server) FirmEvents() uint64 {
	if s.firm == nil {
		return 0
	}
	f := s.firm.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}
