//! Building ScheduleDays through the core and storing them, one transaction per day (STORE-005,
//! STORE-006, STORE-007). Used by `retrovue schedule build`, the daemon and the benchmark.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use retrovue_core::model::{Catalog, Channel, UtcMs};
use retrovue_core::playlog::{build_playlog, TrafficPlanner};
use retrovue_core::schedule::{build_schedule_day, SchedulingContext};
use serde::Serialize;

use crate::store::{DayWrite, Store, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOutcome {
    /// No day was stored; now one is.
    Built,
    /// An unlocked stored day was replaced.
    Rebuilt,
    /// The stored day is locked and was kept as it is.
    KeptLocked,
}

impl DayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DayOutcome::Built => "built",
            DayOutcome::Rebuilt => "rebuilt",
            DayOutcome::KeptLocked => "kept (locked)",
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

/// Build and store `days` days of `channel` from `from`. Each day starts from the stored state
/// before it (or the day just built), is written with its playlog and the state after it in one
/// transaction, and replaces the stored day only if that one is not locked at `now`. `on_day` is
/// called after each day is committed.
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
    let last = from + chrono::Days::new(days.saturating_sub(1) as u64);
    // What this builder saw: each write replaces exactly this record or fails as a conflict.
    let seen: BTreeMap<NaiveDate, _> = store
        .current_days(&channel.id, from, last)?
        .into_iter()
        .map(|d| (d.day.date, d))
        .collect();
    let start = store.state_before(&channel.id, from)?;
    let mut previous_slot_end = start.previous_slot_end;
    let mut rotation = start.rotation;
    let mut traffic = start.traffic;
    let ctx = SchedulingContext::new(catalog, seed);
    let planner = TrafficPlanner::new(catalog, channel, seed);
    let mut out = Vec::with_capacity(days as usize);
    let mut date = from;
    for _ in 0..days {
        let stored = seen.get(&date);
        let built = match stored {
            Some(stored) if stored.is_locked(now) => {
                let after = store.state_before(&channel.id, date.succ_opt().unwrap_or(date))?;
                rotation = after.rotation;
                traffic = after.traffic;
                previous_slot_end = stored.day.last_slot_end();
                BuiltDay {
                    channel: channel.id.clone(),
                    date,
                    outcome: DayOutcome::KeptLocked,
                    id: stored.id,
                    items: stored.day.items.len(),
                    events: 0,
                    faults: stored.day.faults.len(),
                }
            }
            _ => {
                let day = build_schedule_day(&ctx, channel, date, previous_slot_end, &mut rotation);
                let playlog = build_playlog(&day, channel, &planner, &mut traffic);
                let write = DayWrite {
                    day,
                    playlog,
                    rotation: rotation.clone(),
                    traffic: traffic.clone(),
                };
                let id = store.put_day(&write, stored.map(|s| s.id), now)?;
                previous_slot_end = write.day.last_slot_end();
                BuiltDay {
                    channel: channel.id.clone(),
                    date,
                    outcome: if stored.is_some() {
                        DayOutcome::Rebuilt
                    } else {
                        DayOutcome::Built
                    },
                    id,
                    items: write.day.items.len(),
                    events: write.playlog.len(),
                    faults: write.day.faults.len(),
                }
            }
        };
        on_day(&built);
        out.push(built);
        date = date.succ_opt().expect("date in range");
    }
    Ok(out)
}
