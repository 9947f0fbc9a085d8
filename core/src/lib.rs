//! RetroVue core: the pure, clock-injected scheduling and plan-generation core.
//!
//! Turns a lineup (catalog, programs, channels, plans, zones) into ScheduleDays, a playlog, an
//! EPG and the playout plan at any instant. Nothing here reads the clock, sleeps, spawns,
//! touches files, the network or a database, or iterates a `HashMap`: time is an argument.

pub mod asrun;
pub mod chain;
pub mod channel;
pub mod engine;
pub mod epg;
pub mod generate;
pub mod horizon;
pub mod invariants;
pub mod lineup;
pub mod manager;
pub mod model;
pub mod plan;
pub mod playlog;
pub mod schedule;
pub mod stable;
pub mod time;
pub mod validate;

use chrono::NaiveDate;

use crate::model::{
    Catalog, Channel, EpgRow, PlaylogEvent, RotationState, ScheduleDay, TrafficState,
};
use crate::playlog::{build_playlog, TrafficPlanner};
use crate::schedule::{build_schedule_day, SchedulingContext};

/// Consecutive days of one channel with their playlog and guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSchedule {
    pub days: Vec<ScheduleDay>,
    pub playlog: Vec<PlaylogEvent>,
    pub epg: Vec<EpgRow>,
    pub rotation: RotationState,
    pub traffic: TrafficState,
}

/// Build `days` ScheduleDays from `from`, their playlog and their guide, threading carry-in,
/// rotation and traffic state from day to day.
pub fn build_channel_schedule(
    ctx: &SchedulingContext,
    channel: &Channel,
    from: NaiveDate,
    days: u32,
    mut rotation: RotationState,
    mut traffic: TrafficState,
) -> ChannelSchedule {
    let planner = TrafficPlanner::new(ctx.catalog, channel, ctx.seed);
    let mut built: Vec<ScheduleDay> = Vec::with_capacity(days as usize);
    let mut playlog = Vec::new();
    let mut date = from;
    for _ in 0..days {
        let previous = built.last().and_then(ScheduleDay::last_slot_end);
        let day = build_schedule_day(ctx, channel, date, previous, &mut rotation);
        playlog.extend(build_playlog(&day, channel, &planner, &mut traffic));
        built.push(day);
        date = date.succ_opt().expect("date in range");
    }
    let epg = epg::epg_rows(channel, &built);
    ChannelSchedule {
        days: built,
        playlog,
        epg,
        rotation,
        traffic,
    }
}

/// Convenience for callers holding only a catalog: build with a fresh context.
pub fn build_fresh(
    catalog: &Catalog,
    channel: &Channel,
    from: NaiveDate,
    days: u32,
    seed: u64,
) -> ChannelSchedule {
    let ctx = SchedulingContext::new(catalog, seed);
    build_channel_schedule(
        &ctx,
        channel,
        from,
        days,
        RotationState::default(),
        TrafficState::default(),
    )
}
