-- The engines sharing this database, each with the time it last said it
-- was alive (the database's clock, so that nodes' clocks do not matter).
-- Ownership divides the tenants among the live ones.
CREATE TABLE quantum_nodes (
	id      TEXT PRIMARY KEY,
	seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
