//! `retrovue playlog show`: stored playlog events of a time window (STORE-010).

use clap::{Args, Subcommand};
use retrovue_core::model::MS_PER_MINUTE;

use crate::cli::db::open_store;
use crate::cli::operator::OutputZone;
use crate::cli::schedule::{parse_instant_arg, require_channel};
use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum PlaylogCommand {
    /// Print stored playlog events overlapping a window.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// Window start, RFC 3339 (default: now).
    #[arg(long)]
    pub from: Option<String>,
    /// Window length in hours (1..=168).
    #[arg(long, default_value_t = 3)]
    pub hours: u32,
    /// Times in UTC (default), the channel's time zone (channel) or this machine's (local).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

fn show(args: ShowArgs, global: &Global) -> AppResult<()> {
    if !(1..=168).contains(&args.hours) {
        return Err(AppError::bad(format!(
            "--hours: expected 1..=168, got {}",
            args.hours
        )));
    }
    let from = parse_instant_arg(args.from.as_deref(), "--from")?;
    let to = from + args.hours as i64 * 60 * MS_PER_MINUTE;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let zone = OutputZone::parse(&args.tz, &channel)?;
    let events = store.playlog(&args.channel, from, to)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&events).expect("plain data")
        );
        return Ok(());
    }
    for e in &events {
        println!(
            "{} – {}  {:<10} {:<32} in {:>8} ms  {}",
            zone.instant(e.start),
            zone.instant(e.end),
            e.kind.as_str(),
            e.asset.as_deref().unwrap_or("-"),
            e.in_point_ms,
            e.id
        );
    }
    Ok(())
}

pub fn run(cmd: PlaylogCommand, global: &Global) -> AppResult<()> {
    match cmd {
        PlaylogCommand::Show(args) => show(args, global),
    }
}
