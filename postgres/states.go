package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/quantum-alpaca/quantum/trading"
)

// States keeps tenants' trading states (the kill switch) in the database,
// so that every engine sharing it applies the same ones: an engine that
// adopts a halted tenant keeps it halted. The journal's migrations create
// its table, so open the Journal first.
type States struct{ db *sql.DB }

// OpenStates connects to the database at dsn.
func OpenStates(ctx context.Context, dsn string) (*States, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &States{db: db}, nil
}

// All returns every saved state.
func (s *States) All(ctx context.Context) (map[trading.TenantID]trading.TradingState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant, state FROM tenant_states`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[trading.TenantID]trading.TradingState{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		if !trading.TradingState(st).Valid() {
			return nil, fmt.Errorf("tenant_states: tenant %s: invalid state %q", id, st)
		}
		out[trading.TenantID(id)] = trading.TradingState(st)
	}
	return out, rows.Err()
}

// Set saves id's state.
func (s *States) Set(ctx context.Context, id trading.TenantID, st trading.TradingState) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tenant_states (tenant, state) VALUES ($1, $2)
		ON CONFLICT (tenant) DO UPDATE SET state = excluded.state, updated_at = now()`, string(id), string(st))
	return err
}

// Close closes the connections.
func (s *States) Close() error { return s.db.Close() }
