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
-- * Anyone can be found, in any state, by the start of their email, name,
--   user ref or provider id: one index on each, lowered, over every
--   connection (not only the failing ones). BENCHMARKS.md has the lookup at
--   1,000,000 connections against an FTS5 index, and why this one.

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

CREATE INDEX connections_find_email ON connections (lower(email));
CREATE INDEX connections_find_name  ON connections (lower(name));
CREATE INDEX connections_find_user  ON connections (lower(user_ref));
CREATE INDEX connections_find_id    ON connections (lower(provider_id));
