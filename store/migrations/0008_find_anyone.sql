-- The agent's screen (issue 11):
--
-- * The filter matches what the table shows. The search text also holds the
--   category and the warning, so "/tartan mfa_required" finds Tartan Bank's
--   MFA failures. A generated column cannot be altered: the page indexes that
--   carry it are dropped, the column is made again, the indexes rebuilt.
-- * All failing shows first what a reminder can fix: remindable is 1 for the
--   categories health.Category.Remindable says yes to (TestRemindableMatchesHealth
--   keeps this list and the taxonomy in step), and the all-failing page
--   index orders by it before rank.
-- * The expiring group puts the soonest deadline first and the warnings
--   without a deadline last: its index is on (deadline IS NULL, deadline).
-- * Anyone can be found, in any state: connections_find is an FTS5 index
--   (external content: it stores only the index, not a copy of the rows)
--   over the name, email, user ref, CONN ref (provider:provider_id, the
--   virtual column ref) and institution of every connection, kept by
--   triggers that fire only when one of those changes, so health updates
--   never touch it. Prefixes of 1 to 4 characters have their own index
--   entries, so the first keystrokes of a lookup ("u", "us", "use", "user")
--   read one list each instead of merging every word they start.

DROP INDEX connections_cat_since;
DROP INDEX connections_cat_name;
DROP INDEX connections_cat_inst;
DROP INDEX connections_fail_since;
DROP INDEX connections_fail_name;
DROP INDEX connections_fail_inst;
DROP INDEX connections_expiring;

ALTER TABLE connections DROP COLUMN search;
ALTER TABLE connections ADD COLUMN search TEXT GENERATED ALWAYS AS (
	lower(name || ' ' || email || ' ' || institution || ' ' || provider || ' ' || provider_id || ' ' ||
	      user_ref || ' ' || category || ' ' || warning || ' ' || provider_code || ' ' || provider_reason)
) VIRTUAL;

ALTER TABLE connections ADD COLUMN remindable INTEGER GENERATED ALWAYS AS (
	category IN ('account_locked', 'password_expired', 'login_required', 'consent_expired', 'mfa_required',
	             'action_at_institution', 'incomplete')
) VIRTUAL;

CREATE INDEX connections_cat_since ON connections (category, first_failed_at, id, search) WHERE failing = 1;
CREATE INDEX connections_cat_name  ON connections (category, name, id, search) WHERE failing = 1;
CREATE INDEX connections_cat_inst  ON connections (category, institution, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_since ON connections (remindable DESC, rank DESC, first_failed_at, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_name  ON connections (name, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_inst  ON connections (institution, id, search) WHERE failing = 1;
CREATE INDEX connections_expiring   ON connections (deadline IS NULL, deadline, id, search) WHERE warning != '';

ALTER TABLE connections ADD COLUMN ref TEXT GENERATED ALWAYS AS (provider || ':' || provider_id) VIRTUAL;

CREATE VIRTUAL TABLE connections_find USING fts5 (
	name, email, user_ref, ref, institution,
	content = 'connections', content_rowid = 'id',
	tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4'
);
INSERT INTO connections_find (connections_find) VALUES ('rebuild');

CREATE TRIGGER connections_find_ins AFTER INSERT ON connections BEGIN
	INSERT INTO connections_find (rowid, name, email, user_ref, ref, institution)
	VALUES (NEW.id, NEW.name, NEW.email, NEW.user_ref, NEW.ref, NEW.institution);
END;

CREATE TRIGGER connections_find_del AFTER DELETE ON connections BEGIN
	INSERT INTO connections_find (connections_find, rowid, name, email, user_ref, ref, institution)
	VALUES ('delete', OLD.id, OLD.name, OLD.email, OLD.user_ref, OLD.ref, OLD.institution);
END;

CREATE TRIGGER connections_find_upd AFTER UPDATE OF name, email, user_ref, provider, provider_id, institution ON connections
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email OR OLD.user_ref IS NOT NEW.user_ref OR
     OLD.ref IS NOT NEW.ref OR OLD.institution IS NOT NEW.institution
BEGIN
	INSERT INTO connections_find (connections_find, rowid, name, email, user_ref, ref, institution)
	VALUES ('delete', OLD.id, OLD.name, OLD.email, OLD.user_ref, OLD.ref, OLD.institution);
	INSERT INTO connections_find (rowid, name, email, user_ref, ref, institution)
	VALUES (NEW.id, NEW.name, NEW.email, NEW.user_ref, NEW.ref, NEW.institution);
END;
