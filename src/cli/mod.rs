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
pub mod preview;
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

/// CLI-081: one example per verb (`noun verb` → command line), shown at the end of its help.
/// Verbs whose doc comment already holds an `Example:` line are not listed.
const EXAMPLES: &[(&str, &str)] = &[
    ("lineup validate", "retrovue lineup validate lineup.toml"),
    ("lineup import", "retrovue lineup import lineup.toml --dry-run"),
    ("lineup export", "retrovue lineup export --out lineup.toml"),
    ("lineup generate", "retrovue lineup generate --channels 50 --seed 1 --out big.toml"),
    ("sim", "retrovue sim --days 7"),
    ("db migrate", "retrovue db migrate --dry-run"),
    ("db status", "retrovue db status"),
    ("cluster status", "retrovue --db postgres://tv@db/retrovue cluster status --json"),
    ("db backup", "retrovue db backup retrovue-backup.jsonl"),
    ("db restore", "retrovue --db sqlite://new.db db restore retrovue-backup.jsonl --yes"),
    ("schedule build", "retrovue schedule build --channel retro-one --from 2030-01-07 --days 7"),
    ("schedule show", "retrovue schedule show --channel retro-one --date 2030-01-07"),
    ("schedule check", "retrovue schedule check --channel retro-one"),
    ("epg show", "retrovue epg show --channel retro-one --from 2030-01-07 --tz UTC"),
    ("epg export", "retrovue epg export --format xmltv --days 7 --out guide.xml"),
    ("playlog show", "retrovue playlog show --channel retro-one"),
    ("serve", "retrovue serve --bind 0.0.0.0:8000"),
    ("source add", "retrovue source add --kind filesystem --path /media/tv"),
    ("source list", "retrovue source list --json"),
    ("source show", "retrovue source show tv"),
    ("source update", "retrovue source update tv --name \"TV shows\""),
    ("source delete", "retrovue source delete tv --dry-run"),
    ("source discover", "retrovue source discover tv"),
    ("collection list", "retrovue collection list --source tv"),
    ("collection show", "retrovue collection show tv-main"),
    ("collection update", "retrovue collection update tv-main --ingest on"),
    ("collection ingest", "retrovue collection ingest tv-main"),
    ("collection wipe", "retrovue collection wipe tv-main --dry-run"),
    ("enricher list", "retrovue enricher list"),
    ("enricher add", "retrovue enricher add ffprobe --timeout 30s"),
    ("enricher remove", "retrovue enricher remove ffprobe --yes"),
    ("asset list", "retrovue asset list --series \"Maple Street\" --approved no"),
    ("asset show", "retrovue asset show maple-street-s01e01"),
    ("asset update", "retrovue asset update maple-street-s01e01 --chapters 420000,900000"),
    ("asset approve", "retrovue asset approve --series \"Maple Street\""),
    ("asset retire", "retrovue asset retire maple-street-s01e01"),
    ("program add", "retrovue program add maple-street --series \"Maple Street\""),
    ("program list", "retrovue program list"),
    ("program show", "retrovue program show maple-street"),
    ("program update", "retrovue program update maple-street --play-mode shuffle --dry-run"),
    ("program delete", "retrovue program delete maple-street --yes"),
    ("channel add", "retrovue channel add retro-one --number 2 --name \"Retro One\" --timezone America/New_York"),
    ("channel list", "retrovue channel list"),
    ("channel show", "retrovue channel show retro-one"),
    ("channel update", "retrovue channel update retro-one --offsets 0 --dry-run"),
    ("channel delete", "retrovue channel delete retro-one --yes"),
    ("channel validate", "retrovue channel validate retro-one"),
    ("plan add", "retrovue plan add --channel retro-one Weekdays --days mon,tue,wed,thu,fri"),
    ("plan list", "retrovue plan list --channel retro-one"),
    ("plan show", "retrovue plan show --channel retro-one Weekdays"),
    ("plan update", "retrovue plan update --channel retro-one Weekdays --priority 5 --dry-run"),
    ("plan delete", "retrovue plan delete --channel retro-one Weekdays --yes"),
    ("zone add", "retrovue zone add --channel retro-one --plan Weekdays Morning --start 06:00 --end 09:00 --items maple-street"),
    ("zone list", "retrovue zone list --channel retro-one"),
    ("zone show", "retrovue zone show --channel retro-one --plan Weekdays Morning"),
    ("zone update", "retrovue zone update --channel retro-one --plan Weekdays Morning --items roommates --dry-run"),
    ("zone delete", "retrovue zone delete --channel retro-one --plan Weekdays Morning --yes"),
    ("asrun show", "retrovue asrun show --channel retro-one --date 2030-01-07"),
];

/// The command line with every verb's example (what the binary parses; CLI-081).
pub fn command() -> clap::Command {
    fn with_example(cmd: clap::Command, path: &[&str], example: &str) -> clap::Command {
        match path.split_first() {
            None => cmd.after_help(format!("Example: {example}")),
            Some((first, rest)) => {
                cmd.mut_subcommand(*first, |sub| with_example(sub, rest, example))
            }
        }
    }
    let mut cmd = <Cli as clap::CommandFactory>::command();
    for (path, example) in EXAMPLES {
        let names: Vec<&str> = path.split(' ').collect();
        cmd = with_example(cmd, &names, example);
    }
    cmd
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
