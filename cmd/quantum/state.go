package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/quantum-alpaca/quantum/trading"
)

// stateFile persists tenants' trading states (the kill switch) in the
// data directory, so that a HALTED tenant stays halted after a restart
// whatever the config file says.
type stateFile struct {
	path string
	mu   sync.Mutex
	m    map[trading.TenantID]trading.TradingState
}

func openStateFile(dir string) (*stateFile, error) {
	f := &stateFile{path: filepath.Join(dir, "trading-state.json"), m: map[trading.TenantID]trading.TradingState{}}
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("trading state: %w", err)
	}
	if err := json.Unmarshal(b, &f.m); err != nil {
		return nil, fmt.Errorf("trading state %s: %w", f.path, err)
	}
	for id, s := range f.m {
		if !s.Valid() {
			return nil, fmt.Errorf("trading state %s: tenant %s: invalid state %q", f.path, id, s)
		}
	}
	return f, nil
}

// get returns the saved state of id, if any.
func (f *stateFile) get(id trading.TenantID) (trading.TradingState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[id]
	return s, ok
}

// set saves id's state: written to a temporary file, synced and renamed,
// so a crash leaves the old file or the new one, never half of one.
func (f *stateFile) set(id trading.TenantID, s trading.TradingState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[id] = s
	b, err := json.MarshalIndent(f.m, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}
