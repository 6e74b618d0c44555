package sim

import (
	"net/http"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func (s *Server) getConfigurations(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	c := a.config
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) patchConfigurations(w http.ResponseWriter, r *http.Request, a *account) {
	var p alpaca.AccountConfigurationsPatch
	if !decodeBody(w, r, &p) {
		return
	}
	oneOf := func(field string, v *string, allowed ...string) bool {
		if v == nil || *v == "" { // the Go SDK sends "" for fields it leaves alone
			return true
		}
		for _, x := range allowed {
			if *v == x {
				return true
			}
		}
		invalid(w, "invalid "+field+": must be one of "+strings.Join(allowed, ", "))
		return false
	}
	if !oneOf("dtbp_check", p.DTBPCheck, "both", "entry", "exit") ||
		!oneOf("pdt_check", p.PDTCheck, "both", "entry", "exit") ||
		!oneOf("trade_confirm_email", p.TradeConfirmEmail, "all", "none") ||
		!oneOf("max_margin_multiplier", p.MaxMarginMultiplier, "1", "2", "4") {
		return
	}
	if p.MaxOptionsTradingLevel != nil && (*p.MaxOptionsTradingLevel < 0 || *p.MaxOptionsTradingLevel > 3) {
		invalid(w, "invalid max_options_trading_level: must be 0 to 3")
		return
	}
	setS := func(dst *string, v *string) {
		if v != nil && *v != "" {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	a.mu.Lock()
	c := &a.config
	setS(&c.DTBPCheck, p.DTBPCheck)
	setS(&c.PDTCheck, p.PDTCheck)
	setS(&c.TradeConfirmEmail, p.TradeConfirmEmail)
	setS(&c.MaxMarginMultiplier, p.MaxMarginMultiplier)
	setB(&c.SuspendTrade, p.SuspendTrade)
	setB(&c.NoShorting, p.NoShorting)
	setB(&c.FractionalTrading, p.FractionalTrading)
	setB(&c.PTPNoExceptionEntry, p.PTPNoExceptionEntry)
	setB(&c.DisableOvernight, p.DisableOvernight)
	if p.MaxOptionsTradingLevel != nil {
		c.MaxOptionsTradingLevel = *p.MaxOptionsTradingLevel
	}
	out := *c
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// watchlist is stored by symbol; the assets are rendered on the way out so
// that they always reflect the market's current asset table.
type watchlist struct {
	id, name         string
	created, updated time.Time
	symbols          []string
}

const maxWatchlistName = 64

func (s *Server) renderWatchlist(a *account, wl *watchlist, withAssets bool) alpaca.Watchlist {
	out := alpaca.Watchlist{ID: wl.id, AccountID: a.id, CreatedAt: wl.created, UpdatedAt: wl.updated, Name: wl.name}
	if withAssets {
		out.Assets = []alpaca.Asset{}
		for _, sym := range wl.symbols {
			if m, ok := s.market.Lookup(sym); ok {
				out.Assets = append(out.Assets, assetOf(m))
			}
		}
	}
	return out
}

// findWatchlist resolves {id} or the by_name ?name= form, answering 404
// itself when there is none; the caller holds a.mu.
func findWatchlist(w http.ResponseWriter, r *http.Request, a *account) (*watchlist, int, bool) {
	id, name := r.PathValue("id"), r.URL.Query().Get("name")
	for i, wl := range a.watchlists {
		if id != "" && wl.id == id || id == "" && wl.name == name {
			return wl, i, true
		}
	}
	notFound(w, "watchlist not found")
	return nil, -1, false
}

func (s *Server) listWatchlists(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	out := make([]alpaca.Watchlist, 0, len(a.watchlists))
	for _, wl := range a.watchlists {
		out = append(out, s.renderWatchlist(a, wl, false))
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) validSymbols(w http.ResponseWriter, syms []string) ([]string, bool) {
	out := make([]string, 0, len(syms))
	for _, sym := range syms {
		m, ok := s.market.Lookup(sym)
		if !ok {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, "asset not found: "+truncate(sym, 32), nil)
			return nil, false
		}
		out = append(out, m.Symbol)
	}
	return out, true
}

func (s *Server) createWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	var req alpaca.WatchlistRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Name == "" || len(req.Name) > maxWatchlistName {
		invalid(w, "name is required and must be at most 64 characters")
		return
	}
	syms, ok := s.validSymbols(w, req.Symbols)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, wl := range a.watchlists {
		if wl.name == req.Name {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, "watchlist name must be unique", nil)
			return
		}
	}
	now := s.now().UTC()
	wl := &watchlist{id: a.newID(), name: req.Name, created: now, updated: now, symbols: syms}
	a.watchlists = append(a.watchlists, wl)
	writeJSON(w, http.StatusOK, s.renderWatchlist(a, wl, true))
}

func (s *Server) getWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	wl, _, ok := findWatchlist(w, r, a)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.renderWatchlist(a, wl, true))
}

func (s *Server) updateWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	var req alpaca.WatchlistRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Name) > maxWatchlistName {
		invalid(w, "name must be at most 64 characters")
		return
	}
	syms, ok := s.validSymbols(w, req.Symbols)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	wl, _, ok := findWatchlist(w, r, a)
	if !ok {
		return
	}
	if req.Name != "" {
		wl.name = req.Name
	}
	wl.symbols = syms
	wl.updated = s.now().UTC()
	writeJSON(w, http.StatusOK, s.renderWatchlist(a, wl, true))
}

func (s *Server) addToWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	var req struct {
		Symbol string `json:"symbol"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	syms, ok := s.validSymbols(w, []string{req.Symbol})
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	wl, _, ok := findWatchlist(w, r, a)
	if !ok {
		return
	}
	for _, have := range wl.symbols {
		if have == syms[0] {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, "symbol already in watchlist", nil)
			return
		}
	}
	wl.symbols = append(wl.symbols, syms[0])
	wl.updated = s.now().UTC()
	writeJSON(w, http.StatusOK, s.renderWatchlist(a, wl, true))
}

func (s *Server) removeFromWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	sym := r.PathValue("symbol")
	a.mu.Lock()
	defer a.mu.Unlock()
	wl, _, ok := findWatchlist(w, r, a)
	if !ok {
		return
	}
	kept := wl.symbols[:0]
	found := false
	for _, have := range wl.symbols {
		if have == sym {
			found = true
			continue
		}
		kept = append(kept, have)
	}
	if !found {
		notFound(w, "symbol not found in watchlist")
		return
	}
	wl.symbols = kept
	wl.updated = s.now().UTC()
	writeJSON(w, http.StatusOK, s.renderWatchlist(a, wl, true))
}

func (s *Server) deleteWatchlist(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, i, ok := findWatchlist(w, r, a)
	if !ok {
		return
	}
	a.watchlists = append(a.watchlists[:i], a.watchlists[i+1:]...)
	w.WriteHeader(http.StatusNoContent)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
