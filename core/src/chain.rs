//! The day chain (SCHED-002, SCHED-007, STORE-012): what one broadcast day hands to the next — carry-in,
//! rotation and traffic state — threaded in exactly one place.

use chrono::NaiveDate;

use crate::model::{
    Catalog, Channel, PlaylogEvent, RotationState, ScheduleDay, TrafficState, UtcMs,
};
use crate::playlog::{build_playlog_into, TrafficPlanner};
use crate::schedule::{
    build_schedule_day, build_schedule_day_traced, Pin, Provenance, SchedulingContext,
};

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
    ctx: Context<'a>,
    planner: TrafficPlanner<'a>,
    channel: &'a Channel,
}

/// The chain's catalog lookups: its own, or a context shared by many channels' chains.
#[derive(Debug)]
enum Context<'a> {
    Owned(SchedulingContext<'a>),
    Shared(&'a SchedulingContext<'a>),
}

impl<'a> Context<'a> {
    fn get(&self) -> &SchedulingContext<'a> {
        match self {
            Context::Owned(ctx) => ctx,
            Context::Shared(ctx) => ctx,
        }
    }
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
            ctx: Context::Owned(SchedulingContext::new(catalog, seed)),
            planner: TrafficPlanner::new(catalog, channel, seed),
            channel,
        }
    }

    /// The same chain as [`DayChain::new`] with the context's catalog and seed, reusing the
    /// context's prepared lookups (for building many channels from one catalog).
    pub fn with_context(ctx: &'a SchedulingContext<'a>, channel: &'a Channel) -> DayChain<'a> {
        DayChain {
            ctx: Context::Shared(ctx),
            planner: TrafficPlanner::new(ctx.catalog, channel, ctx.seed),
            channel,
        }
    }

    /// The channel this chain builds.
    pub fn channel(&self) -> &'a Channel {
        self.channel
    }

    /// Build broadcast date `date` from the state `before` (the state after the previous day).
    pub fn build_day(&self, date: NaiveDate, before: &ChainState) -> ChainDay {
        let mut after = before.clone();
        let mut playlog = Vec::new();
        let day = self.advance(date, &mut after, &mut playlog);
        ChainDay {
            day,
            playlog,
            after,
        }
    }

    /// Build broadcast date `date` from `state` (the state after the previous day), turning
    /// `state` into the state after it and appending the day's playlog to `playlog`. The same
    /// day as [`DayChain::build_day`], without copying the state or the events.
    pub fn advance(
        &self,
        date: NaiveDate,
        state: &mut ChainState,
        playlog: &mut Vec<PlaylogEvent>,
    ) -> ScheduleDay {
        let day = build_schedule_day(
            self.ctx.get(),
            self.channel,
            date,
            state.previous_slot_end,
            &mut state.rotation,
        );
        build_playlog_into(
            &day,
            self.channel,
            &self.planner,
            &mut state.traffic,
            playlog,
        );
        state.previous_slot_end = carry_out(state.previous_slot_end, &day);
        day
    }

    /// [`DayChain::build_day`] with operator overrides (`pins`, see [`Pin`]).
    pub fn build_day_pinned(&self, date: NaiveDate, before: &ChainState, pins: &[Pin]) -> ChainDay {
        if pins.is_empty() {
            return self.build_day(date, before);
        }
        let mut after = before.clone();
        let mut playlog = Vec::new();
        let day = build_schedule_day_traced(
            self.ctx.get(),
            self.channel,
            date,
            after.previous_slot_end,
            &mut after.rotation,
            pins,
            None,
        );
        build_playlog_into(
            &day,
            self.channel,
            &self.planner,
            &mut after.traffic,
            &mut playlog,
        );
        after.previous_slot_end = carry_out(before.previous_slot_end, &day);
        ChainDay {
            day,
            playlog,
            after,
        }
    }

    /// Re-run the build of `date` from `before` with `pins`, returning the day and the
    /// provenance of each placed item, in order (CLI-050). Pure: nothing is stored.
    pub fn explain_day(
        &self,
        date: NaiveDate,
        before: &ChainState,
        pins: &[Pin],
    ) -> (ScheduleDay, Vec<Provenance>) {
        let mut rotation = before.rotation.clone();
        let mut trace = Vec::new();
        let day = build_schedule_day_traced(
            self.ctx.get(),
            self.channel,
            date,
            before.previous_slot_end,
            &mut rotation,
            pins,
            Some(&mut trace),
        );
        (day, trace)
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
