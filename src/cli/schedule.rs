//! `retrovue schedule build|show|check|override|explain`: build ScheduleDays through the core into
//! the store (STORE-010, CLI-046), show a stored day, check that the stored chain tiles time
//! (STORE-015), override one slot (CLI-040..044), preview changes (CLI-045) and explain why an
//! item airs (CLI-050).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use retrovue_core::model::{Channel, UtcMs};
use retrovue_core::time::fmt_utc;

use crate::cli::db::open_store;
use crate::cli::operator::OutputZone;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::build::{self, execute, plan_chain, BuiltDay, DayChange, Edit};
use crate::store::{OverridePin, Store};

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
    /// Replace the item of one slot of an unaired stored day (history kept, the change carried
    /// forward); `override list`, `override delete ID`.
    ///
    /// Example: retrovue schedule override --channel ch1 --at 2030-01-07T19:00:00Z --item ep5
    Override(OverrideArgs),
    /// Say why the item airing at an instant airs there: plan and priority, zone, program, play
    /// mode and rotation position, seed, carry-in, override.
    ///
    /// Example: retrovue schedule explain --channel ch1 --at 2030-01-07T19:10:00Z
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OverrideArgs {
    #[command(subcommand)]
    pub command: Option<OverrideCommand>,
    /// The channel.
    #[arg(long, required = true)]
    pub channel: Option<String>,
    /// The start of the slot to replace (RFC 3339).
    #[arg(long, required = true)]
    pub at: Option<String>,
    /// The asset or virtual asset to air in the slot instead.
    #[arg(long, required = true)]
    pub item: Option<String>,
    /// Why (kept with the override).
    #[arg(long)]
    pub reason: Option<String>,
    /// Seed the days were built with (the day and later days carried forward are rebuilt).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pretend the current time is this RFC 3339 instant (may only lock more days).
    #[arg(long)]
    pub now: Option<String>,
    /// Print the guide changes it would make; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// List overrides in force (with --history: also superseded ones).
    ///
    /// Example: retrovue schedule override list --channel ch1
    List(OverrideListArgs),
    /// Remove an override: the record it superseded comes back (or the day is rebuilt when it
    /// no longer fits), carried forward.
    ///
    /// Example: retrovue schedule override delete 42
    Delete(OverrideDeleteArgs),
}

#[derive(Debug, Args)]
pub struct OverrideListArgs {
    /// Only this channel.
    #[arg(long)]
    pub channel: Option<String>,
    /// Also overrides no longer in force.
    #[arg(long)]
    pub history: bool,
}

#[derive(Debug, Args)]
pub struct OverrideDeleteArgs {
    /// The override's record id (from `schedule override list`).
    pub id: i64,
    /// Seed the days were built with.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pretend the current time is this RFC 3339 instant (may only lock more days).
    #[arg(long)]
    pub now: Option<String>,
    /// Print the guide changes it would make; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The channel.
    #[arg(long)]
    pub channel: String,
    /// An instant within the slot (RFC 3339).
    #[arg(long)]
    pub at: String,
    /// Seed the day was built with.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
    /// The channel id.
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
    /// The channel (or --all).
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub channel: Option<String>,
    /// Every active channel, one after another (progress on a terminal).
    #[arg(long)]
    pub all: bool,
    /// Print the guide changes it would make on stored days; write nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// Broadcast date, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// Times in UTC (default), the channel's time zone (channel) or this machine's (local).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

/// A `YYYY-MM-DD` argument, or a bad-input error naming the flag.
/// CLI-070: the years 1970–9999 only.
pub fn parse_date_arg(text: &str, flag: &str) -> AppResult<NaiveDate> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::bad(format!("{flag}: expected a date YYYY-MM-DD, got {text:?}")))?;
    if !retrovue_core::time::date_in_range(date) {
        return Err(AppError::bad(format!(
            "{flag}: {text:?} is outside the years 1970–9999"
        )));
    }
    Ok(date)
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

fn print_day(day: &BuiltDay) {
    println!(
        "{} {} {:<15} record {:>6}  {} items, {} events, {} faults",
        day.channel,
        day.date,
        day.outcome.as_str(),
        day.id,
        day.items,
        day.events,
        day.faults
    );
}

