//! The day chain (DOMAIN §3.2, §3.6): what one broadcast day hands to the next — carry-in,
//! rotation and traffic state — threaded in exactly one place.

use chrono::NaiveDate;

use crate::model::{
    Catalog, Channel, PlaylogEvent, RotationState, ScheduleDay, TrafficState, UtcMs,
};
use crate::playlog::{build_playlog, TrafficPlanner};
use crate::schedule::{build_schedule_day, SchedulingContext};

/// What one broadcast day hands to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainState {
    /// End of the latest slot scheduled so far (carry-in into the next day), if any.
    pub previous_slot_end: Option<UtcMs>,
    pub rotation: RotationState,
    pub traffic: TrafficState,
}

/// One built day: the ScheduleDay, its playlog, and the state after it.
#[derive(Debug, Clone)]
pub struct ChainDay {
    pub day: ScheduleDay,
    pub playlog: Vec<PlaylogEvent>,
    pub after: ChainState,
}

/// Builds a channel's days in order from a state: the only place the chain is threaded.
#[derive(Debug)]
pub struct DayChain<'a> {
    ctx: SchedulingContext<'a>,
    planner: TrafficPlanner<'a>,
    channel: &'a Channel,
}

/// The carry-out of a day: the later of what was carried into it and its own last slot end
/// (SCHED-007). A day a carry-in covers entirely passes the carried-in end through unchanged.
pub fn carry_out(carried_in: Option<UtcMs>, day: &ScheduleDay) -> Option<UtcMs> {
    carried_in.max(day.last_slot_end())
}

impl<'a> DayChain<'a> {
    /// `seed` drives both the scheduling choices and the traffic fill.
    pub fn new(catalog: &'a Catalog, channel: &'a Channel, seed: u64) -> DayChain<'a> {
        DayChain {
            ctx: SchedulingContext::new(catalog, seed),
            planner: TrafficPlanner::new(catalog, channel, seed),
            channel,
        }
    }

    /// The channel this chain builds.
    pub fn channel(&self) -> &'a Channel {
        self.channel
    }

    /// Build broadcast date `date` from the state `before` (the state after the previous day).
    pub fn build_day(&self, date: NaiveDate, before: &ChainState) -> ChainDay {
        let mut rotation = before.rotation.clone();
        let mut traffic = before.traffic.clone();
        let day = build_schedule_day(
            &self.ctx,
            self.channel,
            date,
            before.previous_slot_end,
            &mut rotation,
        );
        let playlog = build_playlog(&day, self.channel, &self.planner, &mut traffic);
        let after = ChainState {
            previous_slot_end: carry_out(before.previous_slot_end, &day),
            rotation,
            traffic,
        };
        ChainDay {
            day,
            playlog,
            after,
        }
    }

    /// Build `days` consecutive days from `from`, starting from `before`.
    pub fn build_days(&self, from: NaiveDate, days: u32, before: &ChainState) -> Vec<ChainDay> {
        let mut out: Vec<ChainDay> = Vec::with_capacity(days as usize);
        let mut date = from;
        for _ in 0..days {
            let state = out.last().map(|d| &d.after).unwrap_or(before);
            let built = self.build_day(date, state);
            out.push(built);
            date = date.succ_opt().expect("date in range");
        }
        out
    }
}
