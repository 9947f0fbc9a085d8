-- RetroVue schema v2 (PostgreSQL): the ingest catalog — sources, collections, ingest enrichers — and
-- the ingest columns of assets (collection, canonical key, file identity, provider ref, reason).

CREATE TABLE source (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('filesystem', 'plex', 'jellyfin')),
    name TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE collection (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES source (id),
    external_key TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    locations_json TEXT NOT NULL,
    path_map_json TEXT NOT NULL DEFAULT '[]',
    ingest_enabled BOOLEAN NOT NULL,
    last_ingest_ms BIGINT,
    UNIQUE (source_id, external_key)
);

CREATE TABLE ingest_enricher (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('ffprobe')),
    timeout_ms BIGINT NOT NULL CHECK (timeout_ms > 0),
    position BIGINT NOT NULL
);

ALTER TABLE asset ADD COLUMN collection_id TEXT;
ALTER TABLE asset ADD COLUMN canonical_key TEXT;
ALTER TABLE asset ADD COLUMN uri TEXT;
ALTER TABLE asset ADD COLUMN size_bytes BIGINT;
ALTER TABLE asset ADD COLUMN mtime_ms BIGINT;
ALTER TABLE asset ADD COLUMN provider TEXT;
ALTER TABLE asset ADD COLUMN external_id TEXT;
ALTER TABLE asset ADD COLUMN state_reason TEXT;
ALTER TABLE asset ADD COLUMN probe_json TEXT;
ALTER TABLE asset ADD COLUMN deleted_at_ms BIGINT;
ALTER TABLE asset ADD COLUMN updated_at_ms BIGINT;

-- ASSET-002: a canonical key is unique within its collection (case preserved: BINARY compare).
CREATE UNIQUE INDEX asset_collection_key ON asset (collection_id, canonical_key) WHERE collection_id IS NOT NULL;
