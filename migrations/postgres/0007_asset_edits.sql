-- RetroVue schema v7 (postgres): the fields of an asset the operator edited with `asset update`
-- (STORE-047), as a JSON array of field names; ingest keeps their values (INGEST-030).

ALTER TABLE asset ADD COLUMN edited_fields TEXT NOT NULL DEFAULT '[]';
