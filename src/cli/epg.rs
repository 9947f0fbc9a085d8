//! `retrovue epg show|export`: the guide derived from stored ScheduleDays (STORE-010, CLI-022).

use clap::{Args, Subcommand};
use retrovue_core::time::ChannelClock;

use crate::cli::db::open_store;
use crate::cli::operator::OutputZone;
use crate::cli::schedule::{parse_date_arg, require_channel};
use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum EpgCommand {
    /// Print guide rows of stored days.
    Show(ShowArgs),
    /// Write the guide of stored days as a file format (xmltv) to stdout or --out.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only xmltv today.
    #[arg(long, default_value = "xmltv")]
    pub format: String,
    /// Channels to export (repeatable; default: every active channel).
    #[arg(long)]
    pub channel: Vec<String>,
    /// First broadcast date, YYYY-MM-DD (default: each channel's current broadcast date).
    #[arg(long)]
    pub from: Option<String>,
    /// How many days (1..=366).
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', alias = "output")]
    pub out: Option<std::path::PathBuf>,
}

/// CLI-022: the XMLTV guide of stored days for the chosen channels.
fn export(args: ExportArgs, global: &Global) -> AppResult<()> {
    if args.format != "xmltv" {
        return Err(AppError::bad(format!(
            "--format: unknown format {:?} (allowed: xmltv)",
            args.format
        )));
    }
    if !(1..=366).contains(&args.days) {
        return Err(AppError::bad(format!(
            "--days: expected 1..=366, got {}",
            args.days
        )));
    }
    let from_arg = match &args.from {
        Some(text) => Some(parse_date_arg(text, "--from")?),
        None => None,
    };
    let mut store = open_store(global)?;
    let channels = if args.channel.is_empty() {
        store
            .load_lineup()?
            .channels
            .into_iter()
            .filter(|c| c.active)
            .collect()
    } else {
        let mut list = Vec::new();
        for id in &args.channel {
            list.push(require_channel(store.as_mut(), id)?);
        }
        list
    };
    let mut rows = Vec::new();
    for channel in &channels {
        let from = from_arg
            .unwrap_or_else(|| ChannelClock::of(channel).broadcast_date(crate::store::now_ms()));
        let to = from + chrono::Days::new(args.days as u64 - 1);
        let days: Vec<_> = store
            .current_days(&channel.id, from, to)?
            .into_iter()
            .map(|s| s.day)
            .collect();
        rows.extend(retrovue_core::epg::epg_rows(channel, &days));
    }
    let document = crate::xmltv::render(&channels, &rows);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &document)
                .map_err(|e| AppError::runtime(format!("cannot write {}: {e}", path.display())))?;
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({ "file": path, "output": path, "channels": channels.len(), "rows": rows.len() })
                );
            } else {
                println!(
                    "wrote {} guide rows of {} channels to {}",
                    rows.len(),
                    channels.len(),
                    path.display()
                );
            }
        }
        // --json keeps stdout JSON: the document goes inside it.
        None if global.json => println!(
            "{}",
            serde_json::json!({ "format": "xmltv", "channels": channels.len(), "rows": rows.len(), "document": document })
        ),
        None => print!("{document}"),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// First broadcast date, YYYY-MM-DD (default: the channel's current broadcast date).
    #[arg(long)]
    pub from: Option<String>,
    /// How many days (1..=366).
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Times in the channel's time zone (channel), this machine's (local) or UTC.
    #[arg(long, default_value = "channel")]
    pub tz: String,
}

fn show(args: ShowArgs, global: &Global) -> AppResult<()> {
    if !(1..=366).contains(&args.days) {
        return Err(AppError::bad(format!(
            "--days: expected 1..=366, got {}",
            args.days
        )));
    }
    let from_arg = match &args.from {
        Some(text) => Some(parse_date_arg(text, "--from")?),
        None => None,
    };
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let zone = OutputZone::parse(&args.tz, &channel)?;
    let from = from_arg
        .unwrap_or_else(|| ChannelClock::of(&channel).broadcast_date(crate::store::now_ms()));
    let to = from + chrono::Days::new(args.days as u64 - 1);
    let days: Vec<_> = store
        .current_days(&channel.id, from, to)?
        .into_iter()
        .map(|s| s.day)
        .collect();
    if days.is_empty() {
        return Err(AppError::bad(format!(
            "no ScheduleDays stored for channel {} from {from} to {to}; run `retrovue schedule build`",
            channel.id
        )));
    }
    let rows = retrovue_core::epg::epg_rows(&channel, &days);
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("plain data")
        );
        return Ok(());
    }
    for row in &rows {
        let episode = row
            .episode_title
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        println!(
            "{}  {}{}",
            zone.span(row.start, row.end),
            row.title,
            episode
        );
    }
    Ok(())
}

pub fn run(cmd: EpgCommand, global: &Global) -> AppResult<()> {
    match cmd {
        EpgCommand::Show(args) => show(args, global),
        EpgCommand::Export(args) => export(args, global),
    }
}
