//! Command-line surface (`retrovue <noun> <verb>`, contracts/cli.md): definitions and dispatch.

pub mod asrun;
pub mod asset;
pub mod channel;
pub mod cluster;
pub mod collection;
pub mod db;
pub mod enricher;
pub mod epg;
pub mod lineup;
pub mod lineup_io;
pub mod operator;
pub mod plan;
pub mod playlog;
pub mod program;
pub mod schedule;
pub mod serve;
pub mod sim;
pub mod source;
pub mod zone;

use clap::{Args, Parser, Subcommand};

use crate::error::AppResult;

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Database URL: sqlite://PATH or postgres://… (default: an SQLite file in RETROVUE_HOME).
    #[arg(long, global = true, env = "RETROVUE_DATABASE_URL")]
    pub db: Option<String>,
    /// Machine output only: JSON on stdout, nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Parser)]
#[command(
    name = "retrovue",
    version,
    about = "RetroVue Core: a believable, always-on, multi-channel retro TV network",
    long_about = "RetroVue lays your media out on a broadcast grid and serves it as live IPTV \
                  channels with a guide that matches what plays.\n\nStart with `retrovue serve` \
                  (the bundled demo lineup on first run) and open \
                  http://127.0.0.1:8000/channellist.m3u in VLC, or dry-run a week of the demo \
                  with `retrovue sim --days 7`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Config as code: validate, import, export or generate a lineup file.
    #[command(subcommand)]
    Lineup(lineup::LineupCommand),
    /// Dry-run a lineup in virtual time: schedules, guide, playlog, viewers, engines, faults.
    Sim(sim::SimArgs),
    /// Schema management: apply or list migrations.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Build and show stored ScheduleDays.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Show or export the guide derived from stored ScheduleDays.
    #[command(subcommand)]
    Epg(epg::EpgCommand),
    /// Show the stored playlog.
    #[command(subcommand)]
    Playlog(playlog::PlaylogCommand),
    /// Run the daemon: live channels over HTTP (M3U, MPEG-TS, XMLTV, HDHomeRun).
    Serve(serve::ServeArgs),
    /// External libraries (folders, Plex, Jellyfin): add, list, show, update, delete, discover.
    #[command(subcommand)]
    Source(source::SourceCommand),
    /// Ingest scopes of sources: list, show, update (ingest on/off), ingest, wipe.
    #[command(subcommand)]
    Collection(collection::CollectionCommand),
    /// Ingest enrichers (ffprobe): list, add, remove.
    #[command(subcommand)]
    Enricher(enricher::EnricherCommand),
    /// The catalog: list, show, update, approve and retire assets.
    #[command(subcommand)]
    Asset(asset::AssetCommand),
    /// Programs (a series or an asset list with a play mode): add, list, show, update, delete.
    #[command(subcommand)]
    Program(program::ProgramCommand),
    /// Channels: add, list, show, update, delete, validate.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// A channel's SchedulePlans: add, list, show, update, delete.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// The zones of a plan: add, list, show, update, delete.
    #[command(subcommand)]
    Zone(zone::ZoneCommand),
    /// What actually aired, as the runtime recorded it.
    #[command(subcommand, name = "asrun")]
    AsRun(asrun::AsRunCommand),
    /// The nodes sharing a PostgreSQL store: heartbeats, leases, who runs what.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Set up `env_logger` from -v/-q (RUST_LOG still wins when set). CLI-027: the daemon
/// (`serve_defaults`) says what it does at info by default; other verbs only warn.
pub fn init_logging(global: &Global, serve_defaults: bool) {
    const LEVELS: [&str; 4] = ["warn", "info", "debug", "trace"];
    let level = if global.quiet {
        "error"
    } else {
        let step = usize::from(global.verbose) + usize::from(serve_defaults);
        LEVELS[step.min(LEVELS.len() - 1)]
    };
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .try_init();
}

pub fn run(cli: Cli) -> AppResult<()> {
    match cli.command {
        Command::Lineup(cmd) => lineup::run(cmd, &cli.global),
        Command::Sim(args) => sim::run(args, &cli.global),
        Command::Db(cmd) => db::run(cmd, &cli.global),
        Command::Schedule(cmd) => schedule::run(cmd, &cli.global),
        Command::Epg(cmd) => epg::run(cmd, &cli.global),
        Command::Playlog(cmd) => playlog::run(cmd, &cli.global),
        Command::Serve(args) => serve::run(args, &cli.global),
        Command::Source(cmd) => source::run(cmd, &cli.global),
        Command::Collection(cmd) => collection::run(cmd, &cli.global),
        Command::Enricher(cmd) => enricher::run(cmd, &cli.global),
        Command::Asset(cmd) => asset::run(cmd, &cli.global),
        Command::Program(cmd) => program::run(cmd, &cli.global),
        Command::Channel(cmd) => channel::run(cmd, &cli.global),
        Command::Plan(cmd) => plan::run(cmd, &cli.global),
        Command::Zone(cmd) => zone::run(cmd, &cli.global),
        Command::AsRun(cmd) => asrun::run(cmd, &cli.global),
        Command::Cluster(cmd) => cluster::run(cmd, &cli.global),
    }
}
