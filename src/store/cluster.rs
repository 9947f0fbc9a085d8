//! Cluster coordination SQL (contracts/cluster.md; PostgreSQL only): node rows with heartbeats and
//! leases with fencing tokens, all timed by the database's `now()`. One connection of its own,
//! separate from the keeper's and the as-run writer's; every statement bounded by a timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postgres::{Client, NoTls};

use crate::store::{StoreError, StoreResult};

/// How long a connection attempt or a statement may take (CLUSTER-009).
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The lease name of a channel.
pub fn channel_lease(channel: &str) -> String {
    format!("channel:{channel}")
}

/// The keeper's lease name.
pub const KEEPER_LEASE: &str = "keeper";

/// Who holds a lease this node did not get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    /// The holder's advertised URL (empty when its node row is gone).
    pub advertise_url: String,
    /// The lease has not expired (and was not released).
    pub live: bool,
    /// The holder's heartbeat is younger than one ttl.
    pub fresh: bool,
}

/// The answer of [`ClusterDb::try_acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    Acquired { token: i64 },
    HeldBy(Holder),
}

/// A node row that is alive (CLUSTER-002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    pub advertise_url: String,
    pub heartbeat_age_ms: i64,
}

/// The cluster tables through one connection.
pub struct ClusterDb {
    client: Client,
    /// Statements sent (lease and heartbeat), for `/metrics` and the benchmark.
    statements: Arc<AtomicU64>,
}

fn db_error(what: &str, e: postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    StoreError::backend(format!("cluster: {what}: {message}"))
}

const ACQUIRE: &str = "\
INSERT INTO cluster_lease AS l (name, node_id, token, acquired_at, renewed_at, expires_at)
VALUES ($1, $2, 1, now(), now(), now() + $3::bigint * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
    token = CASE WHEN l.node_id = EXCLUDED.node_id THEN l.token ELSE l.token + 1 END,
    acquired_at = CASE WHEN l.node_id = EXCLUDED.node_id THEN l.acquired_at ELSE now() END,
    node_id = EXCLUDED.node_id,
    renewed_at = now(),
    expires_at = EXCLUDED.expires_at
WHERE l.node_id = EXCLUDED.node_id
   OR l.expires_at <= l.renewed_at
   OR (l.expires_at < now() AND $4::boolean)
RETURNING l.token";

const HOLDER: &str = "\
SELECT l.node_id, COALESCE(n.advertise_url, '') AS advertise_url,
       (l.expires_at > now() AND l.expires_at > l.renewed_at) AS live,
       COALESCE(n.heartbeat_at > now() - $2::bigint * interval '1 millisecond', false) AS fresh
FROM cluster_lease l LEFT JOIN cluster_node n ON n.node_id = l.node_id
WHERE l.name = $1";

const RENEW: &str = "\
WITH hb AS (
    INSERT INTO cluster_node (node_id, advertise_url, started_at, heartbeat_at, lease_ttl_ms)
    VALUES ($1, $2, now(), now(), $3)
    ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now(), advertise_url = EXCLUDED.advertise_url,
        lease_ttl_ms = EXCLUDED.lease_ttl_ms
    RETURNING 1
)
UPDATE cluster_lease AS l
SET renewed_at = now(), expires_at = now() + $3::bigint * interval '1 millisecond'
FROM unnest($4::text[], $5::bigint[]) AS k(name, token)
WHERE l.name = k.name AND l.token = k.token AND l.node_id = $1
RETURNING l.name";

