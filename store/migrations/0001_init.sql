-- relink cache, version 1. Times are Unix milliseconds (UTC).

CREATE TABLE connections (
	id                  INTEGER PRIMARY KEY,
	provider            TEXT NOT NULL,
	provider_id         TEXT NOT NULL,
	access_token        BLOB,              -- AES-GCM sealed; never plaintext
	user_ref            TEXT NOT NULL DEFAULT '',
	name                TEXT NOT NULL DEFAULT '',
	email               TEXT NOT NULL DEFAULT '',
	phone               TEXT NOT NULL DEFAULT '',
	institution         TEXT NOT NULL DEFAULT '',
	category            TEXT NOT NULL DEFAULT 'unknown',
	rank                INTEGER NOT NULL DEFAULT 0,
	failing             INTEGER NOT NULL DEFAULT 0,
	warning             TEXT NOT NULL DEFAULT '',
	deadline            INTEGER,
	provider_code       TEXT NOT NULL DEFAULT '',
	provider_reason     TEXT NOT NULL DEFAULT '',
	user_message        TEXT NOT NULL DEFAULT '',
	source              TEXT NOT NULL DEFAULT '',
	observed_at         INTEGER,
	first_failed_at     INTEGER,
	last_transient      TEXT NOT NULL DEFAULT '',
	last_transient_code TEXT NOT NULL DEFAULT '',
	last_transient_at   INTEGER,
	last_reminded_at    INTEGER,
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	UNIQUE (provider, provider_id)
);

-- Pages of failing connections are read per category or across all failing
-- ones, in one of three orders. Healthy and unchecked rows are not indexed
-- here, so a bulk import of new registry rows stays cheap.
CREATE INDEX connections_cat_since ON connections (category, first_failed_at, id) WHERE failing = 1;
CREATE INDEX connections_cat_name  ON connections (category, name, id) WHERE failing = 1;
CREATE INDEX connections_cat_inst  ON connections (category, institution, id) WHERE failing = 1;
CREATE INDEX connections_fail_since ON connections (rank DESC, first_failed_at, id) WHERE failing = 1;
CREATE INDEX connections_fail_name  ON connections (name, id) WHERE failing = 1;
CREATE INDEX connections_fail_inst  ON connections (institution, id) WHERE failing = 1;
CREATE INDEX connections_expiring   ON connections (deadline, id) WHERE warning != '';

-- Counts per category, provider and institution, kept by triggers so the
-- dashboard's group counts never scan the connections table.
CREATE TABLE counts (
	category    TEXT NOT NULL,
	provider    TEXT NOT NULL,
	institution TEXT NOT NULL,
	n           INTEGER NOT NULL,
	PRIMARY KEY (category, provider, institution)
) WITHOUT ROWID;

CREATE TRIGGER connections_count_ins AFTER INSERT ON connections BEGIN
	INSERT INTO counts (category, provider, institution, n) VALUES (NEW.category, NEW.provider, NEW.institution, 1)
	ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER connections_count_del AFTER DELETE ON connections BEGIN
	UPDATE counts SET n = n - 1
	WHERE category = OLD.category AND provider = OLD.provider AND institution = OLD.institution;
END;

CREATE TRIGGER connections_count_upd AFTER UPDATE OF category, provider, institution ON connections
WHEN OLD.category IS NOT NEW.category OR OLD.provider IS NOT NEW.provider OR OLD.institution IS NOT NEW.institution
BEGIN
	UPDATE counts SET n = n - 1
	WHERE category = OLD.category AND provider = OLD.provider AND institution = OLD.institution;
	INSERT INTO counts (category, provider, institution, n) VALUES (NEW.category, NEW.provider, NEW.institution, 1)
	ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Each connection's history: webhooks, polls that changed something, links,
-- reminders, clicks. Provider events are stored once per provider event id.
-- An event for a connection not yet registered has no connection_id and is
-- attached when the connection is imported.
CREATE TABLE events (
	id              INTEGER PRIMARY KEY,
	connection_id   INTEGER REFERENCES connections (id) ON DELETE CASCADE,
	provider        TEXT NOT NULL,
	provider_id     TEXT NOT NULL,
	event_id        TEXT,
	kind            TEXT NOT NULL,
	category        TEXT NOT NULL DEFAULT '',
	provider_code   TEXT NOT NULL DEFAULT '',
	provider_reason TEXT NOT NULL DEFAULT '',
	summary         TEXT NOT NULL DEFAULT '',
	verified        TEXT NOT NULL DEFAULT '',
	signal          TEXT,               -- the mapped health.Signal as JSON, replayed on attach
	raw             BLOB,
	observed_at     INTEGER NOT NULL,
	received_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_dedupe ON events (provider, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX events_connection ON events (connection_id, observed_at);
CREATE INDEX events_pending ON events (provider, provider_id) WHERE connection_id IS NULL;

-- Minted update-mode links, direct and durable.
CREATE TABLE links (
	id            INTEGER PRIMARY KEY,
	connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	kind          TEXT NOT NULL,           -- direct | durable
	url           TEXT NOT NULL,
	ticket        TEXT,                    -- durable links: the ticket id
	expires_at    INTEGER,
	created_at    INTEGER NOT NULL,
	operator      TEXT NOT NULL DEFAULT '',
	revoked_at    INTEGER,
	clicks        INTEGER NOT NULL DEFAULT 0,
	last_click_at INTEGER
);
CREATE INDEX links_connection ON links (connection_id, created_at);
CREATE UNIQUE INDEX links_ticket ON links (ticket) WHERE ticket IS NOT NULL;

-- Reminders are an outbox: queued in the transaction that decides them, sent
-- by a worker, each with an idempotency key so a retry never sends twice.
CREATE TABLE reminders (
	id              INTEGER PRIMARY KEY,
	connection_id   INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	channel         TEXT NOT NULL,         -- email | sms | webhook
	status          TEXT NOT NULL,         -- queued | sent | failed | cancelled
	category        TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT NOT NULL UNIQUE,
	operator        TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER,
	sent_at         INTEGER
);
CREATE INDEX reminders_connection ON reminders (connection_id, created_at);
CREATE INDEX reminders_due ON reminders (next_attempt_at) WHERE status = 'queued';

-- Who did what, when.
CREATE TABLE audit (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	operator TEXT NOT NULL,
	action   TEXT NOT NULL,
	target   TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);

-- Per-provider sync state: freshness for the status line, the resume cursor.
CREATE TABLE sync_state (
	provider        TEXT PRIMARY KEY,
	last_attempt_at INTEGER,
	last_success_at INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	cursor          TEXT NOT NULL DEFAULT '',
	seen            INTEGER NOT NULL DEFAULT 0,
	changed         INTEGER NOT NULL DEFAULT 0
);
