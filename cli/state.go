package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/quantum-alpaca/quantum/trading"
)

// stateFileName is where quantum run kept trading states before the
// journal did; importStateFile moves them into the journal once.
const stateFileName = "trading-state.json"

// importStateFile moves the trading states an older quantum run left in
// dir into store and renames the file, so that a tenant halted before an
// upgrade stays halted after it. Without the file it does nothing.
func importStateFile(ctx context.Context, dir string, store trading.StateStore, log *slog.Logger) error {
	path := filepath.Join(dir, stateFileName)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("trading state: %w", err)
	}
	var m map[trading.TenantID]trading.TradingState
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("trading state %s: %w", path, err)
	}
	for id, s := range m {
		if err := store.SetTradingState(ctx, id, s); err != nil {
			return fmt.Errorf("trading state %s: tenant %s: %w", path, id, err)
		}
	}
	if err := os.Rename(path, path+".imported"); err != nil {
		return fmt.Errorf("trading state: %w", err)
	}
	log.Info("trading states moved into the journal", "from", path, "tenants", len(m))
	return nil
}