impl ClusterDb {
    /// Connect (bounded by [`DB_TIMEOUT`]) and bound every statement by it too.
    pub fn connect(url: &str, statements: Arc<AtomicU64>) -> StoreResult<ClusterDb> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            StoreError::bad(format!(
                "cluster: database URL {}: {e}",
                crate::store::postgres::redact(url)
            ))
        })?;
        config.connect_timeout(DB_TIMEOUT);
        // A server that vanished without closing the socket (a network partition) must not
        // hold a statement forever: TCP gives up after the same bound.
        config.tcp_user_timeout(DB_TIMEOUT);
        config.keepalives(true);
        config.keepalives_idle(DB_TIMEOUT);
        config.options(&format!("-c statement_timeout={}", DB_TIMEOUT.as_millis()));
        let client = config.connect(NoTls).map_err(|e| {
            StoreError::backend(format!(
                "cluster: cannot connect to PostgreSQL at {}: {e}",
                crate::store::postgres::redact(url)
            ))
        })?;
        Ok(ClusterDb { client, statements })
    }

    fn count(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Is the connection gone (server stopped, network lost)?
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A live row of this node id (heartbeat younger than `ttl`), if any (CLUSTER-002).
    pub fn live_node(&mut self, node: &str, ttl: Duration) -> StoreResult<Option<LiveNode>> {
        self.count();
        let rows = self
            .client
            .query(
                "SELECT advertise_url, \
                 (EXTRACT(EPOCH FROM (now() - heartbeat_at)) * 1000)::bigint AS age_ms \
                 FROM cluster_node WHERE node_id = $1 \
                 AND heartbeat_at > now() - $2::bigint * interval '1 millisecond'",
                &[&node, &(ttl.as_millis() as i64)],
            )
            .map_err(|e| db_error("reading the node row", e))?;
        Ok(rows.first().map(|r| LiveNode {
            advertise_url: r.get("advertise_url"),
            heartbeat_age_ms: r.get("age_ms"),
        }))
    }

    /// Insert or take over this node's row: started and heartbeat now, with its lease ttl
    /// (CLUSTER-002, CLUSTER-012).
    pub fn register(&mut self, node: &str, advertise_url: &str, ttl: Duration) -> StoreResult<()> {
        self.count();
        self.client
            .execute(
                "INSERT INTO cluster_node \
                 (node_id, advertise_url, started_at, heartbeat_at, lease_ttl_ms) \
                 VALUES ($1, $2, now(), now(), $3) ON CONFLICT (node_id) DO UPDATE SET \
                 advertise_url = EXCLUDED.advertise_url, started_at = now(), heartbeat_at = now(), \
                 lease_ttl_ms = EXCLUDED.lease_ttl_ms",
                &[&node, &advertise_url, &(ttl.as_millis() as i64)],
            )
            .map_err(|e| db_error("registering the node", e))?;
        Ok(())
    }

    /// Take or keep a lease in one conditional statement (CLUSTER-003). `settled`: may take an
    /// expired lease of another node (CLUSTER-010).
    pub fn try_acquire(
        &mut self,
        name: &str,
        node: &str,
        ttl: Duration,
        settled: bool,
    ) -> StoreResult<Acquire> {
        let ttl_ms = ttl.as_millis() as i64;
        self.count();
        let rows = self
            .client
            .query(ACQUIRE, &[&name, &node, &ttl_ms, &settled])
            .map_err(|e| db_error(&format!("acquiring lease {name}"), e))?;
        if let Some(row) = rows.first() {
            return Ok(Acquire::Acquired {
                token: row.get("token"),
            });
        }
        self.count();
        let rows = self
            .client
            .query(HOLDER, &[&name, &ttl_ms])
            .map_err(|e| db_error(&format!("reading lease {name}"), e))?;
        Ok(Acquire::HeldBy(match rows.first() {
            Some(r) => Holder {
                node: r.get("node_id"),
                advertise_url: r.get("advertise_url"),
                live: r.get("live"),
                fresh: r.get("fresh"),
            },
            // Released and taken back in between: nobody to name; the caller retries later.
            None => Holder {
                node: String::new(),
                advertise_url: String::new(),
                live: false,
                fresh: false,
            },
        }))
    }

    /// Who holds a lease now, if anyone (a read: takes nothing).
    pub fn holder(&mut self, name: &str, ttl: Duration) -> StoreResult<Option<Holder>> {
        self.count();
        let rows = self
            .client
            .query(HOLDER, &[&name, &(ttl.as_millis() as i64)])
            .map_err(|e| db_error(&format!("reading lease {name}"), e))?;
        Ok(rows.first().map(|r| Holder {
            node: r.get("node_id"),
            advertise_url: r.get("advertise_url"),
            live: r.get("live"),
            fresh: r.get("fresh"),
        }))
    }

    /// Heartbeat the node and renew all its leases in ONE statement (CLUSTER-004); returns the
    /// names of the leases kept.
    pub fn renew(
        &mut self,
        node: &str,
        advertise_url: &str,
        leases: &[(String, i64)],
        ttl: Duration,
    ) -> StoreResult<Vec<String>> {
        let names: Vec<&str> = leases.iter().map(|(n, _)| n.as_str()).collect();
        let tokens: Vec<i64> = leases.iter().map(|(_, t)| *t).collect();
        self.count();
        let rows = self
            .client
            .query(
                RENEW,
                &[
                    &node,
                    &advertise_url,
                    &(ttl.as_millis() as i64),
                    &names,
                    &tokens,
                ],
            )
            .map_err(|e| db_error("heartbeat and lease renewal", e))?;
        Ok(rows.iter().map(|r| r.get("name")).collect())
    }

    /// Release a lease if node and token still match: marked released, the row (and its token)
    /// kept (CLUSTER-003). True when it was still ours.
    pub fn release(&mut self, name: &str, node: &str, token: i64) -> StoreResult<bool> {
        self.count();
        let n = self
            .client
            .execute(
                "UPDATE cluster_lease SET expires_at = now(), renewed_at = now() \
                 WHERE name = $1 AND node_id = $2 AND token = $3",
                &[&name, &node, &token],
            )
            .map_err(|e| db_error(&format!("releasing lease {name}"), e))?;
        Ok(n == 1)
    }

    /// A clean shutdown: release what the node still holds and delete its row.
    pub fn unregister(&mut self, node: &str) -> StoreResult<()> {
        self.count();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| db_error("unregistering the node", e))?;
        tx.execute(
            "UPDATE cluster_lease SET expires_at = now(), renewed_at = now() WHERE node_id = $1",
            &[&node],
        )
        .map_err(|e| db_error("releasing the node's leases", e))?;
        tx.execute("DELETE FROM cluster_node WHERE node_id = $1", &[&node])
            .map_err(|e| db_error("deleting the node row", e))?;
        tx.commit()
            .map_err(|e| db_error("unregistering the node", e))?;
        Ok(())
    }
}
