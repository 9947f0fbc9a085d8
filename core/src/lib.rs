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
pub mod profile;
pub mod schedule;
pub mod stable;
pub mod time;
pub mod timeline;
pub mod validate;

use chrono::NaiveDate;

use crate::model::{
    Catalog, Channel, EpgRow, PlaylogEvent, RotationState, ScheduleDay, TrafficState,
};
use crate::schedule::SchedulingContext;

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
/// rotation and traffic state from day to day through [`chain::DayChain`]. The context's seed
/// drives choices and traffic.
pub fn build_channel_schedule(
    ctx: &SchedulingContext,
    channel: &Channel,
    from: NaiveDate,
    days: u32,
    rotation: RotationState,
    traffic: TrafficState,
) -> ChannelSchedule {
    let chain = chain::DayChain::with_context(ctx, channel);
    let mut state = chain::ChainState {
        previous_slot_end: None,
        rotation,
        traffic,
    };
    let mut playlog = Vec::new();
    let mut schedule_days = Vec::with_capacity(days as usize);
    let mut date = from;
    for _ in 0..days {
        schedule_days.push(chain.advance(date, &mut state, &mut playlog));
        date = date.succ_opt().expect("date in range");
    }
    let after = state;
    let epg = epg::epg_rows(channel, &schedule_days);
    ChannelSchedule {
        days: schedule_days,
        playlog,
        epg,
        rotation: after.rotation,
        traffic: after.traffic,
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
