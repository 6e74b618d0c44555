-- Which engine runs each tenant, for operators: the advisory locks decide
-- ownership, but PostgreSQL does not say who holds one. Each engine names
-- itself in quantum_nodes and records the tenants it takes here; a row
-- whose engine stopped checking in is stale and shown as nobody's.
ALTER TABLE quantum_nodes ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE TABLE quantum_tenant_owners (
	tenant TEXT PRIMARY KEY,
	node   TEXT NOT NULL,
	since  TIMESTAMPTZ NOT NULL DEFAULT now()
);
