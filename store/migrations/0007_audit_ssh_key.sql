-- Who acted, from where: an act done in a dashboard session over SSH
-- (relink serve's [ssh]) records the fingerprint of the key the person
-- logged in with (SHA256:…); '' for the local command line and dashboard.
ALTER TABLE audit ADD COLUMN ssh_key TEXT NOT NULL DEFAULT '';
