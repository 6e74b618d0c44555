-- Tenants' trading states (the kill switch), so that a halted tenant stays
-- halted after a restart whatever the config file says. The same table as
-- PostgreSQL's, where every engine sharing the database applies it.
CREATE TABLE tenant_states (
	tenant     TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
) WITHOUT ROWID;
