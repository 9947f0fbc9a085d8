//! `retrovue asrun show --channel ID --date D`: what actually aired during one broadcast date,
//! as the runtime recorded it (contracts/cli.md CLI-023).

use clap::{Args, Subcommand};
use retrovue_core::time::ChannelClock;

use crate::cli::db::open_store;
use crate::cli::operator::{print_json, OutputZone};
use crate::cli::schedule::{parse_date_arg, require_channel};
use crate::cli::Global;
use crate::error::AppResult;

#[derive(Debug, Subcommand)]
pub enum AsRunCommand {
    /// Print the as-run records of one broadcast date.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// Broadcast date, YYYY-MM-DD (the channel's programming day, from its day start).
    #[arg(long)]
    pub date: String,
    /// Times in UTC (default), the channel's time zone (channel) or this machine's (local).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

fn show(args: ShowArgs, global: &Global) -> AppResult<()> {
    let date = parse_date_arg(&args.date, "--date")?;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let zone = OutputZone::parse(&args.tz, &channel)?;
    let (from, to) = ChannelClock::of(&channel).day_window(date);
    let records = store.as_run(&channel.id, from, to)?;
    if global.json {
        print_json(&records);
        return Ok(());
    }
    if records.is_empty() {
        println!(
            "nothing recorded as aired on channel {} for {date}",
            channel.id
        );
    }
    for r in &records {
        println!(
            "{} – {}  {:<9} {:<10} {:<32} {}{}",
            zone.instant(r.start),
            zone.instant(r.end),
            r.status.as_str(),
            r.kind.as_str(),
            r.asset.as_deref().unwrap_or("-"),
            r.playlog_id,
            r.reason
                .as_deref()
                .map(|x| format!("  ({x})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub fn run(cmd: AsRunCommand, global: &Global) -> AppResult<()> {
    match cmd {
        AsRunCommand::Show(args) => show(args, global),
    }
}
