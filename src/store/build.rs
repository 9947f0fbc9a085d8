//! Building ScheduleDays through the core's `DayChain` and storing them so the stored chain stays
//! whole (STORE-005, STORE-007, STORE-011..014). Used by `retrovue schedule build`, the daemon and
//! the benchmark.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use retrovue_core::chain::{ChainState, DayChain};
use retrovue_core::model::{Catalog, Channel, ScheduleDay, ScheduledItem, UtcMs};
use retrovue_core::time::fmt_utc;
use serde::Serialize;

use crate::store::{
    lock_instant, ChainEntry, ChainLink, ChainWrite, DayWrite, EntryHistory, OverridePin, Store,
    StoreError, StoreErrorKind, StoreResult,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOutcome {
    /// No day was stored; now one is.
    Built,
    /// An unlocked stored day was replaced.
    Rebuilt,
    /// The stored day is locked and was kept as it is.
    KeptLocked,
    /// A later stored day rebuilt because the change before it changed its input state
    /// (STORE-012).
    CarriedForward,
    /// An override's new record superseding the day's record (STORE-030).
    Overridden,
    /// An override removed: the record it superseded is current again (STORE-030).
    Restored,
}

impl DayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DayOutcome::Built => "built",
            DayOutcome::Rebuilt => "rebuilt",
            DayOutcome::KeptLocked => "kept (locked)",
            DayOutcome::CarriedForward => "carried forward",
            DayOutcome::Overridden => "overridden",
            DayOutcome::Restored => "restored",
        }
    }
}

/// What happened to one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltDay {
    pub channel: String,
    pub date: NaiveDate,
    pub outcome: DayOutcome,
    /// The stored record's id.
    pub id: i64,
    pub items: usize,
    pub events: usize,
    pub faults: usize,
}

/// The state a day at `date` is built from, given the day before it in the chain (STORE-007:
/// the carry-in only comes from the day right before).
pub fn input(previous: Option<&(NaiveDate, ChainState)>, date: NaiveDate) -> ChainState {
    match previous {
        None => ChainState::default(),
        Some((day, after)) => {
            let mut state = after.clone();
            if day.succ_opt() != Some(date) {
                state.previous_slot_end = None;
            }
            state
        }
    }
}

/// One planned step of a build.
enum Step {
    Write {
        write: Box<DayWrite>,
        /// The stored record it replaces (and that record's day, for a dry run).
        replaced: Option<Box<ChainLink>>,
        outcome: DayOutcome,
        history: EntryHistory,
    },
    /// STORE-030: the current record goes and `restored` (which it superseded) is current again.
    Restore {
        replaced: Box<ChainLink>,
        restored: Box<ChainLink>,
    },
    Keep(Box<ChainLink>),
}

impl Step {
    fn date(&self) -> NaiveDate {
        match self {
            Step::Write { write, .. } => write.day.date,
            Step::Restore { replaced, .. } => replaced.stored.day.date,
            Step::Keep(link) => link.stored.day.date,
        }
    }

    fn expected(&self) -> Option<i64> {
        match self {
            Step::Write { replaced, .. } => replaced.as_ref().map(|l| l.stored.id),
            Step::Restore { replaced, .. } => Some(replaced.stored.id),
            Step::Keep(link) => Some(link.stored.id),
        }
    }

    fn replaces(&self) -> bool {
        match self {
            Step::Write { replaced, .. } => replaced.is_some(),
            Step::Restore { .. } => true,
            Step::Keep(_) => false,
        }
    }
}

/// What a chain change does besides rebuilding (STORE-030).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// A plain build: every rebuilt day re-applies its stored overrides.
    Build,
    /// Override the slot `pin.at` of `date` (an unaired stored day) with `pin.item`.
    Override { date: NaiveDate, pin: OverridePin },
    /// Remove override record `record` (current, of `date`): the record it superseded comes
    /// back when it still fits, else the day is rebuilt with that record's overrides.
    Remove { date: NaiveDate, record: i64 },
}

/// Everything a chain change will do, decided before the first write.
pub struct Plan {
    channel: String,
    predecessor_id: Option<i64>,
    by_date: BTreeMap<NaiveDate, i64>,
    steps: Vec<Step>,
}

