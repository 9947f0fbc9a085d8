//! Cluster mode (contracts/cluster.md): this node's registration, the leases it holds (with the
//! number of users of each, so a lease is released when its last user goes), the lease thread
//! that heartbeats and renews them every ttl/3 and stops a channel whose lease is lost, and the
//! reconnection with backoff when the database goes away.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Shared;
use crate::error::{AppError, AppResult};
use crate::store::cluster::{channel_lease, Acquire, ClusterDb};

/// The longest wait between two reconnection attempts (CLUSTER-009).
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What `serve` was asked for about the cluster (CLUSTER-001), resolved at bind time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    pub advertise: Option<String>,
    pub node: Option<String>,
    pub ttl: Duration,
}

/// Where a lease-needing request goes.
pub enum Placement {
    /// This node holds the lease; the guard gives the use back when dropped.
    Here(LeaseGuard),
    /// Another live node holds it.
    Elsewhere { node: String, url: String },
    /// Nobody can serve it from here now (database unreachable, settling).
    Unavailable(String),
}

struct Held {
    token: i64,
    users: usize,
}

struct State {
    db: Option<ClusterDb>,
    /// Why the database is unreachable, while it is.
    down: Option<String>,
    /// When this node last (re)connected (CLUSTER-010).
    connected_at: Instant,
    held: BTreeMap<String, Held>,
}

/// This node in the cluster.
pub struct Cluster {
    pub node: String,
    pub advertise: String,
    pub ttl: Duration,
    url: String,
    state: Mutex<State>,
    /// Lease and heartbeat statements sent (HTTP-041).
    pub statements: Arc<AtomicU64>,
    stop: AtomicBool,
}

/// One use of a lease; dropping the last one releases it (CLUSTER-005).
pub struct LeaseGuard {
    cluster: Arc<Cluster>,
    name: String,
    token: i64,
}

impl LeaseGuard {
    pub fn token(&self) -> i64 {
        self.token
    }

    /// Is the lease still this node's (not lost)?
    pub fn held(&self) -> bool {
        self.cluster
            .lock()
            .held
            .get(&self.name)
            .is_some_and(|h| h.token == self.token)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.cluster.put_back(&self.name, self.token);
    }
}

/// The machine's host name (for the default node name and advertise URL).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

