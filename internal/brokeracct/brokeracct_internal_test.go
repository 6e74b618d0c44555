package brokeracct

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// An application the broker acted on before failing is found by the
// look-up, not sent again; one it did not act on is sent again; a
// refusal is final.
func TestSendOnceLooksUpBeforeResend(t *testing.T) {
	ctx := context.Background()
	unavailable := &alpaca.APIError{StatusCode: http.StatusBadGateway, Message: "bad gateway"}

	t.Run("ActedThenFailed", func(t *testing.T) {
		held, sends := "", 0
		id, err := sendOnce(ctx, "create account",
			func() (string, error) { sends++; held = "acct-1"; return "", unavailable },
			func() (string, error) { return held, nil })
		if err != nil || id != "acct-1" || sends != 1 {
			t.Fatalf("id %q, err %v after %d sends; want acct-1 after 1", id, err, sends)
		}
	})
	t.Run("FailedBeforeActing", func(t *testing.T) {
		sends := 0
		id, err := sendOnce(ctx, "create account",
			func() (string, error) {
				sends++
				if sends == 1 {
					return "", unavailable
				}
				return "acct-2", nil
			},
			func() (string, error) { return "", nil })
		if err != nil || id != "acct-2" || sends != 2 {
			t.Fatalf("id %q, err %v after %d sends; want acct-2 after 2", id, err, sends)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		sends := 0
		_, err := sendOnce(ctx, "create account",
			func() (string, error) {
				sends++
				return "", &alpaca.APIError{StatusCode: http.StatusUnprocessableEntity, Message: "invalid tax id"}
			},
			func() (string, error) { t.Fatal("looked up a refusal"); return "", nil })
		if err == nil || sends != 1 || !strings.Contains(err.Error(), "invalid tax id") {
			t.Fatalf("err %v after %d sends", err, sends)
		}
	})
	t.Run("LookupFails", func(t *testing.T) {
		sends := 0
		_, err := sendOnce(ctx, "create account",
			func() (string, error) { sends++; return "", unavailable },
			func() (string, error) { return "", errors.New("list accounts: timeout") })
		if err == nil || sends != 1 || !strings.Contains(err.Error(), "looking up") {
			t.Fatalf("an unanswered look-up must stop the resend: err %v after %d sends", err, sends)
		}
	})
}
