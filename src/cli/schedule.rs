//! `retrovue schedule build|show`: build ScheduleDays through the core into the store, and show
//! a stored day (STORE-010).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use retrovue_core::model::{Channel, UtcMs};
use retrovue_core::time::fmt_utc;

use crate::cli::db::open_store;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::build::build_and_store;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Build and store ScheduleDays (one transaction per day; locked days are kept).
    Build(BuildArgs),
    /// Show a stored ScheduleDay.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(long)]
    pub channel: String,
    /// First broadcast date, YYYY-MM-DD.
    #[arg(long)]
    pub from: String,
    /// How many days (1..=366).
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Seed of shuffle/random choices and traffic.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pretend the current time is this RFC 3339 instant (decides which days are locked).
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long)]
    pub channel: String,
    /// Broadcast date, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
}

/// A `YYYY-MM-DD` argument, or a bad-input error naming the flag.
pub fn parse_date_arg(text: &str, flag: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::bad(format!("{flag}: expected a date YYYY-MM-DD, got {text:?}")))
}

/// An RFC 3339 argument, or the shell's clock when absent.
pub fn parse_instant_arg(text: Option<&str>, flag: &str) -> AppResult<UtcMs> {
    match text {
        Some(t) => retrovue_core::time::parse_utc(t).ok_or_else(|| {
            AppError::bad(format!(
                "{flag}: expected an RFC 3339 instant like 2025-01-06T18:00:00Z, got {t:?}"
            ))
        }),
        None => Ok(crate::store::now_ms()),
    }
}

/// The stored channel, or a bad-input error.
pub fn require_channel(store: &mut dyn Store, id: &str) -> AppResult<Channel> {
    store
        .load_channel(id)?
        .ok_or_else(|| AppError::bad(format!("--channel: unknown channel {id:?}")))
}

fn build(args: BuildArgs, global: &Global) -> AppResult<()> {
    let from = parse_date_arg(&args.from, "--from")?;
    if !(1..=366).contains(&args.days) {
        return Err(AppError::bad(format!(
            "--days: expected 1..=366, got {}",
            args.days
        )));
    }
    let now = parse_instant_arg(args.now.as_deref(), "--now")?;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let catalog = store.load_catalog()?;
    let json = global.json;
    let built = build_and_store(
        store.as_mut(),
        &catalog,
        &channel,
        from,
        args.days,
        args.seed,
        now,
        |day| {
            if !json {
                println!(
                    "{} {} {:<14} record {:>6}  {} items, {} events, {} faults",
                    day.channel,
                    day.date,
                    day.outcome.as_str(),
                    day.id,
                    day.items,
                    day.events,
                    day.faults
                );
            }
        },
    )?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&built).expect("plain data")
        );
    }
    Ok(())
}

fn show(args: ShowArgs, global: &Global) -> AppResult<()> {
    let date = parse_date_arg(&args.date, "--date")?;
    let mut store = open_store(global)?;
    require_channel(store.as_mut(), &args.channel)?;
    let stored = store.current_day(&args.channel, date)?.ok_or_else(|| {
        AppError::bad(format!(
            "no ScheduleDay stored for channel {} on {date}; run `retrovue schedule build`",
            args.channel
        ))
    })?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&stored).expect("plain data")
        );
        return Ok(());
    }
    let day = &stored.day;
    println!(
        "{} {}  plan {}  record {}{}  window {} – {}  covers until {}",
        day.channel,
        day.date,
        day.plan.as_deref().unwrap_or("(none)"),
        stored.id,
        stored
            .supersedes
            .map(|s| format!(" (supersedes {s})"))
            .unwrap_or_default(),
        fmt_utc(day.window_start),
        fmt_utc(day.window_end),
        fmt_utc(day.covers_until)
    );
    for item in &day.items {
        let episode = item
            .episode_title
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        println!(
            "  {} – {}  {}{}  [{}]",
            fmt_utc(item.start),
            fmt_utc(item.slot_end),
            item.title,
            episode,
            item.asset
        );
    }
    for fault in &day.faults {
        println!(
            "  fault {} at {}: {}",
            fault.code,
            fmt_utc(fault.at),
            fault.detail
        );
    }
    Ok(())
}

pub fn run(cmd: ScheduleCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ScheduleCommand::Build(args) => build(args, global),
        ScheduleCommand::Show(args) => show(args, global),
    }
}