/// CLI-045: the guide changes of a dry run, as text or JSON.
fn print_changes(changes: &[DayChange], json: bool) {
    if json {
        let report = serde_json::json!({"dry_run": true, "changes": changes});
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
        return;
    }
    if changes.is_empty() {
        println!("dry run: no guide changes; nothing written");
        return;
    }
    print_change_lines(changes);
    println!("dry run: nothing written");
}

/// CLI-045: per channel and day, the rows removed (`-`), added (`+`) and moved (`~`).
pub fn print_change_lines(changes: &[DayChange]) {
    for c in changes {
        println!(
            "{} {}{}: {} removed, {} added, {} moved",
            c.channel,
            c.date,
            if c.stored { "" } else { " (new day)" },
            c.removed.len(),
            c.added.len(),
            c.moved.len()
        );
        for r in &c.removed {
            println!("  - {} – {}  {}  [{}]", r.start, r.end, r.title, r.asset);
        }
        for r in &c.added {
            println!("  + {} – {}  {}  [{}]", r.start, r.end, r.title, r.asset);
        }
        for m in &c.moved {
            println!("  ~ {}  [{}]  {} → {}", m.title, m.asset, m.from, m.to);
        }
    }
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
    let channels: Vec<Channel> = match &args.channel {
        Some(id) => vec![require_channel(store.as_mut(), id)?],
        None => store
            .load_lineup()?
            .channels
            .into_iter()
            .filter(|c| c.active)
            .collect(),
    };
    let catalog = store.load_catalog()?;
    let json = global.json;
    // CLI-046: progress on a terminal (stderr), plain lines otherwise.
    let progress = args.all && !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut built = Vec::new();
    let mut changes = Vec::new();
    for (index, channel) in channels.iter().enumerate() {
        if progress {
            eprint!(
                "\r[{}/{}] building {:<32}",
                index + 1,
                channels.len(),
                channel.id
            );
        }
        let plan = plan_chain(
            store.as_mut(),
            &catalog,
            channel,
            from,
            args.days,
            args.seed,
            now,
            &Edit::Build,
        )?;
        if args.dry_run {
            changes.extend(plan.changes());
            continue;
        }
        let days = execute(store.as_mut(), plan, now, |day| {
            if !json && !progress {
                print_day(day);
            }
        })?;
        built.extend(days);
    }
    if progress {
        eprintln!("\r[{0}/{0}] done{1:<40}", channels.len(), "");
        for day in &built {
            print_day(day);
        }
    }
    if args.dry_run {
        print_changes(&changes, json);
    } else if json {
        // CLI-082: the real run says it was one, as the preview does.
        let report = serde_json::json!({"dry_run": false, "days": built});
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
    }
    Ok(())
}

/// The current stored day of `channel` with a slot starting at (`exact`) or containing `at`.
fn day_at(
    store: &mut dyn Store,
    channel: &str,
    at: UtcMs,
    exact: bool,
) -> AppResult<Option<(crate::store::StoredDay, usize)>> {
    let date = chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.date_naive())
        .ok_or_else(|| AppError::bad("--at: instant out of range"))?;
    let (from, to) = (
        date.pred_opt().unwrap_or(date),
        date.succ_opt().unwrap_or(date),
    );
    for stored in store.current_days(channel, from, to)? {
        let found = stored.day.items.iter().position(|i| {
            if exact {
                i.start == at
            } else {
                i.start <= at && at < i.slot_end
            }
        });
        if let Some(index) = found {
            return Ok(Some((stored, index)));
        }
    }
    Ok(None)
}