/// The guide changes of one day (CLI-045): rows removed, added and moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayChange {
    pub channel: String,
    pub date: NaiveDate,
    /// False when no day is stored yet (every row is added).
    pub stored: bool,
    pub removed: Vec<GuideRow>,
    pub added: Vec<GuideRow>,
    pub moved: Vec<MovedRow>,
}

/// One guide row (a scheduled item's slot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuideRow {
    pub start: String,
    pub end: String,
    pub title: String,
    pub episode_title: Option<String>,
    pub asset: String,
}

/// A row that airs at another time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedRow {
    pub title: String,
    pub asset: String,
    pub from: String,
    pub to: String,
}

fn guide_row(item: &ScheduledItem) -> GuideRow {
    GuideRow {
        start: fmt_utc(item.start),
        end: fmt_utc(item.slot_end),
        title: item.title.clone(),
        episode_title: item.episode_title.clone(),
        asset: item.asset.clone(),
    }
}

/// CLI-045: how `new` differs from `old` as guide rows. Rows equal in start, end and asset are
/// unchanged; an asset left over on both sides is moved (paired in time order); the rest are
/// removed or added.
pub fn diff_days(channel: &str, old: Option<&ScheduleDay>, new: &ScheduleDay) -> DayChange {
    let key = |i: &ScheduledItem| (i.start, i.slot_end, i.asset.clone());
    let old_items: Vec<&ScheduledItem> = old.map(|d| d.items.iter().collect()).unwrap_or_default();
    let mut old_left: Vec<&ScheduledItem> = old_items
        .iter()
        .copied()
        .filter(|o| !new.items.iter().any(|n| key(n) == key(o)))
        .collect();
    let mut new_left: Vec<&ScheduledItem> = new
        .items
        .iter()
        .filter(|n| !old_items.iter().any(|o| key(o) == key(n)))
        .collect();
    let mut moved = Vec::new();
    let mut index = 0;
    while index < old_left.len() {
        let o = old_left[index];
        if let Some(pos) = new_left.iter().position(|n| n.asset == o.asset) {
            let n = new_left.remove(pos);
            moved.push(MovedRow {
                title: o.title.clone(),
                asset: o.asset.clone(),
                from: fmt_utc(o.start),
                to: fmt_utc(n.start),
            });
            old_left.remove(index);
        } else {
            index += 1;
        }
    }
    DayChange {
        channel: channel.to_string(),
        date: new.date,
        stored: old.is_some(),
        removed: old_left.into_iter().map(guide_row).collect(),
        added: new_left.into_iter().map(guide_row).collect(),
        moved,
    }
}

impl Plan {
    /// CLI-045: the guide changes the plan makes, per day it writes (days it keeps or whose
    /// guide rows stay the same are left out).
    pub fn changes(&self) -> Vec<DayChange> {
        let mut out = Vec::new();
        for step in &self.steps {
            let change = match step {
                Step::Write {
                    write, replaced, ..
                } => diff_days(
                    &self.channel,
                    replaced.as_ref().map(|l| &l.stored.day),
                    &write.day,
                ),
                Step::Restore { replaced, restored } => diff_days(
                    &self.channel,
                    Some(&replaced.stored.day),
                    &restored.stored.day,
                ),
                Step::Keep(_) => continue,
            };
            if !(change.removed.is_empty() && change.added.is_empty() && change.moved.is_empty()) {
                out.push(change);
            }
        }
        out
    }
}

/// Build and store `days` days of `channel` from `from` with `seed`, keeping the stored chain
/// whole (STORE-012): each day starts from the state after the day before it; a rebuilt day's
/// change is carried forward through later stored days whose input state it changes, up to the
/// first whose input is unchanged. Aired days (window begun by `max(now, real clock)`, or with
/// as-run records) are kept when their input is unchanged, and refuse the whole build (nothing
/// stored, a `Locked` error naming the days) when they would have to change (STORE-014).
/// Everything is decided before the first write; the writes go in transactions that each end
/// where the chain is whole, each verifying what it was built from (STORE-013). `on_day` is
/// called for each day after its transaction committed.
#[allow(clippy::too_many_arguments)]
pub fn build_and_store(
    store: &mut dyn Store,
    catalog: &Catalog,
    channel: &Channel,
    from: NaiveDate,
    days: u32,
    seed: u64,
    now: UtcMs,
    on_day: impl FnMut(&BuiltDay),
) -> StoreResult<Vec<BuiltDay>> {
    let plan = plan_chain(store, catalog, channel, from, days, seed, now, &Edit::Build)?;
    execute(store, plan, now, on_day)
}

