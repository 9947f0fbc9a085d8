//! The daemon's runtime (RUNTIME §1, contracts/daemon.md): the ProgramDirector that wires the
//! store, the horizon keeper thread, the as-run writer, the channel registry with one
//! ChannelManager thread per watched channel, and the HTTP server, then shuts them down cleanly.

pub mod asrun;
pub mod channel;
pub mod engine;
pub mod fanout;
pub mod horizon;
pub mod metrics;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crossbeam_channel::Sender;
use retrovue_core::horizon::HorizonConfig;
use retrovue_core::manager::ManagerConfig;
use retrovue_core::model::{AsRunRecord, Channel, EpgRow, PlaylogEvent, UtcMs};

use crate::error::{AppError, AppResult};
use crate::store;

pub use self::metrics::Metrics;

/// The demo lineup, imported on the first start of an empty store (DAEMON-001).
pub const DEMO_LINEUP: &str = include_str!("../../fixtures/demo/lineup.toml");

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
    asrun: Mutex<Option<Sender<AsRunRecord>>>,
    next_viewer: AtomicU64,
    pub bound: Mutex<String>,
    /// Channels whose horizon is behind, with the reason (HORIZON-007), from the keeper.
    pub health: Mutex<BTreeMap<String, String>>,
    /// Channels whose published snapshot violated an invariant (HORIZON-008): the first one.
    pub violations: Mutex<BTreeMap<String, String>>,
}

impl Shared {
    pub fn new(
        mut channels: Vec<Channel>,
        asset_paths: BTreeMap<String, String>,
        config: &ServeConfig,
        asrun: Sender<AsRunRecord>,
    ) -> Shared {
        channels.retain(|c| c.active);
        channels.sort_by_key(|c| guide_number_key(&c.number));
        let index = channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let metrics = Metrics::new(channels.iter().map(|c| c.id.as_str()));
        Shared {
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
            next_viewer: AtomicU64::new(1),
            bound: Mutex::new(String::new()),
            health: Mutex::new(BTreeMap::new()),
            violations: Mutex::new(BTreeMap::new()),
        }
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
    pub fn asrun_sender(&self) -> Option<Sender<AsRunRecord>> {
        self.asrun.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn close_asrun(&self) {
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

/// SIGINT and SIGTERM set this flag.
pub fn termination_flag() -> AppResult<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .map_err(|e| AppError::runtime(format!("cannot install signal handler: {e}")))?;
    }
    Ok(flag)
}

/// Open the store, import the lineup when needed and read the active channels (DAEMON-001).
fn prepare_store(config: &ServeConfig) -> AppResult<(Vec<Channel>, BTreeMap<String, String>)> {
    let mut store = store::open(&config.db_url)?;
    let lineup = match &config.lineup {
        Some(path) => Some(crate::cli::lineup::read_lineup(path)?),
        None => {
            if store.load_lineup()?.channels.is_empty() {
                let demo = retrovue_core::lineup::parse_lineup(DEMO_LINEUP, "demo lineup")
                    .map_err(|e| AppError::runtime(format!("embedded demo lineup: {e:?}")))?;
                Some(demo)
            } else {
                None
            }
        }
    };
    if let Some(lineup) = lineup {
        let summary = store.import_lineup(&lineup)?;
        log::info!("imported lineup: {} channels", summary.channels);
    }
    let lineup = store.load_lineup()?;
    let paths = lineup
        .catalog
        .assets
        .values()
        .filter_map(|a| a.path.clone().map(|p| (a.id.clone(), p)))
        .collect();
    Ok((lineup.channels, paths))
}

/// DAEMON-012: no engine able to play a catalog with files is a refusal at start; DAEMON-011: an
/// explicit synthetic engine for one is a warning.
fn check_engine_for_files(
    choice: &EngineChoice,
    paths: &BTreeMap<String, String>,
) -> AppResult<()> {
    let Some(example) = paths.values().next() else {
        return Ok(());
    };
    match choice {
        EngineChoice::DefaultSynthetic => Err(AppError::bad(format!(
            "serve: {} assets are files (e.g. {example:?}) but ffmpeg is not on PATH to play \
             them: {}, or pass --engine synthetic to show test pictures instead",
            paths.len(),
            crate::cli::serve::INSTALL_FFMPEG
        ))),
        EngineChoice::Explicit(name) if name == "synthetic" => {
            log::warn!(
                "engine: --engine synthetic shows {} assets that are files (e.g. {example:?}) \
                 as test pictures instead of playing them",
                paths.len()
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

/// DAEMON-011: which engine and why, which database, which channels.
fn log_start(config: &ServeConfig, channels: &[Channel]) {
    log::info!("engine: {}", config.engine_choice.describe());
    log::info!("database: {}", store::postgres::redact(&config.db_url));
    let listed: Vec<String> = channels
        .iter()
        .map(|c| format!("{} {}", c.id, c.number))
        .collect();
    log::info!("channels: {} ({})", channels.len(), listed.join(", "));
}

/// Run the daemon until SIGINT/SIGTERM (or `stop` is set); returns after a clean shutdown.
pub fn run(config: ServeConfig, stop: Arc<AtomicBool>) -> AppResult<()> {
    if !config.engine.program.is_file() {
        return Err(AppError::bad(format!(
            "--engine: {} is not an executable file",
            config.engine.program.display()
        )));
    }
    let (channels, paths) = prepare_store(&config)?;
    check_engine_for_files(&config.engine_choice, &paths)?;

    let (asrun_tx, asrun_rx) = crossbeam_channel::unbounded();
    let writer = asrun::spawn_writer(config.db_url.clone(), asrun_rx)?;
    let shared = Arc::new(Shared::new(channels, paths, &config, asrun_tx));
    log_start(&config, &shared.channels);

    let keeper = horizon::spawn_keeper(&config, Arc::clone(&shared))?;

    let server = tiny_http::Server::http(&config.bind)
        .map_err(|e| AppError::runtime(format!("cannot listen on {}: {e}", config.bind)))?;
    let bound = server.server_addr().to_string();
    *shared.bound.lock().unwrap_or_else(|e| e.into_inner()) = bound.clone();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "retrovue: listening on http://{bound}/ ({} channels; open http://{bound}/channellist.m3u in VLC)",
            shared.channels.len()
        );
        let _ = out.flush();
    }

    crate::http::serve(&server, &shared, &stop);

    // Shutdown (DAEMON-006): stop accepting, stop the channels, then the keeper, then flush.
    log::info!("shutting down");
    drop(server);
    shared.registry.shutdown_all();
    keeper.stop();
    shared.close_asrun();
    let written = writer
        .join()
        .map_err(|_| AppError::runtime("as-run writer panicked"))?;
    log::info!("as-run flushed: {written} records");
    let _ = std::io::stdout().flush();
    Ok(())
}