impl Cluster {
    /// Register this node (CLUSTER-002): refused (bad input, exit 2) when a live process already
    /// uses its name. `bound` is the address the HTTP server listens on.
    pub fn join(db_url: &str, options: &ClusterOptions, bound: &str) -> AppResult<Arc<Cluster>> {
        let addr: std::net::SocketAddr = bound
            .parse()
            .map_err(|_| AppError::runtime(format!("cluster: bound address {bound:?}")))?;
        let advertise = match &options.advertise {
            Some(url) => url.clone(),
            None if addr.ip().is_unspecified() => {
                format!("http://{}:{}/", host_name(), addr.port())
            }
            None => format!("http://{addr}/"),
        };
        let advertise = if advertise.ends_with('/') {
            advertise
        } else {
            format!("{advertise}/")
        };
        let node = options
            .node
            .clone()
            .unwrap_or_else(|| format!("{}:{}", host_name(), addr.port()));
        let statements = Arc::new(AtomicU64::new(0));
        let mut db = ClusterDb::connect(db_url, Arc::clone(&statements))?;
        if let Some(live) = db.live_node(&node, options.ttl)? {
            return Err(AppError::bad(format!(
                "--node: node {node:?} is alive (advertised at {}, heartbeat {} ms ago): another \
                 process uses this name; pick another --node or stop that one",
                live.advertise_url, live.heartbeat_age_ms
            )));
        }
        db.register(&node, &advertise, options.ttl)?;
        log::info!(
            "cluster: node {node} advertised at {advertise}, lease ttl {} s",
            options.ttl.as_secs()
        );
        Ok(Arc::new(Cluster {
            node,
            advertise,
            ttl: options.ttl,
            url: db_url.to_string(),
            state: Mutex::new(State {
                db: Some(db),
                down: None,
                connected_at: Instant::now(),
                held: BTreeMap::new(),
            }),
            statements,
            stop: AtomicBool::new(false),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long after a (re)connect before this node takes another node's lease (CLUSTER-010).
    pub fn settle(&self) -> Duration {
        self.ttl + MAX_BACKOFF
    }

    /// Leases held now.
    pub fn held_count(&self) -> usize {
        self.lock().held.len()
    }

    /// Why the database is unreachable, if it is.
    pub fn down_reason(&self) -> Option<String> {
        self.lock().down.clone()
    }

    fn mark_down(state: &mut State, reason: String) {
        if state.down.is_none() {
            log::error!("cluster: database unreachable: {reason}; reconnecting with backoff");
        }
        state.db = None;
        state.down = Some(reason);
    }

    /// Take (or share) a lease for this node (CLUSTER-003, CLUSTER-010).
    pub fn claim(self: &Arc<Self>, name: &str) -> Placement {
        let mut state = self.lock();
        let guard = |token| LeaseGuard {
            cluster: Arc::clone(self),
            name: name.to_string(),
            token,
        };
        if let Some(held) = state.held.get_mut(name) {
            held.users += 1;
            return Placement::Here(guard(held.token));
        }
        let settled = state.connected_at.elapsed() >= self.settle();
        let answer = match state.db.as_mut().filter(|db| !db.is_closed()) {
            None => {
                let why = state
                    .down
                    .clone()
                    .unwrap_or_else(|| "connection lost".to_string());
                Self::mark_down(&mut state, why.clone());
                return Placement::Unavailable(format!("cluster database unreachable: {why}"));
            }
            Some(db) => db.try_acquire(name, &self.node, self.ttl, settled),
        };
        match answer {
            Ok(Acquire::Acquired { token }) => {
                state
                    .held
                    .insert(name.to_string(), Held { token, users: 1 });
                log::info!("cluster: took lease {name} (token {token})");
                Placement::Here(guard(token))
            }
            Ok(Acquire::HeldBy(holder)) => {
                if holder.live || (holder.fresh && !settled) {
                    if holder.advertise_url.is_empty() {
                        return Placement::Unavailable(format!(
                            "lease {name} is held by node {:?}, which advertises no URL",
                            holder.node
                        ));
                    }
                    Placement::Elsewhere {
                        node: holder.node,
                        url: holder.advertise_url,
                    }
                } else if !settled {
                    Placement::Unavailable(format!(
                        "settling after connecting to the cluster database: lease {name} of \
                         node {:?} is not taken over for {} s, and that node is not alive",
                        holder.node,
                        self.settle().as_secs()
                    ))
                } else {
                    Placement::Unavailable(format!("lease {name} is changing hands; try again"))
                }
            }
            Err(e) => {
                Self::mark_down(&mut state, e.message.clone());
                Placement::Unavailable(format!("cluster database unreachable: {}", e.message))
            }
        }
    }

    /// Another live node that holds this lease, if any (a read: takes nothing).
    pub fn owner_elsewhere(&self, name: &str) -> Option<(String, String)> {
        let mut state = self.lock();
        if state.held.contains_key(name) {
            return None;
        }
        let db = state.db.as_mut()?;
        match db.holder(name, self.ttl) {
            Ok(Some(h)) if h.node != self.node && h.live && !h.advertise_url.is_empty() => {
                Some((h.node, h.advertise_url))
            }
            Ok(_) => None,
            Err(e) => {
                Self::mark_down(&mut state, e.message);
                None
            }
        }
    }

    /// A use of a lease ends; the last one releases it (if it is still ours).
    fn put_back(&self, name: &str, token: i64) {
        let mut state = self.lock();
        let Some(held) = state.held.get_mut(name).filter(|h| h.token == token) else {
            return;
        };
        held.users = held.users.saturating_sub(1);
        if held.users > 0 {
            return;
        }
        state.held.remove(name);
        let Some(db) = state.db.as_mut() else {
            log::warn!("cluster: lease {name} not released (database unreachable): it expires");
            return;
        };
        match db.release(name, &self.node, token) {
            Ok(_) => log::info!("cluster: released lease {name}"),
            Err(e) => {
                log::warn!("cluster: lease {name} not released: {e}; it expires");
                Self::mark_down(&mut state, e.message);
            }
        }
    }

    /// One renewal round (CLUSTER-004): the leases lost, or `Err` when the database failed.
    fn renew(&self) -> Result<Vec<String>, String> {
        let mut state = self.lock();
        let leases: Vec<(String, i64)> = state
            .held
            .iter()
            .map(|(name, h)| (name.clone(), h.token))
            .collect();
        let Some(db) = state.db.as_mut() else {
            return Err("not connected".to_string());
        };
        match db.renew(&self.node, &self.advertise, &leases, self.ttl) {
            Ok(kept) => {
                let mut lost = Vec::new();
                for (name, token) in leases {
                    if !kept.contains(&name) {
                        if state.held.get(&name).is_some_and(|h| h.token == token) {
                            state.held.remove(&name);
                        }
                        lost.push(name);
                    }
                }
                Ok(lost)
            }
            Err(e) => {
                Self::mark_down(&mut state, e.message.clone());
                Err(e.message)
            }
        }
    }

    /// Reconnect with backoff until connected or stopped (CLUSTER-009); each try is bounded.
    fn reconnect(&self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.stop.load(Ordering::SeqCst) {
            match ClusterDb::connect(&self.url, Arc::clone(&self.statements)) {
                Ok(db) => {
                    let mut state = self.lock();
                    state.db = Some(db);
                    state.down = None;
                    state.connected_at = Instant::now();
                    log::info!(
                        "cluster: reconnected to the database; renewing {} leases by token",
                        state.held.len()
                    );
                    return;
                }
                Err(e) => {
                    log::warn!(
                        "cluster: reconnecting failed: {e}; next try in {} ms",
                        backoff.as_millis()
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn connected(&self) -> bool {
        self.lock().db.as_ref().is_some_and(|db| !db.is_closed())
    }
}

/// The lease thread; `stop` ends it, then releases every lease and deletes the node row.
pub struct LeaseThread {
    cluster: Arc<Cluster>,
    thread: JoinHandle<()>,
}

impl LeaseThread {
    pub fn stop(self) {
        self.cluster.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        let mut state = self.cluster.lock();
        state.held.clear();
        if let Some(db) = state.db.as_mut() {
            match db.unregister(&self.cluster.node) {
                Ok(()) => log::info!("cluster: node {} left the cluster", self.cluster.node),
                Err(e) => log::warn!("cluster: leaving the cluster: {e}"),
            }
        }
    }
}

/// Start the lease thread (CLUSTER-004, CLUSTER-006, CLUSTER-009).
pub fn spawn_lease_thread(shared: Arc<Shared>, cluster: Arc<Cluster>) -> AppResult<LeaseThread> {
    let worker = Arc::clone(&cluster);
    let thread = std::thread::Builder::new()
        .name("cluster-lease".into())
        .spawn(move || lease_loop(&shared, &worker))
        .map_err(|e| AppError::runtime(format!("cannot start the cluster lease thread: {e}")))?;
    Ok(LeaseThread { cluster, thread })
}

fn lease_loop(shared: &Arc<Shared>, cluster: &Arc<Cluster>) {
    let period = cluster.ttl / 3;
    let mut next = Instant::now();
    while !cluster.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(100)));
            continue;
        }
        next = now + period;
        if !cluster.connected() {
            cluster.reconnect();
        }
        match cluster.renew() {
            Ok(lost) => {
                for name in lost {
                    let reason = "its lease was lost (another node took it; renewal did not \
                                  return it)";
                    log::warn!("cluster: lease {name} lost: {reason}");
                    if let Some(channel) = name.strip_prefix("channel:") {
                        shared.registry.stop(channel, reason);
                    }
                }
            }
            Err(e) => log::warn!("cluster: renewal failed: {e}; running channels keep playing"),
        }
    }
}

/// The lease name of a channel (re-exported for the registry).
pub fn lease_of(channel: &str) -> String {
    channel_lease(channel)
}
