package alpaca_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// A secret short enough to occur inside ordinary words must not stop the
// client from recognising the error, nor appear in it.
func TestShortSecretStillClassified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"code":40010001,"message":"client_order_id must be unique"}`))
	}))
	defer srv.Close()
	c, err := alpaca.New(srv.URL, alpaca.WithCredentials("PKSHORT", "s"), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetOrder(context.Background(), "x")
	if !errors.Is(err, alpaca.ErrDuplicateClientOrderID) {
		t.Fatalf("not classified: %v", err)
	}
	var ae *alpaca.APIError
	if !errors.As(err, &ae) || strings.Contains(ae.Message, "must") || strings.Contains(string(ae.Body), "must") {
		t.Fatalf("message %q", ae.Message)
	}
}