/// Decide a chain change (STORE-012, STORE-030) without writing anything: `days` days from
/// `from` are (re)built, or the day of an override edit (then `from` must be its date and
/// `days` 1), and the change is carried forward through later stored days whose input changes.
#[allow(clippy::too_many_arguments)]
pub fn plan_chain(
    store: &mut dyn Store,
    catalog: &Catalog,
    channel: &Channel,
    from: NaiveDate,
    days: u32,
    seed: u64,
    now: UtcMs,
    edit: &Edit,
) -> StoreResult<Plan> {
    let lock_at = lock_instant(now);
    let last = from + chrono::Days::new(days.saturating_sub(1) as u64);
    let stored = store.read_chain(&channel.id, from)?;
    let chain = DayChain::new(catalog, channel, seed);
    let by_date: BTreeMap<NaiveDate, &ChainLink> =
        stored.days.iter().map(|l| (l.stored.day.date, l)).collect();
    let predecessor = stored
        .predecessor
        .as_ref()
        .map(|p| (p.stored.day.date, p.after.clone()));
    let edit_date = match edit {
        Edit::Build => None,
        Edit::Override { date, .. } | Edit::Remove { date, .. } => Some(*date),
    };

    // Every date of the range, then the later stored days while the change carries forward.
    let mut dates: Vec<NaiveDate> = Vec::new();
    let mut date = from;
    for _ in 0..days {
        dates.push(date);
        date = date.succ_opt().expect("date in range");
    }
    let later: Vec<NaiveDate> = by_date.range(date..).map(|(d, _)| *d).collect();

    let mut steps: Vec<Step> = Vec::new();
    // The new chain's previous day, and the stored chain's (what each stored day was built from).
    let mut new_previous = predecessor.clone();
    let mut stored_previous = predecessor;
    for date in dates.iter().copied().chain(later) {
        let before = input(new_previous.as_ref(), date);
        let link = by_date.get(&date).copied();
        let stored_before = input(stored_previous.as_ref(), date);
        if let Some(link) = link {
            stored_previous = Some((date, link.after.clone()));
        }
        let in_range = date <= last;
        if Some(date) == edit_date {
            let Some(link) = link else {
                return Err(StoreError::bad(format!(
                    "no ScheduleDay is stored for channel {} on {date}; build it first",
                    channel.id
                )));
            };
            if link.is_aired(lock_at) {
                return Err(edit_refusal(channel, date, link, lock_at));
            }
        }
        match link {
            Some(_) if !in_range && stored_before == before => break,
            Some(link) if link.is_aired(lock_at) => {
                if stored_before != before {
                    return Err(refusal(channel, from, date, link, lock_at));
                }
                new_previous = Some((date, link.after.clone()));
                steps.push(Step::Keep(Box::new(link.clone())));
                continue;
            }
            _ => {}
        }
        // What the day is built with: its stored overrides, changed by the edit.
        let (pins, history, outcome) = match (edit, link) {
            (Edit::Override { pin, .. }, Some(link)) if Some(date) == edit_date => {
                let mut pins: Vec<OverridePin> = link
                    .pins
                    .iter()
                    .filter(|p| p.at != pin.at)
                    .cloned()
                    .collect();
                pins.push(pin.clone());
                pins.sort_by_key(|p| p.at);
                (
                    pins.clone(),
                    EntryHistory::Supersede { pins },
                    DayOutcome::Overridden,
                )
            }
            (Edit::Remove { record, .. }, Some(link)) if Some(date) == edit_date => {
                if link.stored.id != *record || link.pins.is_empty() {
                    return Err(StoreError::bad(format!(
                        "record {record} is not the override in force on channel {} {date} \
                         (the current record is {}{})",
                        channel.id,
                        link.stored.id,
                        if link.pins.is_empty() {
                            ", not an override"
                        } else {
                            ""
                        }
                    )));
                }
                let restored = match link.stored.supersedes {
                    Some(old) => store.day_record(old)?,
                    None => None,
                };
                let pins = restored
                    .as_ref()
                    .map(|r| r.pins.clone())
                    .unwrap_or_default();
                let built = DayWrite::from_chain(chain.build_day_pinned(
                    date,
                    &before,
                    &pins.iter().map(OverridePin::core).collect::<Vec<_>>(),
                ));
                if let Some(restored) = restored {
                    if restored.stored.day == built.day && restored.after == built.after() {
                        new_previous = Some((date, restored.after.clone()));
                        steps.push(Step::Restore {
                            replaced: Box::new(link.clone()),
                            restored: Box::new(restored),
                        });
                        continue;
                    }
                    let history = match (restored.stored.supersedes, pins.is_empty()) {
                        (Some(s), false) => EntryHistory::ReplaceKeeping {
                            supersedes: s,
                            pins: pins.clone(),
                        },
                        _ => EntryHistory::Replace,
                    };
                    new_previous = Some((date, built.after()));
                    steps.push(Step::Write {
                        write: Box::new(built),
                        replaced: Some(Box::new(link.clone())),
                        outcome: DayOutcome::Rebuilt,
                        history,
                    });
                    continue;
                }
                (pins, EntryHistory::Replace, DayOutcome::Rebuilt)
            }
            (_, link) => {
                let pins = link.map(|l| l.pins.clone()).unwrap_or_default();
                let history = match link.and_then(|l| l.stored.supersedes) {
                    Some(s) if !pins.is_empty() => EntryHistory::ReplaceKeeping {
                        supersedes: s,
                        pins: pins.clone(),
                    },
                    _ => EntryHistory::Replace,
                };
                let outcome = match (link, in_range) {
                    (None, _) => DayOutcome::Built,
                    (Some(_), true) => DayOutcome::Rebuilt,
                    (Some(_), false) => DayOutcome::CarriedForward,
                };
                (pins, history, outcome)
            }
        };
        let built = DayWrite::from_chain(chain.build_day_pinned(
            date,
            &before,
            &pins.iter().map(OverridePin::core).collect::<Vec<_>>(),
        ));
        if outcome == DayOutcome::Overridden {
            if let Some(fault) = built
                .day
                .faults
                .iter()
                .find(|f| f.code == "override_unplaced")
            {
                return Err(StoreError::bad(format!(
                    "override of channel {} {date} at {}: {}; nothing stored",
                    channel.id,
                    fmt_utc(fault.at),
                    fault.detail
                )));
            }
        }
        new_previous = Some((date, built.after()));
        steps.push(Step::Write {
            write: Box::new(built),
            replaced: link.map(|l| Box::new(l.clone())),
            outcome,
            history,
        });
    }
    Ok(Plan {
        channel: channel.id.clone(),
        predecessor_id: stored.predecessor.as_ref().map(|p| p.stored.id),
        by_date: by_date.iter().map(|(d, l)| (*d, l.stored.id)).collect(),
        steps,
    })
}

