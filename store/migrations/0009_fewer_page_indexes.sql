-- Fewer page indexes: every connection that starts failing was written into
-- six partial page indexes, three of them (connections_fail_*) only for the
-- all-failing group. That group's pages now merge its categories' ranges of
-- connections_cat_since, connections_cat_name and connections_cat_inst
-- (store/allfailing.go), and its filtered count reads connections_cat_*,
-- which carry search too; a new failure writes three index entries fewer.

DROP INDEX connections_fail_since;
DROP INDEX connections_fail_name;
DROP INDEX connections_fail_inst;
