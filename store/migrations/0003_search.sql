-- Filtering as you type: one lower-cased search text per connection (a
-- virtual column: computed on read, stored only in the indexes below), and
-- the page indexes rebuilt to carry it, so a filtered page or count reads
-- index entries of failing rows only, never the table.

ALTER TABLE connections ADD COLUMN search TEXT GENERATED ALWAYS AS (
	lower(name || ' ' || email || ' ' || institution || ' ' || provider || ' ' || provider_id || ' ' ||
	      user_ref || ' ' || provider_code || ' ' || provider_reason)
) VIRTUAL;

DROP INDEX connections_cat_since;
DROP INDEX connections_cat_name;
DROP INDEX connections_cat_inst;
DROP INDEX connections_fail_since;
DROP INDEX connections_fail_name;
DROP INDEX connections_fail_inst;

CREATE INDEX connections_cat_since ON connections (category, first_failed_at, id, search) WHERE failing = 1;
CREATE INDEX connections_cat_name  ON connections (category, name, id, search) WHERE failing = 1;
CREATE INDEX connections_cat_inst  ON connections (category, institution, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_since ON connections (rank DESC, first_failed_at, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_name  ON connections (name, id, search) WHERE failing = 1;
CREATE INDEX connections_fail_inst  ON connections (institution, id, search) WHERE failing = 1;
