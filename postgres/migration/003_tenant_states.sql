-- Tenants' trading states (the kill switch), shared by every engine on this
-- database, so that a halted tenant stays halted whichever engine runs it.
CREATE TABLE tenant_states (
	tenant     TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
