package alpaca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token endpoints of Alpaca's client-credentials flow (Broker API). The
// Broker API host of each environment has its own authentication host.
const (
	// AuthLiveURL issues tokens for BrokerLiveURL.
	AuthLiveURL = "https://authx.alpaca.markets"
	// AuthSandboxURL issues tokens for BrokerSandboxURL.
	AuthSandboxURL = "https://authx.sandbox.alpaca.markets"
	// TokenPath is the token endpoint's path on those hosts (and on the
	// project's broker simulator, which serves it beside the API).
	TokenPath = "/v1/oauth2/token"
)

const (
	// tokenRefreshMax caps how long before its expiry a token is replaced.
	// Alpaca's tokens live 15 minutes, so a fresh one is fetched after
	// about 14, leaving a minute for requests in flight and clock skew.
	tokenRefreshMax = time.Minute
	// tokenMinLife is the lifetime assumed when the endpoint states none
	// or an absurd one; long enough not to hammer it, short enough that a
	// revoked token is soon replaced.
	tokenMinLife = 30 * time.Second
	// maxTokenLife keeps a server's expires_in from making a token
	// outlive any reasonable rotation.
	maxTokenLife = 24 * time.Hour
)

// tokenReply is the token endpoint's answer.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// tokenSource holds one client-credentials token for every goroutine of a
// Client and its account views, so that a fleet of tenants exchanges the
// credentials once per token lifetime, not once per request or tenant.
type tokenSource struct {
	endpoint string // absolute token URL
	form     []byte // the encoded request body, client secret included
	secret   string // client secret, for scrubbing
	now      func() time.Time

	mu        sync.Mutex
	tok       string
	header    []string // "Bearer <tok>", shared read-only with requests
	refreshAt time.Time
	expiresAt time.Time
	// busy is non-nil while one caller fetches; the others wait on it
	// (or keep using a token that is due for refresh but still valid).
	busy chan struct{}
	// lastErr is the failure of the most recent fetch, for its waiters.
	lastErr error
	// old are recently replaced tokens, kept only to scrub them from
	// server text that might echo them after they were rotated.
	old []string
	// onWait, when set (by tests), is called as a caller starts waiting
	// for another's fetch.
	onWait func()
}

func newTokenSource(endpoint, clientID string, secret Secret) *tokenSource {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {string(secret)},
	}
	return &tokenSource{endpoint: endpoint, form: []byte(form.Encode()), secret: string(secret), now: time.Now}
}

// defaultTokenURL is where a Broker API host's tokens come from: Alpaca's
// authentication host for Alpaca's hosts, the API host itself otherwise
// (a simulator serves the endpoint beside the API).
func defaultTokenURL(base *url.URL) string {
	switch base.Hostname() {
	case "broker-api.alpaca.markets":
		return AuthLiveURL + TokenPath
	case "broker-api.sandbox.alpaca.markets":
		return AuthSandboxURL + TokenPath
	}
	return strings.TrimRight(base.String(), "/") + TokenPath
}

// authorization returns the Authorization header value to send, fetching
// a token first when there is none or the current one is due for
// renewal. A token due for renewal but still valid is handed out while
// another caller renews it, so renewal never stalls the fleet.
func (ts *tokenSource) authorization(ctx context.Context, c *Client) ([]string, error) {
	ts.mu.Lock()
	for {
		now := ts.now()
		valid := ts.tok != "" && now.Before(ts.expiresAt)
		if valid && now.Before(ts.refreshAt) {
			h := ts.header
			ts.mu.Unlock()
			return h, nil
		}
		if ts.busy == nil {
			break
		}
		if valid {
			h := ts.header
			ts.mu.Unlock()
			return h, nil
		}
		ch := ts.busy
		if ts.onWait != nil {
			ts.onWait()
		}
		ts.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		ts.mu.Lock()
		if ts.tok != "" && ts.now().Before(ts.expiresAt) {
			continue
		}
		// The fetch failed. If only because its caller gave up, this
		// caller, still waiting, fetches in turn; any other failure is
		// shared, so that a fleet does not retry it one after another.
		if err := ts.lastErr; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			ts.mu.Unlock()
			return nil, err
		}
	}
	ch := make(chan struct{})
	ts.busy = ch
	ts.mu.Unlock()

	tok, life, err := ts.fetch(ctx, c)

	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.busy = nil
	close(ch)
	ts.lastErr = err
	if err != nil {
		if ts.tok != "" && ts.now().Before(ts.expiresAt) {
			return ts.header, nil // renewal failed; the current token still works
		}
		return nil, err
	}
	if ts.tok != "" && ts.tok != tok {
		ts.retire(ts.tok)
	}
	now := ts.now()
	ts.tok, ts.header = tok, []string{"Bearer " + tok}
	ts.expiresAt = now.Add(life)
	ts.refreshAt = ts.expiresAt.Add(-min(life/5, tokenRefreshMax))
	return ts.header, nil
}

// retire remembers a replaced token for scrubbing; the caller holds mu.
func (ts *tokenSource) retire(tok string) {
	const keep = 4
	if len(ts.old) == keep {
		copy(ts.old, ts.old[1:])
		ts.old = ts.old[:keep-1]
	}
	ts.old = append(ts.old, tok)
}

// invalidate drops the token an Authorization header carried if it is
// still the current one: the server refused it (revoked, or expired
// early), so the next request fetches another. It reports whether a
// fresh token is worth trying.
func (ts *tokenSource) invalidate(header []string) bool {
	if len(header) == 0 {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.header != nil && ts.header[0] == header[0] {
		ts.retire(ts.tok)
		ts.tok, ts.header = "", nil
		ts.expiresAt, ts.refreshAt = time.Time{}, time.Time{}
		return true
	}
	// Already replaced by another goroutine: the new one may work.
	return ts.header != nil
}

// secrets returns what must never appear in an error: the client secret
// and the tokens issued with it.
func (ts *tokenSource) secrets() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]string, 0, 2+len(ts.old))
	out = append(out, ts.secret)
	if ts.tok != "" {
		out = append(out, ts.tok)
	}
	return append(out, ts.old...)
}

// fetch exchanges the client credentials for a token. It goes through the
// Client's transport and retry policy (a token request is safe to
// repeat), but not its rate limiter: the authentication host is counted
// apart from the API.
func (ts *tokenSource) fetch(ctx context.Context, c *Client) (string, time.Duration, error) {
	var rep tokenReply
	_, err := c.do(ctx, &call{method: http.MethodPost, route: TokenPath, url: ts.endpoint,
		body: ts.form, form: true, noAuth: true, idempotent: true, out: &rep})
	if err != nil {
		return "", 0, fmt.Errorf("alpaca: fetching access token: %w", err)
	}
	if rep.AccessToken == "" {
		return "", 0, errors.New("alpaca: fetching access token: reply has no access_token")
	}
	if rep.TokenType != "" && !strings.EqualFold(rep.TokenType, "bearer") {
		return "", 0, fmt.Errorf("alpaca: fetching access token: unsupported token_type %q", rep.TokenType)
	}
	life := time.Duration(rep.ExpiresIn) * time.Second
	switch {
	case rep.ExpiresIn <= 0:
		life = tokenMinLife
	case life > maxTokenLife:
		life = maxTokenLife
	}
	return rep.AccessToken, life, nil
}
