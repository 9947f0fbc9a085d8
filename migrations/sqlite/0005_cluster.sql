-- RetroVue schema v5 (sqlite): the cluster tables (contracts/cluster.md). They exist on SQLite so
-- both backends share one schema, but a SQLite store is single-node and never uses them.
-- Runtime coordination state: backups leave these tables out.

CREATE TABLE cluster_node (
    node_id TEXT PRIMARY KEY,
    advertise_url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

CREATE TABLE cluster_lease (
    name TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    token BIGINT NOT NULL,
    acquired_at TEXT NOT NULL,
    renewed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