/// Store a planned chain change (STORE-012/013): transactions that each end where the chain is
/// whole; `on_day` after each committed.
pub fn execute(
    store: &mut dyn Store,
    plan: Plan,
    now: UtcMs,
    mut on_day: impl FnMut(&BuiltDay),
) -> StoreResult<Vec<BuiltDay>> {
    let Plan {
        channel,
        predecessor_id,
        by_date,
        steps,
    } = plan;
    // Which stored days the plan replaces.
    let replaced: Vec<NaiveDate> = steps
        .iter()
        .filter(|s| s.replaces())
        .map(Step::date)
        .collect();
    // A transaction may end after a step when the stored chain after it is untouched and
    // continues at the very next date (or not at all): the chain is whole at that point.
    let whole_after =
        |date: NaiveDate| match by_date.range(date.succ_opt().unwrap_or(date)..).next() {
            None => true,
            Some((next, _)) => Some(*next) == date.succ_opt() && !replaced.contains(next),
        };

    let mut predecessor_id = predecessor_id;
    let mut out = Vec::with_capacity(steps.len());
    let mut segment: Vec<Step> = Vec::new();
    let count = steps.len();
    for (index, step) in steps.into_iter().enumerate() {
        let date = step.date();
        segment.push(step);
        if index + 1 < count && !whole_after(date) {
            continue;
        }
        let next = by_date
            .range(date.succ_opt().unwrap_or(date)..)
            .next()
            .map(|(_, id)| *id);
        let done = std::mem::take(&mut segment);
        let write = ChainWrite {
            channel: channel.clone(),
            predecessor: predecessor_id,
            entries: done
                .iter()
                .map(|s| ChainEntry {
                    date: s.date(),
                    expected: s.expected(),
                    write: match s {
                        Step::Write { write, .. } => Some(write.as_ref().clone()),
                        Step::Restore { .. } | Step::Keep(_) => None,
                    },
                })
                .collect(),
            next,
        };
        let history: Vec<EntryHistory> = done
            .iter()
            .map(|s| match s {
                Step::Write { history, .. } => history.clone(),
                Step::Restore { restored, .. } => EntryHistory::Restore(restored.stored.id),
                Step::Keep(_) => EntryHistory::Replace,
            })
            .collect();
        let mut ids = store.put_chain_history(&write, &history, now)?.into_iter();
        for step in &done {
            let built = match step {
                Step::Write { write, outcome, .. } => BuiltDay {
                    channel: channel.clone(),
                    date: write.day.date,
                    outcome: *outcome,
                    id: ids.next().expect("one id per written day"),
                    items: write.day.items.len(),
                    events: write.playlog.len(),
                    faults: write.day.faults.len(),
                },
                Step::Restore { restored, .. } => BuiltDay {
                    channel: channel.clone(),
                    date: restored.stored.day.date,
                    outcome: DayOutcome::Restored,
                    id: ids.next().expect("one id per restored day"),
                    items: restored.stored.day.items.len(),
                    events: 0,
                    faults: restored.stored.day.faults.len(),
                },
                Step::Keep(link) => BuiltDay {
                    channel: channel.clone(),
                    date: link.stored.day.date,
                    outcome: DayOutcome::KeptLocked,
                    id: link.stored.id,
                    items: link.stored.day.items.len(),
                    events: 0,
                    faults: link.stored.day.faults.len(),
                },
            };
            predecessor_id = Some(built.id);
            on_day(&built);
            out.push(built);
        }
    }
    Ok(out)
}

