//! Building ScheduleDays through the core's `DayChain` and storing them so the stored chain stays
//! whole (STORE-005, STORE-007, STORE-011..014). Used by `retrovue schedule build`, the daemon and
//! the benchmark.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use retrovue_core::chain::{ChainState, DayChain};
use retrovue_core::model::{Catalog, Channel, UtcMs};
use serde::Serialize;

use crate::store::{
    lock_instant, ChainEntry, ChainLink, ChainWrite, DayWrite, Store, StoreError, StoreErrorKind,
    StoreResult,
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
}

impl DayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DayOutcome::Built => "built",
            DayOutcome::Rebuilt => "rebuilt",
            DayOutcome::KeptLocked => "kept (locked)",
            DayOutcome::CarriedForward => "carried forward",
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
fn input(previous: Option<&(NaiveDate, ChainState)>, date: NaiveDate) -> ChainState {
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
enum Step<'a> {
    Write {
        write: Box<DayWrite>,
        replaces: Option<i64>,
        outcome: DayOutcome,
    },
    Keep(&'a ChainLink),
}

impl Step<'_> {
    fn date(&self) -> NaiveDate {
        match self {
            Step::Write { write, .. } => write.day.date,
            Step::Keep(link) => link.stored.day.date,
        }
    }

    fn expected(&self) -> Option<i64> {
        match self {
            Step::Write { replaces, .. } => *replaces,
            Step::Keep(link) => Some(link.stored.id),
        }
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
    mut on_day: impl FnMut(&BuiltDay),
) -> StoreResult<Vec<BuiltDay>> {
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
        match link {
            Some(_) if !in_range && stored_before == before => break,
            Some(link) if link.is_aired(lock_at) => {
                if stored_before != before {
                    return Err(refusal(channel, from, date, link, lock_at));
                }
                new_previous = Some((date, link.after.clone()));
                steps.push(Step::Keep(link));
                continue;
            }
            _ => {}
        }
        let built = DayWrite::from_chain(chain.build_day(date, &before));
        new_previous = Some((date, built.after()));
        steps.push(Step::Write {
            write: Box::new(built),
            replaces: link.map(|l| l.stored.id),
            outcome: match (link, in_range) {
                (None, _) => DayOutcome::Built,
                (Some(_), true) => DayOutcome::Rebuilt,
                (Some(_), false) => DayOutcome::CarriedForward,
            },
        });
    }

    // Which stored days the plan replaces.
    let replaced: Vec<NaiveDate> = steps
        .iter()
        .filter(|s| {
            matches!(
                s,
                Step::Write {
                    replaces: Some(_),
                    ..
                }
            )
        })
        .map(Step::date)
        .collect();
    // A transaction may end after a step when the stored chain after it is untouched and
    // continues at the very next date (or not at all): the chain is whole at that point.
    let whole_after =
        |date: NaiveDate| match by_date.range(date.succ_opt().unwrap_or(date)..).next() {
            None => true,
            Some((next, _)) => Some(*next) == date.succ_opt() && !replaced.contains(next),
        };

    let mut predecessor_id = stored.predecessor.as_ref().map(|p| p.stored.id);
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
            .map(|(_, l)| l.stored.id);
        let done = std::mem::take(&mut segment);
        let write = ChainWrite {
            channel: channel.id.clone(),
            predecessor: predecessor_id,
            entries: done
                .iter()
                .map(|s| ChainEntry {
                    date: s.date(),
                    expected: s.expected(),
                    write: match s {
                        Step::Write { write, .. } => Some(write.as_ref().clone()),
                        Step::Keep(_) => None,
                    },
                })
                .collect(),
            next,
        };
        let mut ids = store.put_chain(&write, now)?.into_iter();
        for step in &done {
            let built = match step {
                Step::Write { write, outcome, .. } => BuiltDay {
                    channel: channel.id.clone(),
                    date: write.day.date,
                    outcome: *outcome,
                    id: ids.next().expect("one id per written day"),
                    items: write.day.items.len(),
                    events: write.playlog.len(),
                    faults: write.day.faults.len(),
                },
                Step::Keep(link) => BuiltDay {
                    channel: channel.id.clone(),
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
            retrovue_core::time::fmt_utc(link.stored.day.window_start)
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
