-- RetroVue schema v5 (postgres): cluster mode (contracts/cluster.md). One row per node with its
-- heartbeat, one lease per watched channel ('channel:<id>') and one for the keeper ('keeper').
-- All times are the database's now(); the token is a fencing token that grows on every change of
-- owner. Runtime coordination state: backups leave these tables out.

CREATE TABLE cluster_node (
    node_id TEXT PRIMARY KEY,
    advertise_url TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cluster_lease (
    name TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    token BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
