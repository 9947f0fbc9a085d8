//! The ProgramDirector (DAEMON-001, DAEMON-006, DAEMON-011..014): wires the store, the horizon keeper
//! thread, the as-run writer, the channel registry and the HTTP server for `retrovue serve`,
//! then shuts them down cleanly. It owns neither the HTTP server's internals (`http`) nor the
//! lineup reader (`lineup_file`); the runtime it starts knows neither.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use retrovue_core::model::Channel;

use crate::error::{AppError, AppResult};
use crate::lineup_file::{read_lineup, DEMO_LINEUP};
use crate::runtime::cluster::{self, Cluster};
use crate::runtime::{asrun, horizon, EngineChoice, ServeConfig, Shared};
use crate::store;
use crate::{http, ssdp};

/// What to do about a missing ffmpeg (DAEMON-012).
pub const INSTALL_FFMPEG: &str = "install it (apt-get install ffmpeg)";

/// SIGINT and SIGTERM set this flag.
pub fn termination_flag() -> AppResult<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .map_err(|e| AppError::runtime(format!("cannot install signal handler: {e}")))?;
    }
    Ok(flag)
}

/// What `serve` asked of the viewer surface beyond the runtime (HTTP-036, HTTP-037).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurfaceOptions {
    /// `TunerCount` in `/discover.json`.
    pub tuner_count: usize,
    /// Where the SSDP responder listens; `None`: no responder.
    pub ssdp_bind: Option<std::net::SocketAddr>,
}

type Prepared = (Vec<Channel>, BTreeMap<String, String>, http::Surface);

/// Open the store, import the lineup when needed and read the active channels (DAEMON-001).
fn prepare_store(config: &ServeConfig, options: &SurfaceOptions) -> AppResult<Prepared> {
    // STORE-053: a damaged SQLite file is refused before anything reads or writes it.
    store::quick_check(&config.db_url)?;
    let mut store = store::open(&config.db_url)?;
    let lineup = match &config.lineup {
        Some(path) => Some(read_lineup(path)?),
        None => {
            let stored = store.load_lineup()?;
            let media = stored.catalog.assets.len() + store.sources(None)?.len();
            if stored.channels.is_empty() && media > 0 {
                // CLI-068: the operator's media is there, only the channels are missing: the
                // demo's channels would mix with it. Serve nothing and say what to do.
                log::warn!(
                    "the store holds media ({} assets) but no channel: serving no channels \
                     (not the demo); add one with `retrovue channel add` or pass --lineup FILE",
                    stored.catalog.assets.len()
                );
                None
            } else if stored.channels.is_empty() {
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
    let surface = http::Surface::new(options.tuner_count, lineup.catalog.assets.values());
    Ok((lineup.channels, paths, surface))
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
            INSTALL_FFMPEG
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
pub fn run(config: ServeConfig, options: SurfaceOptions, stop: Arc<AtomicBool>) -> AppResult<()> {
    if !config.engine.program.is_file() {
        return Err(AppError::bad(format!(
            "--engine: {} is not an executable file",
            config.engine.program.display()
        )));
    }
    // DAEMON-030: one daemon per SQLite file, held until this function returns.
    let serve_lock = store::serve_lock::lock_for_serve(&config.db_url)?;
    if let Some(lock) = &serve_lock {
        log::info!("serve lock: {}", lock.path.display());
    }
    let (channels, paths, surface) = prepare_store(&config, &options)?;
    let surface = Arc::new(surface);
    check_engine_for_files(&config.engine_choice, &paths)?;

    let (asrun_tx, asrun_rx) = crossbeam_channel::unbounded();
    let writer = asrun::spawn_writer(config.db_url.clone(), asrun_rx)?;
    let shared = Arc::new(Shared::new(channels, paths, &config, asrun_tx));
    log_start(&config, &shared.channels);

    let server = tiny_http::Server::http(&config.bind)
        .map_err(|e| AppError::runtime(format!("cannot listen on {}: {e}", config.bind)))?;
    let bound = server.server_addr().to_string();
    *shared.bound.lock().unwrap_or_else(|e| e.into_inner()) = bound.clone();

    // DAEMON-021: on PostgreSQL, join the cluster before the keeper's first tick.
    let lease_thread = match &config.cluster {
        Some(options) => {
            let cluster = Cluster::join(&config.db_url, options, &bound)?;
            let _ = shared.cluster.set(Arc::clone(&cluster));
            Some(cluster::spawn_lease_thread(Arc::clone(&shared), cluster)?)
        }
        None => None,
    };

    let keeper = horizon::spawn_keeper(&config, Arc::clone(&shared))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "retrovue: listening on http://{bound}/ ({} channels; open http://{bound}/channellist.m3u in VLC)",
            shared.channels.len()
        );
        let _ = out.flush();
    }

    // HTTP-037: discovery; a port in use is a warning, not a refusal.
    let responder = options.ssdp_bind.and_then(|bind| {
        let http_addr = bound.parse().ok()?;
        match ssdp::start(bind, http_addr, &http::pages::udn()) {
            Ok(r) => {
                log::info!(
                    "ssdp: answering searches on {}{}",
                    r.local,
                    if r.announcing {
                        " and announcing"
                    } else {
                        " (unicast only)"
                    }
                );
                Some(r)
            }
            Err(e) => {
                log::warn!("ssdp: cannot listen on {bind}: {e}; discovery is off");
                None
            }
        }
    });

    crate::http::serve(&server, &shared, &surface, &stop);

    // Shutdown (DAEMON-006): stop accepting, stop the channels, then the keeper, then flush.
    log::info!("shutting down");
    if let Some(responder) = responder {
        responder.stop();
    }
    drop(server);
    shared.registry.shutdown_all();
    keeper.stop();
    if let Some(lease_thread) = lease_thread {
        lease_thread.stop();
    }
    shared.close_asrun();
    let written = writer
        .join()
        .map_err(|_| AppError::runtime("as-run writer panicked"))?;
    log::info!("as-run flushed: {written} records");
    let _ = std::io::stdout().flush();
    drop(serve_lock);
    Ok(())
}
