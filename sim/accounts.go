package sim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Credential is one API key pair of a closed setup (--accounts FILE).
type Credential struct {
	KeyID  string
	Secret string
	// Cash is the starting cash; zero means the server's default.
	Cash float64
}

// registry maps API key ids to accounts. Reads vastly outnumber writes
// (every request authenticates, provisioning happens once per key), so it
// is a sync.Map: no lock on the hot path.
type registry struct {
	byKey sync.Map // key id -> *account
	mu    sync.Mutex
	list  []*account // creation order, for reports
}

func (r *registry) get(keyID string) *account {
	if v, ok := r.byKey.Load(keyID); ok {
		return v.(*account)
	}
	return nil
}

// getOrCreate returns the account of keyID, creating it with mk if absent
// and fewer than limit accounts exist (a negative limit is none). It
// returns nil when the limit refuses a new account.
func (r *registry) getOrCreate(keyID string, limit int, mk func() *account) *account {
	if a := r.get(keyID); a != nil {
		return a
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.get(keyID); a != nil {
		return a
	}
	if limit >= 0 && len(r.list) >= limit {
		return nil
	}
	a := mk()
	r.list = append(r.list, a)
	r.byKey.Store(keyID, a)
	return a
}

func (r *registry) all() []*account {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*account(nil), r.list...)
}

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// credentials extracts the key pair from Alpaca's headers, HTTP Basic (the
// Broker API's form) or an OAuth bearer token, which acts as its own key.
func credentials(r *http.Request) (key, secret string, ok bool) {
	if k := r.Header.Get("APCA-API-KEY-ID"); k != "" {
		return k, r.Header.Get("APCA-API-SECRET-KEY"), true
	}
	authz := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, "Bearer "):
		tok := strings.TrimPrefix(authz, "Bearer ")
		return "oauth:" + tok, tok, tok != ""
	case strings.HasPrefix(authz, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "Basic "))
		if err != nil {
			return "", "", false
		}
		k, s, found := strings.Cut(string(raw), ":")
		return k, s, found && k != ""
	}
	return "", "", false
}

// authFailure says why authenticate found no account.
type authFailure int

const (
	authOK          authFailure = iota
	authUnknown                 // no such key, and none is created
	authWrongSecret             // a known key with another secret
	authFull                    // a new key, but MaxAccounts are provisioned
)

// accountLimitMessage is the 403 message for a new key beyond
// Config.MaxAccounts.
const accountLimitMessage = "forbidden: account limit reached, no new paper accounts can be created on this broker"

// authenticate resolves the account for a key pair: the known account if
// the secret matches, a new one under auto-provisioning while fewer than
// MaxAccounts exist, nil otherwise with the reason.
func (s *Server) authenticate(key, secret string) (*account, authFailure) {
	if key == "" || (s.firm != nil && key == s.firm.key) {
		// The Broker API firm's key opens the firm's routes, not an
		// account of its own.
		return nil, authUnknown
	}
	h := hashSecret(secret)
	a := s.accounts.get(key)
	if a == nil {
		if !s.cfg.AutoProvision {
			return nil, authUnknown
		}
		a = s.accounts.getOrCreate(key, s.cfg.MaxAccounts, func() *account { return s.newAccount(key, h, s.cfg.Cash) })
		if a == nil {
			s.accountLimitHit()
			return nil, authFull
		}
	}
	if subtle.ConstantTimeCompare(a.secretHash[:], h[:]) != 1 {
		return nil, authWrongSecret
	}
	return a, authOK
}

// accountLimitHit logs a refused new key at most once a minute: a client
// inventing keys must not flood the log either.
func (s *Server) accountLimitHit() {
	now := time.Now().UnixNano()
	last := s.lastLimitLog.Load()
	if now-last < int64(time.Minute) || !s.lastLimitLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("account limit reached: refusing new API keys", "max_accounts", s.cfg.MaxAccounts)
}

// writeAuthError answers a request whose credentials did not resolve to
// an account, as Alpaca does.
func writeAuthError(w http.ResponseWriter, why authFailure) {
	switch why {
	case authWrongSecret:
		writeError(w, http.StatusForbidden, codeForbidden, "forbidden: access key verification failed", nil)
	case authFull:
		writeError(w, http.StatusForbidden, codeForbidden, accountLimitMessage, nil)
	default:
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "request is not authorized", nil)
	}
}

// authorized wraps a handler with authentication, the per-key rate limit
// and the fault injector, in the order a real gateway applies them.
func (s *Server) authorized(h func(http.ResponseWriter, *http.Request, *account)) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, secret, ok := credentials(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, 0, "unauthorized.", nil)
			return
		}
		a, why := s.authenticate(key, secret)
		if a == nil {
			writeAuthError(w, why)
			return
		}
		if s.cfg.RateLimit > 0 && !a.rate.take(w.Header(), s.cfg.RateLimit, s.cfg.RateWindow, s.rateNow()) {
			writeError(w, http.StatusTooManyRequests, codeRateLimited, "rate limit exceeded", nil)
			return
		}
		h(w, r, a)
	})
	return s.faults.wrap(inner)
}
