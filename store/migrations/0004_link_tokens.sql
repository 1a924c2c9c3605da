-- A minted provider token is remembered by its SHA-256 only, so a webhook
-- that names it (Plaid LINK/SESSION_FINISHED carries the link_token, not the
-- item) can be tied to its connection.
ALTER TABLE links ADD COLUMN token_hash TEXT;
CREATE INDEX links_token_hash ON links (token_hash) WHERE token_hash IS NOT NULL;
