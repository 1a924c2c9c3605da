-- relink cache, version 2: reminder messages. A reminder is one message to
-- one user covering one or more of their connections. The message (its
-- rendered payload, its status, its idempotency key) lives here; each
-- connection it covers keeps its row in reminders, linked by message_id,
-- whose status mirrors the message's ('sending' is new: claimed by a run,
-- in flight). Times are Unix milliseconds (UTC).

CREATE TABLE reminder_messages (
	id              INTEGER PRIMARY KEY,
	idempotency_key TEXT NOT NULL UNIQUE,
	channel         TEXT NOT NULL,          -- email | sms | webhook
	recipient       TEXT NOT NULL,          -- address, phone number or user key
	status          TEXT NOT NULL,          -- queued | sending | sent | failed | cancelled
	payload         BLOB NOT NULL,          -- the rendered message (JSON); never a secret
	operator        TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	claimed_at      INTEGER,                -- when a run marked it sending
	claimed_by      TEXT NOT NULL DEFAULT '', -- which run: host/pid/nonce
	sent_at         INTEGER
);
CREATE INDEX reminder_messages_due ON reminder_messages (channel, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX reminder_messages_sending ON reminder_messages (claimed_by, claimed_at) WHERE status = 'sending';

ALTER TABLE reminders ADD COLUMN message_id INTEGER REFERENCES reminder_messages (id) ON DELETE SET NULL;
ALTER TABLE reminders ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
CREATE INDEX reminders_message ON reminders (message_id);
CREATE INDEX reminders_sent ON reminders (sent_at) WHERE status = 'sent';