/// STORE-030: an override (or its removal) on an aired day is refused.
fn edit_refusal(
    channel: &Channel,
    date: NaiveDate,
    link: &ChainLink,
    lock_at: UtcMs,
) -> StoreError {
    let why = if link.stored.is_locked(lock_at) {
        format!(
            "its window began at {}",
            fmt_utc(link.stored.day.window_start)
        )
    } else {
        "it has as-run records".to_string()
    };
    StoreError::new(
        StoreErrorKind::Locked,
        format!(
            "refused: ScheduleDay {} {date} has aired ({why}); overrides change unaired days \
             only; nothing stored",
            channel.id
        ),
    )
}

/// STORE-012: the build would have to change an aired day.
fn refusal(
    channel: &Channel,
    from: NaiveDate,
    date: NaiveDate,
    link: &ChainLink,
    lock_at: UtcMs,
) -> StoreError {
    let why = if link.stored.is_locked(lock_at) {
        format!(
            "its window began at {}",
            fmt_utc(link.stored.day.window_start)
        )
    } else {
        "it has as-run records".to_string()
    };
    StoreError::new(
        StoreErrorKind::Locked,
        format!(
            "refused: building channel {} from {from} changes the state ScheduleDay {date} was \
             built from, but {date} has aired ({why}) and is never rewritten; nothing stored \
             (change aired days with an override)",
            channel.id
        ),
    )
}
