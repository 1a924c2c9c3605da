-- Cobalt's org_id for each connection: our organization (e.g. the clinic)
-- that its update-mode Link tokens are minted for, from the registry's
-- org_id column or cobalt.org_id at import. Empty for Plaid and Belvo, and
-- for rows imported before this column existed (the client then falls back
-- to cobalt.org_id). Independent of 0005.
ALTER TABLE connections ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
