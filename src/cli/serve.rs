//! `retrovue serve`: the production daemon (contracts/daemon.md, contracts/http.md) — channels on
//! demand, shared, isolated — until SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use clap::Args;
use retrovue_core::horizon::HorizonConfig;
use retrovue_core::manager::ManagerConfig;

use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::runtime::{self, EngineChoice, EngineSpec, ServeConfig};

use crate::daemon::INSTALL_FFMPEG;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, env = "RETROVUE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Playout engine: `synthetic`, `ffmpeg`, `air` (AIR from RETROVUE_AIR), or the path of an executable speaking the engine
    /// protocol [default: ffmpeg when it is on PATH, otherwise synthetic].
    #[arg(long)]
    pub engine: Option<String>,
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
    /// Requests served at once (each stream holds one); past it a 503 "server busy".
    #[arg(long, default_value_t = runtime::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Viewers one channel admits at once; past it a 503 "channel is full".
    #[arg(long, default_value_t = runtime::DEFAULT_MAX_VIEWERS_PER_CHANNEL)]
    pub max_viewers_per_channel: usize,
    /// Start the daemon's clock at this instant (RFC 3339, e.g. 2026-03-02T11:59:30Z) and run it
    /// at real speed: keeper thresholds, join times and as-run use it (DAEMON-008).
    #[arg(long)]
    pub clock: Option<String>,
    /// Tuners `/discover.json` reports to HDHomeRun clients (Plex, Jellyfin, Emby).
    #[arg(long, default_value_t = 4)]
    pub tuner_count: usize,
    /// Where the SSDP discovery responder listens (`ADDR:PORT`, or `off`) [default: 0.0.0.0:1900
    /// when --bind is not a loopback address, else none]. On a loopback address it only answers
    /// unicast searches and never announces.
    #[arg(long)]
    pub ssdp_bind: Option<String>,
    /// Cluster mode (PostgreSQL store): where other nodes send this node's viewers
    /// [default: http://<bound address>/, an unspecified address replaced by the host name].
    #[arg(long)]
    pub advertise: Option<String>,
    /// Cluster mode: this node's name [default: <hostname>:<port>].
    #[arg(long)]
    pub node: Option<String>,
    /// Cluster mode: seconds a lease lives unrenewed, 2..=60 [default: 6].
    #[arg(long)]
    pub lease_ttl: Option<String>,
}

/// CLUSTER-001: the cluster flags, checked; `None` on SQLite (where they are refused).
fn cluster_options(
    args: &ServeArgs,
    db_url: &str,
) -> AppResult<Option<runtime::cluster::ClusterOptions>> {
    if !crate::store::is_postgres(db_url) {
        let given: Vec<&str> = [
            ("--advertise", args.advertise.is_some()),
            ("--node", args.node.is_some()),
            ("--lease-ttl", args.lease_ttl.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect();
        if let Some(flag) = given.first() {
            return Err(AppError::bad(format!(
                "{flag}: cluster mode needs a PostgreSQL store (--db postgres://…); a SQLite \
                 store is single-node"
            )));
        }
        return Ok(None);
    }
    let ttl = match args.lease_ttl.as_deref() {
        None => 6,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|t| (2..=60).contains(t))
            .ok_or_else(|| {
                AppError::bad(format!(
                    "--lease-ttl: expected 2..=60 seconds, got {text:?}"
                ))
            })?,
    };
    if let Some(url) = &args.advertise {
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.split('/').next().unwrap_or(""));
        if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
            return Err(AppError::bad(format!(
                "--advertise: expected a URL like http://host:8000/, got {url:?}"
            )));
        }
    }
    if let Some(node) = &args.node {
        if node.trim().is_empty() || node.len() > 200 {
            return Err(AppError::bad(format!(
                "--node: expected a name of 1..=200 characters, got {node:?}"
            )));
        }
    }
    Ok(Some(runtime::cluster::ClusterOptions {
        advertise: args.advertise.clone(),
        node: args.node.clone(),
        ttl: std::time::Duration::from_secs(ttl),
    }))
}

/// `synthetic`, `ffmpeg` and `air` are the engine binaries next to this executable.
pub fn resolve_engine(name: &str) -> AppResult<PathBuf> {
    let shipped = match name {
        "synthetic" => Some("retrovue-engine-synthetic"),
        "ffmpeg" => Some("retrovue-engine-ffmpeg"),
        "air" => Some("retrovue-engine-air"),
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

/// An executable file: `program` itself when it names a path, else the first `program` in the
/// directories of PATH (as a child started with that name would find it).
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|path| executable(path))
}

