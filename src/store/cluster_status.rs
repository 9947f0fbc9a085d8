//! `retrovue cluster status` read from the cluster tables (CLI-100..102): nodes with their
//! heartbeat ages, leases with the time they have left, and who runs what, all measured with the
//! database's `now()`. A SQLite store is a single node and has no cluster (CLI-101).

use serde::Serialize;

use crate::store::postgres::PostgresBackend;
use crate::store::sql::{Backend, Tx, TxMode, Value};
use crate::store::{parse_url, DatabaseUrl, StoreError, StoreResult};

/// The default lease ttl of the cluster runtime (contracts/cluster.md): the aliveness bound of a
/// node row that recorded none (written before CLUSTER-012).
pub const DEFAULT_TTL_MS: i64 = 6_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub node_id: String,
    pub advertise_url: Option<String>,
    /// RFC 3339 UTC.
    pub started_at: Option<String>,
    pub heartbeat_age_ms: Option<i64>,
    /// The node's lease ttl (CLUSTER-012): it is alive while its heartbeat is younger, the rule
    /// the nodes themselves apply.
    pub alive_after_ms: i64,
    pub alive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRow {
    pub name: String,
    pub node_id: Option<String>,
    pub token: i64,
    /// Negative once expired.
    pub expires_in_ms: Option<i64>,
    pub expired: bool,
}

/// Who runs a channel: the holder of its unexpired `channel:<id>` lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelOwner {
    pub channel: String,
    pub node_id: String,
    pub node_alive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeeperRow {
    pub node_id: String,
    pub expires_in_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub cluster: bool,
    pub backend: &'static str,
    pub nodes: Vec<NodeRow>,
    pub leases: Vec<LeaseRow>,
    pub channels: Vec<ChannelOwner>,
    pub keeper: Option<KeeperRow>,
}

impl ClusterStatus {
    /// A SQLite store: one node, no cluster (CLI-101).
    pub fn single_node() -> ClusterStatus {
        ClusterStatus {
            cluster: false,
            backend: "sqlite",
            nodes: Vec::new(),
            leases: Vec::new(),
            channels: Vec::new(),
            keeper: None,
        }
    }
}

/// The cluster as the database at `url` sees it (the store is migrated first, as every command
/// does). SQLite: [`ClusterStatus::single_node`], without touching the file.
pub fn status(url: &str) -> StoreResult<ClusterStatus> {
    let url = match parse_url(url)? {
        DatabaseUrl::Sqlite(_) => return Ok(ClusterStatus::single_node()),
        DatabaseUrl::Postgres(url) => url,
    };
    drop(crate::store::open(&url)?);
    let mut backend = PostgresBackend::connect(&url).map_err(StoreError::from)?;
    let exists_sql = backend.table_exists_sql();
    backend.transaction(TxMode::Read, |tx| {
        for table in ["cluster_node", "cluster_lease"] {
            if tx.query(exists_sql, &[Value::from(table)])?.is_empty() {
                return Err(StoreError::backend(format!(
                    "the database has no {table} table: its cluster migration \
                     (0005_cluster) is not applied"
                )));
            }
        }
        read(tx)
    })
}

/// Read the cluster tables in one snapshot; `now()` is the transaction's, so every age is
/// measured from one instant.
pub fn read(tx: &mut dyn Tx) -> StoreResult<ClusterStatus> {
    let mut nodes = Vec::new();
    for r in tx.query(
        "SELECT node_id, advertise_url, \
         to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
           AS started_at, \
         (EXTRACT(EPOCH FROM (now() - heartbeat_at)) * 1000)::BIGINT AS heartbeat_age_ms, \
         lease_ttl_ms FROM cluster_node ORDER BY node_id",
        &[],
    )? {
        let heartbeat_age_ms = r.opt_int("heartbeat_age_ms")?;
        let alive_after_ms = r.opt_int("lease_ttl_ms")?.unwrap_or(DEFAULT_TTL_MS);
        nodes.push(NodeRow {
            node_id: r.text("node_id")?,
            advertise_url: r.opt_text("advertise_url")?,
            started_at: r.opt_text("started_at")?,
            heartbeat_age_ms,
            alive_after_ms,
            alive: heartbeat_age_ms.is_some_and(|age| age < alive_after_ms),
        });
    }
    let mut leases = Vec::new();
    for r in tx.query(
        "SELECT name, node_id, token, \
         (EXTRACT(EPOCH FROM (expires_at - now())) * 1000)::BIGINT AS expires_in_ms \
         FROM cluster_lease ORDER BY name",
        &[],
    )? {
        let expires_in_ms = r.opt_int("expires_in_ms")?;
        leases.push(LeaseRow {
            name: r.text("name")?,
            node_id: r.opt_text("node_id")?,
            token: r.int("token")?,
            expires_in_ms,
            expired: expires_in_ms.is_none_or(|left| left <= 0),
        });
    }
    let alive = |node: &str| nodes.iter().any(|n| n.node_id == node && n.alive);
    let mut channels: Vec<ChannelOwner> = leases
        .iter()
        .filter(|l| !l.expired)
        .filter_map(|l| {
            let channel = l.name.strip_prefix("channel:")?;
            let node = l.node_id.as_ref()?;
            Some(ChannelOwner {
                channel: channel.to_string(),
                node_id: node.clone(),
                node_alive: alive(node),
            })
        })
        .collect();
    channels.sort_by(|a, b| a.channel.cmp(&b.channel));
    let keeper = leases
        .iter()
        .find(|l| l.name == "keeper" && !l.expired)
        .and_then(|l| {
            Some(KeeperRow {
                node_id: l.node_id.clone()?,
                expires_in_ms: l.expires_in_ms?,
            })
        });
    Ok(ClusterStatus {
        cluster: true,
        backend: "postgres",
        nodes,
        leases,
        channels,
        keeper,
    })
}
