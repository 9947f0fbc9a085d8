//! `retrovue schedule build|show|check`: build ScheduleDays through the core into the store, show
//! a stored day (STORE-010), and check that the stored chain tiles time (STORE-015).

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
    /// Build and store ScheduleDays, carrying a change forward so the stored chain stays whole
    /// (aired days are kept; a build that would change one is refused).
    Build(BuildArgs),
    /// Show a stored ScheduleDay.
    Show(ShowArgs),
    /// Check that each channel's stored days and playlog tile time; name every broken seam
    /// (exit 1 when one is broken).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this channel (default: every channel).
    #[arg(long)]
    pub channel: Option<String>,
}

/// One broken seam of a stored chain (STORE-015).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Seam {
    pub channel: String,
    pub date: NaiveDate,
    /// The stored day before it, when the seam is between two days.
    pub previous_date: Option<NaiveDate>,
    /// Where the seam breaks (RFC 3339 UTC).
    pub at: String,
    pub detail: String,
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
    /// Pretend the current time is this RFC 3339 instant (may only lock more days than the real
    /// clock does).
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

/// STORE-015: the broken seams of one channel's current stored days and their playlogs.
pub fn check_channel(store: &mut dyn Store, channel: &str) -> AppResult<(usize, Vec<Seam>)> {
    let days = store.all_current_days(channel)?;
    let mut seams = Vec::new();
    let mut seam = |date: NaiveDate, previous: Option<NaiveDate>, at: UtcMs, detail: String| {
        seams.push(Seam {
            channel: channel.to_string(),
            date,
            previous_date: previous,
            at: fmt_utc(at),
            detail,
        })
    };
    let mut previous: Option<&crate::store::StoredDay> = None;
    for stored in &days {
        let day = &stored.day;
        if let Some(prev) = previous.map(|p| &p.day) {
            if prev.date.succ_opt() != Some(day.date) {
                seam(
                    day.date,
                    Some(prev.date),
                    prev.covers_until,
                    format!(
                        "no day is stored between {} and {}: time from {} is not scheduled",
                        prev.date,
                        day.date,
                        fmt_utc(prev.covers_until)
                    ),
                );
            } else if day.effective_start != prev.covers_until {
                let what = if day.effective_start > prev.covers_until {
                    "a gap"
                } else {
                    "an overlap"
                };
                seam(
                    day.date,
                    Some(prev.date),
                    prev.covers_until.min(day.effective_start),
                    format!(
                        "{what}: {} covers until {} but {} starts at {}",
                        prev.date,
                        fmt_utc(prev.covers_until),
                        day.date,
                        fmt_utc(day.effective_start)
                    ),
                );
            }
        }
        let events = store.day_playlog(stored.id)?;
        if day.plan.is_none() {
            if let Some(e) = events.first() {
                seam(
                    day.date,
                    None,
                    e.start,
                    format!("the day has no plan but event {} airs", e.id),
                );
            }
        } else {
            for v in retrovue_core::invariants::check_tiling(
                &events,
                day.effective_start,
                day.covers_until,
            ) {
                seam(day.date, None, v.at, format!("playlog: {}", v.detail));
            }
        }
        previous = Some(stored);
    }
    Ok((days.len(), seams))
}

fn check(args: CheckArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channels: Vec<String> = match &args.channel {
        Some(id) => vec![require_channel(store.as_mut(), id)?.id],
        None => store
            .load_lineup()?
            .channels
            .into_iter()
            .map(|c| c.id)
            .collect(),
    };
    let mut broken = Vec::new();
    let mut day_count = 0;
    for channel in &channels {
        let (days, seams) = check_channel(store.as_mut(), channel)?;
        day_count += days;
        if !global.json {
            if seams.is_empty() {
                println!("{channel}: {days} stored days, whole");
            }
            for s in &seams {
                let previous = s
                    .previous_date
                    .map(|p| format!("{p} → "))
                    .unwrap_or_default();
                println!(
                    "{channel}: broken seam {previous}{} at {}: {}",
                    s.date, s.at, s.detail
                );
            }
        }
        broken.extend(seams);
    }
    if global.json {
        let report = serde_json::json!({
            "whole": broken.is_empty(),
            "channels": channels.len(),
            "days": day_count,
            "broken": broken,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
    }
    match broken.len() {
        0 => Ok(()),
        n => Err(AppError::runtime(format!(
            "schedule check: {n} broken seam(s) in the stored chain"
        ))),
    }
}

pub fn run(cmd: ScheduleCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ScheduleCommand::Build(args) => build(args, global),
        ScheduleCommand::Show(args) => show(args, global),
        ScheduleCommand::Check(args) => check(args, global),
    }
}