fn override_slot(args: OverrideArgs, global: &Global) -> AppResult<()> {
    let (Some(channel), Some(at_text), Some(item)) = (args.channel, args.at, args.item) else {
        return Err(AppError::bad(
            "schedule override needs --channel, --at and --item",
        ));
    };
    let at = parse_instant_arg(Some(&at_text), "--at")?;
    let now = parse_instant_arg(args.now.as_deref(), "--now")?;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &channel)?;
    let catalog = store.load_catalog()?;
    let item_ref = if let Some(asset) = catalog.assets.get(&item) {
        if !asset.is_schedulable() {
            return Err(AppError::bad(format!(
                "--item: asset {item:?} is not schedulable (approved, with a duration)"
            )));
        }
        retrovue_core::model::ItemRef::Asset { id: item.clone() }
    } else if catalog.virtual_assets.contains_key(&item) {
        retrovue_core::model::ItemRef::Virtual { id: item.clone() }
    } else {
        return Err(AppError::bad(format!(
            "--item: unknown asset or virtual asset {item:?}"
        )));
    };
    let Some((stored, _)) = day_at(store.as_mut(), &channel.id, at, true)? else {
        return Err(AppError::bad(format!(
            "--at: no stored slot of channel {} starts at {}; see `retrovue schedule show`",
            channel.id,
            fmt_utc(at)
        )));
    };
    let date = stored.day.date;
    let pin = OverridePin {
        at,
        item: item_ref,
        reason: args.reason.clone(),
        made_at_ms: crate::store::now_ms(),
    };
    let plan = plan_chain(
        store.as_mut(),
        &catalog,
        &channel,
        date,
        1,
        args.seed,
        now,
        &Edit::Override { date, pin },
    )?;
    finish_edit(store.as_mut(), plan, now, args.dry_run, global)
}

/// Print a dry run's changes, or store the plan and print each day.
fn finish_edit(
    store: &mut dyn Store,
    plan: build::Plan,
    now: UtcMs,
    dry_run: bool,
    global: &Global,
) -> AppResult<()> {
    if dry_run {
        print_changes(&plan.changes(), global.json);
        return Ok(());
    }
    let json = global.json;
    let days = execute(store, plan, now, |day| {
        if !json {
            print_day(day);
        }
    })?;
    if json {
        // CLI-082: the real run says it was one, as the preview does.
        let report = serde_json::json!({"dry_run": false, "days": days});
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
    }
    Ok(())
}

