package cli

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

var firmAccountRE = regexp.MustCompile(`funding journals: ([0-9a-f-]{36})`)

// quantum broker --broker-key --broker-secret serves the Broker API: an
// account opened through it can trade at once with --cash, and a journal
// from the firm's account (named in the banner) funds it at once. The
// secret is never printed.
func TestBrokerFirm(t *testing.T) {
	t.Parallel()
	const secret = "firm-secret-never-printed"
	for name, args := range map[string]func(t *testing.T) []string{
		"Flags": func(*testing.T) []string {
			return []string{"--broker-key", "CKFIRM", "--broker-secret", secret}
		},
		"AccountsFile": func(t *testing.T) []string {
			return []string{"--accounts", writeConfig(t, "- {key_id: CKFIRM, secret: "+secret+", broker: true}\n")}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, _, stderr := newApp(nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- m.Run(ctx, append([]string{"broker", "--listen", "127.0.0.1:0", "--cash", "20000"}, args(t)...))
			}()
			var base, firm string
			for deadline := time.Now().Add(time.Minute); firm == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				out := stderr.String()
				base = servingRE.FindString(out)
				if m := firmAccountRE.FindStringSubmatch(out); m != nil {
					firm = m[1]
				}
			}
			if base == "" || firm == "" {
				t.Fatalf("broker did not report its address and firm account: %s", stderr)
			}
			b, err := alpaca.NewBroker(base, alpaca.WithBrokerCredentials("CKFIRM", secret), alpaca.WithRateLimit(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer b.CloseIdleConnections()
			signed := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
			acct, err := b.CreateAccount(ctx, alpaca.CreateAccountRequest{
				Contact:    alpaca.Contact{EmailAddress: "cli@example.com"},
				Identity:   alpaca.Identity{GivenName: "A", FamilyName: "B", DateOfBirth: "1990-01-01", CountryOfTaxResidence: "USA", FundingSource: []string{"savings"}},
				Agreements: []alpaca.Agreement{{Agreement: "customer_agreement", SignedAt: signed, IPAddress: "127.0.0.1"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			amount := decimal.NewFromInt(500)
			if _, err := b.CreateJournal(ctx, alpaca.JournalRequest{EntryType: alpaca.JournalCash, FromAccount: firm,
				ToAccount: acct.ID, Amount: &amount}); err != nil {
				t.Fatal(err)
			}
			ta, err := b.Account(acct.ID).GetAccount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !ta.Cash.Equal(decimal.NewFromInt(20_500)) {
				t.Fatalf("cash %s, want --cash 20000 plus the 500 journaled", ta.Cash)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("broker: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("broker did not stop")
			}
			if strings.Contains(stderr.String(), secret) {
				t.Fatalf("the firm's secret was printed: %s", stderr)
			}
		})
	}
}

func TestBrokerFirmUsage(t *testing.T) {
	t.Parallel()
	twoFirms := writeConfig(t, "- {key_id: CK1, secret: s1, broker: true}\n- {key_id: CK2, secret: s2, broker: true}\n")
	oneFirm := writeConfig(t, "- {key_id: CK1, secret: s1, broker: true}\n")
	for name, tc := range map[string]struct {
		args  []string
		usage bool // a usage error, not a bad file
	}{
		"key without secret": {[]string{"--broker-key", "CK1"}, true},
		"secret without key": {[]string{"--auto-provision", "--broker-secret", "s1"}, true},
		"firm twice":         {[]string{"--accounts", oneFirm, "--broker-key", "CK2", "--broker-secret", "s2"}, true},
		"negative rate":      {[]string{"--broker-key", "CK1", "--broker-secret", "s1", "--broker-rate-limit", "-1"}, true},
		"two firms in file":  {[]string{"--accounts", twoFirms}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, _, _ := newApp(nil)
			err := m.Run(context.Background(), append([]string{"broker", "--listen", "127.0.0.1:0"}, tc.args...))
			var ue usageError
			if err == nil || errors.As(err, &ue) != tc.usage {
				t.Errorf("err = %v, want an error (a usage error: %v)", err, tc.usage)
			}
		})
	}
}
