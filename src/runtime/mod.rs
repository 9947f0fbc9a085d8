//! The daemon's runtime (contracts/daemon.md): the state its threads share, the channel registry
//! with one channel-machine thread per watched channel, the engine children and their fan-out,
//! the horizon keeper thread, the as-run writer and the metrics. The director (`crate::daemon`)
//! starts it; it knows nothing of HTTP or of lineup files.

pub mod asrun;
pub mod channel;
pub mod cluster;
pub mod engine;
pub mod fanout;
pub mod horizon;
pub mod metrics;
pub mod segmenter;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crossbeam_channel::Sender;
use retrovue_core::horizon::HorizonConfig;
use retrovue_core::manager::ManagerConfig;
use retrovue_core::model::{Channel, EpgRow, PlaylogEvent, UtcMs};

pub use self::metrics::Metrics;

/// Which executable plays a channel, with its extra arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// How `serve` chose its engine (DAEMON-011), for the start-up log and the refusal (DAEMON-012).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// `--engine NAME`, used as given.
    Explicit(String),
    /// No `--engine`, and ffmpeg was found at this path.
    DefaultFfmpeg(PathBuf),
    /// No `--engine`, and no ffmpeg on PATH: refused for a catalog with files.
    DefaultSynthetic,
}

impl EngineChoice {
    /// `NAME (WHY)` for the start-up log.
    pub fn describe(&self) -> String {
        match self {
            EngineChoice::Explicit(name) => format!("{name} (--engine {name})"),
            EngineChoice::DefaultFfmpeg(path) => {
                format!("ffmpeg (default: ffmpeg found at {})", path.display())
            }
            EngineChoice::DefaultSynthetic => {
                "synthetic (default: ffmpeg not found on PATH)".to_string()
            }
        }
    }
}

/// Everything `retrovue serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: String,
    pub db_url: String,
    pub engine: EngineSpec,
    pub engine_choice: EngineChoice,
    pub lineup: Option<String>,
    /// Build ScheduleDays and the playlog ahead (false: serve only what is stored).
    pub build: bool,
    pub manager: ManagerConfig,
    pub horizon: HorizonConfig,
    /// Chunks a viewer may have queued before it is dropped (DAEMON-005).
    pub viewer_queue_chunks: usize,
    /// Requests served at once (one thread each; a stream holds its thread) (DAEMON-013).
    pub max_connections: usize,
    /// Viewers one channel admits at once (DAEMON-013).
    pub max_viewers_per_channel: usize,
    /// Cluster mode (contracts/cluster.md): `Some` on a PostgreSQL store.
    pub cluster: Option<cluster::ClusterOptions>,
}

/// Defaults of the caps (DAEMON-013): well above what one box feeds (1,000 viewers at 8 Mbit/s
/// was measured), low enough that a flood cannot exhaust threads or memory.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;
pub const DEFAULT_MAX_VIEWERS_PER_CHANNEL: usize = 2_048;