fn override_list(args: OverrideListArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    if let Some(channel) = &args.channel {
        require_channel(store.as_mut(), channel)?;
    }
    let records = store.overrides(args.channel.as_deref(), args.history)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&records).expect("plain data")
        );
        return Ok(());
    }
    if records.is_empty() {
        println!("no overrides");
    }
    for r in &records {
        println!(
            "override {}  {} {}{}{}",
            r.id,
            r.channel,
            r.date,
            r.supersedes
                .map(|s| format!("  supersedes {s}"))
                .unwrap_or_default(),
            if r.current {
                ""
            } else {
                "  (no longer in force)"
            }
        );
        for p in &r.pins {
            println!(
                "  {}  {}{}",
                fmt_utc(p.at),
                p.item.reference(),
                p.reason
                    .as_deref()
                    .map(|r| format!("  — {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn override_delete(args: OverrideDeleteArgs, global: &Global) -> AppResult<()> {
    let now = parse_instant_arg(args.now.as_deref(), "--now")?;
    let mut store = open_store(global)?;
    let record = store
        .day_record(args.id)?
        .ok_or_else(|| AppError::bad(format!("no override record {}", args.id)))?;
    if record.pins.is_empty() {
        return Err(AppError::bad(format!(
            "record {} is not an override (see `retrovue schedule override list`)",
            args.id
        )));
    }
    if !record.stored.current {
        return Err(AppError::bad(format!(
            "override {} is no longer in force (a later override superseded it); delete that one \
             first",
            args.id
        )));
    }
    let channel = require_channel(store.as_mut(), &record.stored.day.channel)?;
    let catalog = store.load_catalog()?;
    let date = record.stored.day.date;
    let plan = plan_chain(
        store.as_mut(),
        &catalog,
        &channel,
        date,
        1,
        args.seed,
        now,
        &Edit::Remove {
            date,
            record: args.id,
        },
    )?;
    finish_edit(store.as_mut(), plan, now, args.dry_run, global)
}

fn explain(args: ExplainArgs, global: &Global) -> AppResult<()> {
    let at = parse_instant_arg(Some(&args.at), "--at")?;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let Some((stored, index)) = day_at(store.as_mut(), &channel.id, at, false)? else {
        return Err(AppError::bad(format!(
            "--at: no stored item of channel {} airs at {}",
            channel.id,
            fmt_utc(at)
        )));
    };
    let item = &stored.day.items[index];
    let date = stored.day.date;
    let catalog = store.load_catalog()?;
    let chain = store.read_chain(&channel.id, date)?;
    let link = chain.days.first().filter(|l| l.stored.id == stored.id);
    let pins: Vec<_> = link
        .map(|l| l.pins.iter().map(OverridePin::core).collect())
        .unwrap_or_default();
    let predecessor = chain
        .predecessor
        .as_ref()
        .map(|p| (p.stored.day.date, p.after.clone()));
    let before = build::input(predecessor.as_ref(), date);
    let day_chain = retrovue_core::chain::DayChain::new(&catalog, &channel, args.seed);
    let (_, trace) = day_chain.explain_day(date, &before, &pins);
    let why = trace.into_iter().find(|p| p.item.start == item.start);
    let matches = why
        .as_ref()
        .is_some_and(|p| p.item.asset == item.asset && p.item.slot_end == item.slot_end);
    let pin = link.and_then(|l| l.pins.iter().find(|p| p.at == item.start).cloned());
    if global.json {
        let report = serde_json::json!({
            "channel": channel.id,
            "date": date,
            "record": stored.id,
            "item": item,
            "recomputed_matches": matches,
            "why": why,
            "override": pin,
            "predecessor": chain.predecessor.as_ref().map(|p| p.stored.day.date),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
        return Ok(());
    }
    println!(
        "{} {} record {}: {} – {}  {}{}  [{}]",
        channel.id,
        date,
        stored.id,
        fmt_utc(item.start),
        fmt_utc(item.slot_end),
        item.title,
        item.episode_title
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default(),
        item.asset
    );
    let Some(why) = why else {
        println!(
            "  the day rebuilt from the stored chain state (seed {}) has no slot at {}: the \
             stored day was built from another seed or lineup",
            args.seed,
            fmt_utc(item.start)
        );
        return Ok(());
    };
    let passed = if why.plans_passed_over.is_empty() {
        String::new()
    } else {
        format!(
            "; also applying, lower priority: {}",
            why.plans_passed_over.join(", ")
        )
    };
    println!(
        "  plan: {} (priority {}){passed}",
        why.plan, why.plan_priority
    );
    println!(
        "  zone: {} ({} – {}), entry {}: {}",
        why.zone,
        fmt_utc(why.zone_start),
        fmt_utc(why.zone_end),
        why.entry_index,
        why.entry.reference()
    );
    if let Some(pin) = &pin {
        println!(
            "  override: the operator put {} here{}",
            pin.item.reference(),
            pin.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    if let (Some(program), Some(mode)) = (&why.program, why.play_mode) {
        println!(
            "  program: {program}, play mode {}, rotation position {} → candidate {} of {}",
            mode.as_str(),
            why.rotation_position.unwrap_or(0),
            why.candidate_index
                .map(|i| (i + 1).to_string())
                .unwrap_or_else(|| "?".to_string()),
            why.candidates.unwrap_or(0)
        );
    }
    println!("  seed: {}", why.seed);
    if why.carry_in {
        println!(
            "  carry-in: the day starts at {} (window {}), after the previous day's last slot",
            fmt_utc(why.effective_start),
            fmt_utc(why.window_start)
        );
    } else {
        println!(
            "  carry-in: none (the day starts at its window, {})",
            fmt_utc(why.window_start)
        );
    }
    if !matches {
        println!(
            "  note: rebuilt from the stored chain state with seed {}, this slot holds {} — the \
             stored day was built with another seed or lineup",
            args.seed, why.item.asset
        );
    }
    Ok(())
}

fn show(args: ShowArgs, global: &Global) -> AppResult<()> {
    let date = parse_date_arg(&args.date, "--date")?;
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    let zone = OutputZone::parse(&args.tz, &channel)?;
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
        zone.instant(day.window_start),
        zone.instant(day.window_end),
        zone.instant(day.covers_until)
    );
    for item in &day.items {
        let episode = item
            .episode_title
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        println!(
            "  {} – {}  {}{}  [{}]",
            zone.instant(item.start),
            zone.instant(item.slot_end),
            item.title,
            episode,
            item.asset
        );
    }
    for fault in &day.faults {
        println!(
            "  fault {} at {}: {}",
            fault.code,
            zone.instant(fault.at),
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
        ScheduleCommand::Override(args) => match args.command {
            Some(OverrideCommand::List(list)) => override_list(list, global),
            Some(OverrideCommand::Delete(delete)) => override_delete(delete, global),
            None => override_slot(args, global),
        },
        ScheduleCommand::Explain(args) => explain(args, global),
    }
}
