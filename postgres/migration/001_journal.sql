-- The order journal, as in the SQLite store: decimals are TEXT (exact, as
-- decimal.Decimal prints them); times are BIGINT nanoseconds since the Unix
-- epoch, UTC.

-- One row per tenant: the highest intent sequence number ever handed out
-- (NextSequence reserves blocks ahead of use, so a crash never reissues
-- one) and the last per-tenant event id.
CREATE TABLE tenant_sequences (
	tenant        TEXT PRIMARY KEY,
	seq_reserved  BIGINT NOT NULL DEFAULT 0,
	last_event_id BIGINT NOT NULL DEFAULT 0
);

-- Current state of each order, updated in the same transaction as the
-- event that changed it. The intent columns never change after insert.
CREATE TABLE orders (
	tenant           TEXT    NOT NULL,
	client_order_id  TEXT    NOT NULL,
	seq              BIGINT  NOT NULL,
	symbol           TEXT    NOT NULL,
	side             TEXT    NOT NULL,
	type             TEXT    NOT NULL,
	time_in_force    TEXT    NOT NULL,
	qty              TEXT    NOT NULL,
	notional         TEXT    NOT NULL,
	limit_price      TEXT    NOT NULL,
	stop_price       TEXT    NOT NULL,
	trail_price      TEXT    NOT NULL,
	trail_percent    TEXT    NOT NULL,
	extended_hours   BOOLEAN NOT NULL,
	created_at       BIGINT  NOT NULL,
	strategy         TEXT    NOT NULL,
	strategy_reason  TEXT    NOT NULL,
	broker_order_id  TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	filled_qty       TEXT    NOT NULL,
	filled_notional  TEXT    NOT NULL,
	filled_avg_price TEXT    NOT NULL,
	reason           TEXT    NOT NULL,
	updated_at       BIGINT  NOT NULL,
	last_event_id    BIGINT  NOT NULL,
	terminal         BOOLEAN NOT NULL,
	PRIMARY KEY (tenant, client_order_id)
);

-- A sequence number is used once per tenant, whatever the client_order_id;
-- the index also serves listings newest first.
CREATE UNIQUE INDEX orders_tenant_seq ON orders (tenant, seq);

-- Only the orders still to reconcile, so start-up stays fast however many
-- finished orders a tenant has.
CREATE INDEX orders_open ON orders (tenant, seq) WHERE terminal = false;

-- The append-only event log. Intent events keep no copy of the intent: it
-- is in orders, which never changes it.
CREATE TABLE events (
	tenant          TEXT   NOT NULL,
	id              BIGINT NOT NULL,
	client_order_id TEXT   NOT NULL,
	kind            TEXT   NOT NULL,
	time            BIGINT NOT NULL,
	broker_order_id TEXT   NOT NULL,
	status          TEXT   NOT NULL,
	execution_id    TEXT   NOT NULL,
	qty             TEXT   NOT NULL,
	price           TEXT   NOT NULL,
	cum_qty         TEXT   NOT NULL,
	reason          TEXT   NOT NULL,
	PRIMARY KEY (tenant, id)
);

-- Trade-update streams redeliver after reconnects; this makes a repeated
-- execution a no-op.
CREATE UNIQUE INDEX events_fill_execution ON events (tenant, client_order_id, execution_id) WHERE kind = 'fill';