/// See `Shared::notice_repeats`.
pub type NoticeRepeats = Mutex<BTreeMap<(String, &'static str), (Option<std::time::Instant>, u64)>>;

/// What the HTTP side reads of one channel's schedule; replaced whole by the keeper thread.
#[derive(Debug, Clone, Default)]
pub struct ChannelSchedule {
    /// Loaded playlog events, sorted by start.
    pub events: Vec<PlaylogEvent>,
    /// Guide rows of the stored days, sorted by start.
    pub epg: Vec<EpgRow>,
    /// How many ScheduleDays are stored from today on.
    pub days_ahead: u32,
    /// The published horizon (MACHINE-004): a missing event before it is a schedule gap.
    pub known_until: UtcMs,
}

impl ChannelSchedule {
    /// The end of the loaded playlog.
    pub fn playlog_until(&self) -> Option<UtcMs> {
        self.events.last().map(|e| e.end)
    }
}

/// State shared by the director's threads. The channel list is fixed for the daemon's life.
pub struct Shared {
    /// Active channels, sorted by guide number.
    pub channels: Vec<Channel>,
    index: BTreeMap<String, usize>,
    /// Asset id → file path, for assets that have one.
    pub asset_paths: BTreeMap<String, String>,
    pub schedules: RwLock<BTreeMap<String, Arc<ChannelSchedule>>>,
    pub metrics: Metrics,
    pub registry: channel::Registry,
    pub engine: EngineSpec,
    pub manager: ManagerConfig,
    pub viewer_queue_chunks: usize,
    pub max_connections: usize,
    pub max_viewers_per_channel: usize,
    /// Requests being served now (DAEMON-013).
    pub connections: std::sync::atomic::AtomicUsize,
    /// Per (channel, notice kind): when one was last logged, how many held back since
    /// (DAEMON-014). Shared, so a channel's threads over time count together.
    pub notice_repeats: NoticeRepeats,
    asrun: Mutex<Option<Sender<asrun::SessionRecord>>>,
    /// `<host>-<pid>-<start ms>`: this daemon's part of every as-run session key (ASRUN-003).
    pub session_prefix: String,
    next_viewer: AtomicU64,
    pub bound: Mutex<String>,
    /// Channels whose horizon is behind, with the reason (HORIZON-007), from the keeper.
    pub health: Mutex<BTreeMap<String, String>>,
    /// Channels whose published snapshot violated an invariant (HORIZON-008): the first one.
    pub violations: Mutex<BTreeMap<String, String>>,
    /// Each channel's HLS window and lease (DAEMON-020), for the daemon's life.
    pub hls: BTreeMap<String, Arc<segmenter::HlsChannel>>,
    /// This node in the cluster (contracts/cluster.md); unset on SQLite.
    pub cluster: std::sync::OnceLock<Arc<cluster::Cluster>>,
}

impl Shared {
    pub fn new(
        mut channels: Vec<Channel>,
        asset_paths: BTreeMap<String, String>,
        config: &ServeConfig,
        asrun: Sender<asrun::SessionRecord>,
    ) -> Shared {
        channels.retain(|c| c.active);
        channels.sort_by_key(|c| guide_number_key(&c.number));
        let index = channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let metrics = Metrics::new(channels.iter().map(|c| c.id.as_str()));
        let hls = channels
            .iter()
            .map(|c| (c.id.clone(), Arc::default()))
            .collect();
        Shared {
            hls,
            channels,
            index,
            asset_paths,
            schedules: RwLock::new(BTreeMap::new()),
            metrics,
            registry: channel::Registry::default(),
            engine: config.engine.clone(),
            manager: config.manager.clone(),
            viewer_queue_chunks: config.viewer_queue_chunks.max(1),
            max_connections: config.max_connections.max(1),
            max_viewers_per_channel: config.max_viewers_per_channel.max(1),
            connections: std::sync::atomic::AtomicUsize::new(0),
            notice_repeats: Mutex::new(BTreeMap::new()),
            asrun: Mutex::new(Some(asrun)),
            session_prefix: asrun::session_prefix(crate::store::now_ms()),
            next_viewer: AtomicU64::new(1),
            bound: Mutex::new(String::new()),
            health: Mutex::new(BTreeMap::new()),
            violations: Mutex::new(BTreeMap::new()),
            cluster: std::sync::OnceLock::new(),
        }
    }

    /// This node in the cluster, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<cluster::Cluster>> {
        self.cluster.get()
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.index.get(id).map(|&i| &self.channels[i])
    }

    pub fn schedule(&self, id: &str) -> Arc<ChannelSchedule> {
        let schedules = self.schedules.read().unwrap_or_else(|e| e.into_inner());
        schedules.get(id).cloned().unwrap_or_default()
    }

    pub fn publish_schedule(&self, id: &str, schedule: ChannelSchedule) {
        let mut schedules = self.schedules.write().unwrap_or_else(|e| e.into_inner());
        schedules.insert(id.to_string(), Arc::new(schedule));
    }

    /// Why the daemon is unhealthy (HTTP-007): horizons behind or invariants violated.
    pub fn unhealthy(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (channel, why) in self.health.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push(format!("channel {channel}: horizon behind: {why}"));
        }
        for (channel, what) in self
            .violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            out.push(format!("channel {channel}: invariant violated: {what}"));
        }
        out
    }

    pub fn new_viewer_id(&self) -> u64 {
        self.next_viewer.fetch_add(1, Ordering::Relaxed)
    }

    /// A sender to the as-run writer, while it still accepts records.
    pub fn asrun_sender(&self) -> Option<Sender<asrun::SessionRecord>> {
        self.asrun.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// No more as-run records: the writer drains what it has and ends.
    pub fn close_asrun(&self) {
        self.asrun.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Guide numbers sort numerically part by part ("2" < "4.1" < "10"); non-numbers after.
pub fn guide_number_key(number: &str) -> Vec<(u64, String)> {
    number
        .split(['.', '-'])
        .map(|part| (part.parse::<u64>().unwrap_or(u64::MAX), part.to_string()))
        .collect()
}
