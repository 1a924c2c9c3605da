-- A list sorted by institution orders by the name the table shows, not the
-- raw value: a Cobalt connection's institution is its EHR's domain
-- (https://ecw.northside-clinic.example), shown "eClinicalWorks ·
-- northside-clinic", and sorted by the raw value every EHR fell under h;
-- and a binary order put the Belvo codes (banco_azul_mx) after every
-- capital. institution_key is institution.SortKey of the row, written by
-- relink wherever it writes the institution. A bank's key is its name with
-- its ASCII letters lowered, which SQL can make here; a Cobalt row's key
-- needs the EHR table and is made by this migration's Go step
-- (store.fillInstitutionKeys).

ALTER TABLE connections ADD COLUMN institution_key TEXT NOT NULL DEFAULT '';
UPDATE connections SET institution_key = lower(institution) WHERE provider != 'cobalt';

DROP INDEX connections_cat_inst;
CREATE INDEX connections_cat_inst ON connections (category, institution_key, id, search) WHERE failing = 1;
