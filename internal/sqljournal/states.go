package sqljournal

import (
	"context"
	"fmt"

	"github.com/quantum-alpaca/quantum/trading"
)

// Compile-time proof that Journal keeps trading states too.
var _ trading.StateStore = (*Journal)(nil)

type stateWrite struct {
	tenant trading.TenantID
	state  trading.TradingState
}

// SetTradingState implements trading.StateStore. The write goes through
// the writer like an Append, so it is durable when this returns nil and
// is ordered with the tenant's journal events.
func (j *Journal) SetTradingState(ctx context.Context, id trading.TenantID, s trading.TradingState) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if !s.Valid() {
		return trading.Errorf(trading.EINVALID, "Invalid trading state %q.", s)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return j.send(ctx, &request{ctx: ctx, state: &stateWrite{tenant: id, state: s}, done: make(chan error, 1)})
}

// TradingStates implements trading.StateStore.
func (j *Journal) TradingStates(ctx context.Context) (map[trading.TenantID]trading.TradingState, error) {
	if err := j.begin(); err != nil {
		return nil, err
	}
	defer j.end()
	rows, err := j.rdb.QueryContext(ctx, j.d.rebind(`SELECT tenant, state FROM tenant_states`))
	if err != nil {
		return nil, j.internal("read trading states", err)
	}
	defer rows.Close()
	out := map[trading.TenantID]trading.TradingState{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, j.internal("read trading states", err)
		}
		if !trading.TradingState(st).Valid() {
			return nil, j.internal("read trading states", fmt.Errorf("tenant %s: invalid state %q", id, st))
		}
		out[trading.TenantID(id)] = trading.TradingState(st)
	}
	if err := rows.Err(); err != nil {
		return nil, j.internal("read trading states", err)
	}
	return out, nil
}