/// The ffmpeg the ffmpeg engine would run: `--engine-arg=--ffmpeg --engine-arg=PATH`, or
/// `ffmpeg` from PATH.
fn ffmpeg_program(engine_args: &[String]) -> &str {
    engine_args
        .iter()
        .position(|a| a == "--ffmpeg")
        .and_then(|i| engine_args.get(i + 1))
        .map_or("ffmpeg", String::as_str)
}

/// DAEMON-011: `--engine` as given, else ffmpeg when it is installed, else synthetic;
/// DAEMON-012: `--engine ffmpeg` without ffmpeg is refused here.
pub fn choose_engine(
    engine: Option<&str>,
    engine_args: &[String],
) -> AppResult<(PathBuf, EngineChoice)> {
    let ffmpeg = find_program(ffmpeg_program(engine_args));
    match engine {
        Some("ffmpeg") if ffmpeg.is_none() => Err(AppError::bad(format!(
            "--engine ffmpeg: {} is not on PATH: {INSTALL_FFMPEG}",
            ffmpeg_program(engine_args)
        ))),
        Some(name) => Ok((
            resolve_engine(name)?,
            EngineChoice::Explicit(name.to_string()),
        )),
        None => match ffmpeg {
            Some(found) => Ok((
                resolve_engine("ffmpeg")?,
                EngineChoice::DefaultFfmpeg(found),
            )),
            None => Ok((resolve_engine("synthetic")?, EngineChoice::DefaultSynthetic)),
        },
    }
}

pub fn run(args: ServeArgs, global: &Global) -> AppResult<()> {
    if args.linger_ms < 0 {
        return Err(AppError::bad(format!(
            "--linger-ms: expected a duration >= 0, got {}",
            args.linger_ms
        )));
    }
    let Ok(bind) = args.bind.parse::<std::net::SocketAddr>() else {
        return Err(AppError::bad(format!(
            "--bind: expected IP:PORT like 127.0.0.1:8000, got {:?}",
            args.bind
        )));
    };
    if args.tuner_count == 0 {
        return Err(AppError::bad("--tuner-count: expected at least 1, got 0"));
    }
    let ssdp_bind = match args.ssdp_bind.as_deref() {
        Some("off") => None,
        Some(text) => Some(text.parse::<std::net::SocketAddr>().map_err(|_| {
            AppError::bad(format!(
                "--ssdp-bind: expected IP:PORT like 0.0.0.0:1900 or off, got {text:?}"
            ))
        })?),
        None if bind.ip().is_loopback() => None,
        None => Some(std::net::SocketAddr::from(([0, 0, 0, 0], 1900))),
    };
    let options = crate::daemon::SurfaceOptions {
        tuner_count: args.tuner_count,
        ssdp_bind,
    };
    let clock_start = match &args.clock {
        Some(text) => Some(retrovue_core::time::parse_utc(text).ok_or_else(|| {
            AppError::bad(format!(
                "--clock: expected an RFC 3339 instant like 2026-03-02T11:59:30Z, got {text:?}"
            ))
        })?),
        None => None,
    };
    let (program, engine_choice) = choose_engine(args.engine.as_deref(), &args.engine_args)?;
    let mut engine_args = args.engine_args.clone();
    if let Some(profile) = &args.profile {
        retrovue_core::validate::output_profile(profile)
            .map_err(|e| AppError::bad(format!("--profile: {e}")))?;
        engine_args.push(format!("--profile={profile}"));
    }
    let db_url = crate::store::resolve_url(global.db.as_deref())?;
    let cluster = cluster_options(&args, &db_url)?;
    let config = ServeConfig {
        cluster,
        bind: args.bind,
        db_url,
        engine: EngineSpec {
            program,
            args: engine_args,
        },
        engine_choice,
        lineup: args.lineup,
        build: !args.no_build,
        manager: ManagerConfig {
            linger_ms: args.linger_ms,
            ..ManagerConfig::default()
        },
        horizon: HorizonConfig::default(),
        viewer_queue_chunks: args.viewer_queue,
        max_connections: args.max_connections,
        max_viewers_per_channel: args.max_viewers_per_channel,
    };
    if let Some(start) = clock_start {
        crate::clock::start_at(start);
        log::info!(
            "clock set to {} (running at real speed)",
            retrovue_core::time::fmt_utc(start)
        );
    }
    let stop = crate::daemon::termination_flag()?;
    crate::daemon::run(config, options, stop)
}
