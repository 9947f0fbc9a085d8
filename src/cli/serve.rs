//! `retrovue serve`: the production daemon (contracts/daemon.md, contracts/http.md) — channels on
//! demand, shared, isolated — until SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use clap::Args;
use retrovue_core::horizon::HorizonConfig;
use retrovue_core::manager::ManagerConfig;

use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::runtime::{self, EngineSpec, ServeConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Playout engine: `synthetic`, `ffmpeg`, or the path of an executable speaking the engine
    /// protocol.
    #[arg(long, default_value = "synthetic")]
    pub engine: String,
    /// Extra argument for the engine (repeatable), e.g. `--engine-arg=--bitrate=8000000`.
    #[arg(long = "engine-arg", allow_hyphen_values = true)]
    pub engine_args: Vec<String>,
    /// Default output profile of the engine's stream (ENGINE-020), e.g. 720p30, 1080p60,
    /// 480p30:mpeg2; a channel's own `output_profile` overrides it. Passed to the engine as
    /// `--profile=TEXT`.
    #[arg(long)]
    pub profile: Option<String>,
    /// How long an engine keeps running after its last viewer left, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub linger_ms: i64,
    /// Import (upsert) this lineup file at start; without it an empty store gets the demo.
    #[arg(long)]
    pub lineup: Option<String>,
    /// Serve only what is stored; build no ScheduleDays (another node builds).
    #[arg(long)]
    pub no_build: bool,
    /// Stream chunks a viewer may have queued before it is dropped as too slow.
    #[arg(long, default_value_t = 512)]
    pub viewer_queue: usize,
    /// Start the daemon's clock at this instant (RFC 3339, e.g. 2026-03-02T11:59:30Z) and run it
    /// at real speed: keeper thresholds, join times and as-run use it (DAEMON-008).
    #[arg(long)]
    pub clock: Option<String>,
}

/// `synthetic` and `ffmpeg` are the engine binaries next to this executable.
pub fn resolve_engine(name: &str) -> AppResult<PathBuf> {
    let shipped = match name {
        "synthetic" => Some("retrovue-engine-synthetic"),
        "ffmpeg" => Some("retrovue-engine-ffmpeg"),
        _ => None,
    };
    let path = match shipped {
        Some(binary) => {
            let exe = std::env::current_exe()
                .map_err(|e| AppError::runtime(format!("cannot locate this executable: {e}")))?;
            let dir = exe.parent().unwrap_or(Path::new("."));
            // `cargo test` runs binaries from target/debug/deps; the engines are one level up.
            [dir.join(binary), dir.join("..").join(binary)]
                .into_iter()
                .find(|p| p.is_file())
                .unwrap_or_else(|| dir.join(binary))
        }
        None => PathBuf::from(name),
    };
    if !path.is_file() {
        return Err(AppError::bad(format!(
            "--engine {name}: no engine executable at {}",
            path.display()
        )));
    }
    Ok(path)
}

pub fn run(args: ServeArgs, global: &Global) -> AppResult<()> {
    if args.linger_ms < 0 {
        return Err(AppError::bad(format!(
            "--linger-ms: expected a duration >= 0, got {}",
            args.linger_ms
        )));
    }
    if args.bind.parse::<std::net::SocketAddr>().is_err() {
        return Err(AppError::bad(format!(
            "--bind: expected IP:PORT like 127.0.0.1:8000, got {:?}",
            args.bind
        )));
    }
    let clock_start = match &args.clock {
        Some(text) => Some(retrovue_core::time::parse_utc(text).ok_or_else(|| {
            AppError::bad(format!(
                "--clock: expected an RFC 3339 instant like 2026-03-02T11:59:30Z, got {text:?}"
            ))
        })?),
        None => None,
    };
    let program = resolve_engine(&args.engine)?;
    let mut engine_args = args.engine_args;
    if let Some(profile) = &args.profile {
        retrovue_core::validate::output_profile(profile)
            .map_err(|e| AppError::bad(format!("--profile: {e}")))?;
        engine_args.push(format!("--profile={profile}"));
    }
    let db_url = crate::store::resolve_url(global.db.as_deref())?;
    let config = ServeConfig {
        bind: args.bind,
        db_url,
        engine: EngineSpec {
            program,
            args: engine_args,
        },
        lineup: args.lineup,
        build: !args.no_build,
        manager: ManagerConfig {
            linger_ms: args.linger_ms,
            ..ManagerConfig::default()
        },
        horizon: HorizonConfig::default(),
        viewer_queue_chunks: args.viewer_queue,
    };
    if let Some(start) = clock_start {
        crate::clock::start_at(start);
        log::info!(
            "clock set to {} (running at real speed)",
            retrovue_core::time::fmt_utc(start)
        );
    }
    let stop = runtime::termination_flag()?;
    runtime::run(config, stop)
}
