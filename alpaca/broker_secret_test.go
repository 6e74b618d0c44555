package alpaca_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

const (
	testBrokerKey    = "CKTESTFIRM01"
	testBrokerSecret = "firm-s3cr3t-DO-NOT-LEAK-31a7"
	testClientID     = "client-id-0001"
	testClientSecret = "client-s3cr3t-DO-NOT-LEAK-c9"
	testAccessToken  = "access-tok3n-DO-NOT-LEAK-77"
)

// TestBrokerSecretsNeverLeak is TestSecretNeverLeaks for the Broker API's
// credentials: the firm's key pair (sent as HTTP Basic, so the secret
// travels base64-encoded), the client secret and the access tokens it
// buys. The server echoes whatever it receives, decoded and not, into
// every error it can produce, on REST calls, the token endpoint and the
// event stream.
func TestBrokerSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	echo := func(r *http.Request) string {
		_ = r.ParseForm()
		s := r.Header.Get("Authorization") + " " + r.PostForm.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok {
			s += " " + u + ":" + p
		}
		return s
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch first := "/" + strings.Split(r.URL.Path, "/")[1]; {
		case r.URL.Path == alpaca.TokenPath:
			writeJSON(w, 200, map[string]any{"access_token": testAccessToken, "expires_in": 900, "token_type": "Bearer"})
		case first == "/badtoken" && strings.HasSuffix(r.URL.Path, alpaca.TokenPath):
			writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "bad " + echo(r)})
		case first == "/401":
			writeJSON(w, 401, map[string]any{"message": "bad credentials " + echo(r)})
		case first == "/500":
			w.WriteHeader(500)
			io.WriteString(w, "<html>proxy error; headers: "+echo(r)+"</html>")
		case strings.HasSuffix(r.URL.Path, "/v2/events/trades"):
			writeJSON(w, 403, map[string]any{"message": "forbidden " + echo(r)})
		default:
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "invalid " + echo(r), "echo": echo(r)})
		}
	}))
	defer srv.Close()

	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var observed []string
	mk := func(base string, creds alpaca.Option) *alpaca.Broker {
		b, err := alpaca.NewBroker(base, creds,
			alpaca.WithRetry(1, time.Millisecond, time.Millisecond),
			alpaca.WithRateLimit(0, 0),
			alpaca.WithLogger(logger),
			alpaca.WithObserver(func(ri alpaca.RequestInfo) {
				mu.Lock()
				observed = append(observed, fmt.Sprintf("%+v %v", ri, ri.Err))
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.CloseIdleConnections)
		return b
	}
	basic := alpaca.WithBrokerCredentials(testBrokerKey, testBrokerSecret)
	tokens := alpaca.WithClientCredentials(testClientID, testClientSecret)

	ctx := t.Context()
	var errs []error
	for _, creds := range []alpaca.Option{basic, tokens} {
		for _, p := range []string{"", "/401", "/500"} {
			b := mk(srv.URL+p, creds)
			_, err := b.GetAccount(ctx, "acct-1")
			errs = append(errs, err)
			_, err = b.Account("acct-1").SubmitOrder(ctx, orderReq("cid-broker-secret"))
			errs = append(errs, err)
		}
	}
	// The token endpoint itself refuses, echoing the client secret.
	bad := mk(srv.URL+"/badtoken", tokens)
	_, err := bad.ListAccounts(ctx, alpaca.ListAccountsRequest{})
	if !errors.Is(err, alpaca.ErrUnauthorized) {
		t.Errorf("refused token request: %v, want ErrUnauthorized", err)
	}
	errs = append(errs, err)
	// The event stream refuses, echoing the credentials it was opened with.
	for _, creds := range []alpaca.Option{basic, tokens} {
		es, err := stream.NewBrokerTradeEvents(mk(srv.URL, creds), stream.WithLogger(logger),
			stream.WithReconnectBackoff(time.Millisecond, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, es.Run(ctx))
	}

	opts := alpaca.DefaultBrokerOptions()
	basic(&opts)
	tokens(&opts)
	var cfgLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&cfgLog, nil)).Info("config", "opts", opts)
	printed := []string{fmt.Sprintf("%v %+v %#v", opts, opts, opts), cfgLog.String(),
		fmt.Sprintf("%v %+v %#v", bad, bad, bad)}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error", i)
			continue
		}
		printed = append(printed, fmt.Sprintf("%v | %+v | %#v", err, err, err))
		var apiErr *alpaca.APIError
		if errors.As(err, &apiErr) {
			printed = append(printed, string(apiErr.Body), apiErr.Message, fmt.Sprint(apiErr.Fields))
		}
	}
	mu.Lock()
	printed = append(printed, logs.String())
	printed = append(printed, observed...)
	mu.Unlock()

	all := strings.Join(printed, "\n")
	if !strings.Contains(all, "[REDACTED]") {
		t.Error("expected scrubbed echoes; the server did not echo the credentials")
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(testBrokerKey + ":" + testBrokerSecret))
	for _, s := range []string{testBrokerSecret, encoded, testClientSecret, testAccessToken} {
		if strings.Contains(all, s) {
			t.Errorf("%q leaked in:\n%s", s, all)
		}
	}
}
