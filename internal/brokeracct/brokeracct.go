// Package brokeracct opens customer accounts under a Broker API firm for
// test customers with made-up identities: the tenants of `quantum tenants
// create` and the accounts of `quantum stress --broker-api`. The
// identities are fake, so callers must keep it away from Alpaca's live
// Broker API.
package brokeracct

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/backoff"
)

// DefaultParallel bounds the applications in flight in OpenMany; the
// firm's rate limiter paces them anyway, so more would only queue.
const DefaultParallel = 8

// Spec says how to open accounts.
type Spec struct {
	// Run marks one invocation's customers: it goes into every e-mail
	// address, which the broker requires to be unique and which is how an
	// application the broker may have acted on is found again.
	Run string
	// FundFrom, when set, is the firm account that Cash is journaled from
	// into each new account. Sandbox accounts start empty, so without it
	// they cannot buy anything.
	FundFrom string
	// Cash is the amount journaled with FundFrom.
	Cash decimal.Decimal
}

// attempts bounds how often one account application or funding journal
// is sent when the broker fails without saying what it did.
const attempts = 5

// Open applies for one test customer's account, named tenant, and, with
// s.FundFrom, journals cash into it; it returns the account id. An
// application the broker may have acted on before failing (a 5xx, a
// dropped connection) is looked up by its e-mail address before being
// sent again, as an order is by its client_order_id: a retry never opens
// a second account for a tenant, nor funds one twice.
func Open(ctx context.Context, b *alpaca.Broker, tenant string, s Spec) (string, error) {
	now := time.Now().UTC()
	agree := func(name string) alpaca.Agreement {
		return alpaca.Agreement{Agreement: name, SignedAt: now, IPAddress: "127.0.0.1"}
	}
	email := tenant + "." + s.Run + "@example.com"
	req := alpaca.CreateAccountRequest{
		Contact: alpaca.Contact{EmailAddress: email, PhoneNumber: "555-666-7788",
			StreetAddress: []string{"20 N San Mateo Dr"}, City: "San Mateo", State: "CA", PostalCode: "94401", Country: "USA"},
		Identity: alpaca.Identity{GivenName: "Test", FamilyName: "Tenant " + tenant, DateOfBirth: "1990-01-01",
			TaxID: "666-55-4321", TaxIDType: "USA_SSN", CountryOfCitizenship: "USA", CountryOfBirth: "USA",
			CountryOfTaxResidence: "USA", FundingSource: []string{"employment_income"}},
		Disclosures: alpaca.Disclosures{EmploymentStatus: "employed"},
		Agreements:  []alpaca.Agreement{agree("customer_agreement"), agree("margin_agreement"), agree("account_agreement")},
	}
	id, err := sendOnce(ctx, "create account",
		func() (string, error) {
			a, err := b.CreateAccount(ctx, req)
			if err != nil {
				return "", err
			}
			return a.ID, nil
		},
		func() (string, error) {
			found, err := b.ListAccounts(ctx, alpaca.ListAccountsRequest{Query: email, Entities: []string{"contact"}})
			if err != nil {
				return "", err
			}
			for _, a := range found {
				if a.Contact != nil && strings.EqualFold(a.Contact.EmailAddress, email) {
					return a.ID, nil
				}
			}
			return "", nil
		})
	if err != nil {
		return "", fmt.Errorf("%s: %w", tenant, err)
	}
	if s.FundFrom == "" || !s.Cash.IsPositive() {
		return id, nil
	}
	note := "quantum: funding " + tenant + " " + s.Run
	_, err = sendOnce(ctx, "funding journal",
		func() (string, error) {
			j, err := b.CreateJournal(ctx, alpaca.JournalRequest{EntryType: alpaca.JournalCash, FromAccount: s.FundFrom, ToAccount: id,
				Amount: &s.Cash, Description: note})
			if err != nil {
				return "", err
			}
			return j.ID, nil
		},
		func() (string, error) {
			list, err := b.ListJournals(ctx, alpaca.ListJournalsRequest{EntryType: string(alpaca.JournalCash), ToAccount: id})
			if err != nil {
				return "", err
			}
			for _, j := range list {
				if j.Description == note {
					return j.ID, nil
				}
			}
			return "", nil
		})
	if err != nil {
		return id, fmt.Errorf("%s: account %s created, not funded: %w", tenant, id, err)
	}
	return id, nil
}

// OpenMany opens an account for each of tenants, at most parallel at a
// time, and calls progress (when not nil, never concurrently) with the
// number finished after each. ids[i] and errs[i] are Open's results for
// tenants[i]; once ctx ends no further application is started, and those
// not started have neither an id nor an error.
func OpenMany(ctx context.Context, b *alpaca.Broker, tenants []string, s Spec, parallel int, progress func(done int)) (ids []string, errs []error) {
	ids = make([]string, len(tenants))
	errs = make([]error, len(tenants))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	work := make(chan int)
	for range min(max(1, parallel), len(tenants)) {
		wg.Go(func() {
			for i := range work {
				ids[i], errs[i] = Open(ctx, b, tenants[i], s)
				mu.Lock()
				done++
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		})
	}
	for i := range tenants {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return ids, errs
}

// sendOnce sends a request that is not idempotent until it succeeds,
// looking up whether the broker acted on a failed attempt before sending
// it again; lookup returns "" when the broker holds nothing. A refusal
// (4xx) is final.
func sendOnce(ctx context.Context, what string, send, lookup func() (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		id, err := send()
		if err == nil {
			return id, nil
		}
		var temp interface{ Temporary() bool }
		if !errors.As(err, &temp) || !temp.Temporary() || attempt == attempts {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if err := backoff.Sleep(ctx, backoff.Exponential(100*time.Millisecond, 3*time.Second, attempt)); err != nil {
			return "", err
		}
		id, lerr := lookup()
		if lerr != nil {
			return "", fmt.Errorf("%s: %w; and looking up whether it was done: %w", what, err, lerr)
		}
		if id != "" {
			return id, nil
		}
	}
}
