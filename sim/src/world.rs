//! The simulated world: channels with their ChannelManager, horizon-kept schedules, simulated
//! viewers and playout engines, driven event by event in virtual time and checked after every
//! step (contracts/sim.md).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::NaiveDate;
use retrovue_core::chain::{ChainState, DayChain};
use retrovue_core::channel::{ChannelAction, ChannelMachine, ChannelNotice, EngineReport};
use retrovue_core::engine::{Block, EngineExit};
use retrovue_core::epg::epg_rows;
use retrovue_core::horizon::{known_until, HorizonAction, HorizonConfig, HorizonKeeper};
use retrovue_core::invariants::{check_channel_days, Violation};
use retrovue_core::manager::{Answer, ManagerConfig, Notice, PlaylogSource, SessionId, ViewerId};
use retrovue_core::model::{
    AsRunRecord, AsRunStatus, Channel, Lineup, PlaylogEvent, ScheduleDay, UtcMs, MS_PER_MINUTE,
};
use retrovue_core::plan::{event_at, plan_at, PlanOutcome, Segment};
use retrovue_core::stable::{stable_hash, SplitMix64};
use retrovue_core::time::{fmt_utc, ChannelClock};

use crate::faults::FaultPlan;
use crate::queue::EventQueue;
use crate::viewers::ViewerModel;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
    pub viewers: ViewerModel,
    pub faults: FaultPlan,
    pub manager: ManagerConfig,
    pub horizon: HorizonConfig,
}

impl SimConfig {
    pub fn new(seed: u64, start: NaiveDate, days: u32) -> SimConfig {
        SimConfig {
            seed,
            start,
            days,
            viewers: ViewerModel::Churn,
            faults: FaultPlan::default(),
            manager: ManagerConfig::default(),
            horizon: HorizonConfig::default(),
        }
    }
}

/// Counters over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub tune_ins: u64,
    pub engine_starts: u64,
    pub engine_crashes: u64,
    pub restarts: u64,
    pub gave_up: u64,
    pub answered_500: u64,
    pub answered_503: u64,
    /// Store writes of the horizon keeper that failed (`store:p=P`).
    pub store_failures: u64,
    /// Retries the keeper made after them.
    pub keeper_retries: u64,
    /// Days rebuilt mid-run (`rebuild:p=P`).
    pub rebuilds: u64,
    pub steps: u64,
}

/// Everything a channel ended with.
#[derive(Debug, Clone)]
pub struct ChannelOutcome {
    pub channel: Channel,
    pub days: Vec<ScheduleDay>,
    pub playlog: Vec<PlaylogEvent>,
    pub asrun: Vec<AsRunRecord>,
    pub violations: Vec<Violation>,
    /// First day's effective start and the horizon end.
    pub start: UtcMs,
    pub end: UtcMs,
    pub tune_ins: u64,
    pub engine_starts: u64,
    pub engine_failures: u64,
    pub restarts: u64,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
    pub viewers: String,
    pub faults: String,
    pub channels: Vec<ChannelOutcome>,
    pub stats: SimStats,
}

impl SimOutcome {
    pub fn violation_count(&self) -> usize {
        self.channels.iter().map(|c| c.violations.len()).sum()
    }
}

#[derive(Debug)]
enum Ev {
    KeeperTick,
    Arrival(usize),
    Departure(usize, ViewerId),
    ManagerTimeout(usize),
    EngineStarted(usize, SessionId),
    SegmentEnd(usize, SessionId),
    Crash(usize, Option<SessionId>),
    Stall(usize),
    ChannelEnd(usize),
}

/// One fed segment inside a simulated engine.
#[derive(Debug)]
struct FedSegment {
    block_seq: u64,
    first_of_block: bool,
    segment: Segment,
}

/// A simulated playout engine process: follows the fed plan and reports by event id, the way
/// a real engine does (segment started, aired or errored, truncated when stopped).
#[derive(Debug)]
struct SimEngine {
    session: SessionId,
    fed: VecDeque<FedSegment>,
    fed_until: UtcMs,
    started_at: Option<UtcMs>,
    stalled: bool,
    /// The front segment went on air at this instant (its `segment_started` was reported).
    on_air_since: Option<UtcMs>,
}

/// The published playlog the machine may read, and the fault plan's view of files.
struct Published<'a> {
    events: &'a [PlaylogEvent],
    faults: &'a FaultPlan,
    /// The published horizon (MACHINE-004): a missing event before it is a schedule gap.
    known_until: UtcMs,
}

impl PlaylogSource for Published<'_> {
    fn events(&self) -> &[PlaylogEvent] {
        self.events
    }
    fn asset_missing(&self, asset: &str) -> bool {
        self.faults.missing_assets.contains(asset)
    }
    fn known_until(&self) -> UtcMs {
        self.known_until
    }
}

/// What the simulator's store holds of one built day.
struct BuiltDay {
    day: ScheduleDay,
    after: ChainState,
    /// Index of the day's first event in the channel's playlog.
    first_event: usize,
}

struct Chan {
    channel: Channel,
    clock: ChannelClock,
    machine: ChannelMachine,
    days: Vec<BuiltDay>,
    playlog: Vec<PlaylogEvent>,
    /// Events `[..published]` are visible to the machine.
    published: usize,
    published_until: UtcMs,
    known_until: UtcMs,
    /// How many times days were rebuilt (each rebuild draws from a fresh seed).
    rebuild_generation: u64,
    next_rebuild_draw: UtcMs,
    start: UtcMs,
    end: Option<UtcMs>,
    ended: bool,
    rng: SplitMix64,
    fault_rng: SplitMix64,
    watching: BTreeSet<ViewerId>,
    timeout_at: Option<UtcMs>,
    engine: Option<SimEngine>,
    /// Sessions the simulator stopped or crashed: their records may be truncated.
    closing: BTreeSet<SessionId>,
    /// End of each session's last as-run record, for the abutment check.
    last_record_end: BTreeMap<SessionId, UtcMs>,
    fault_open: Option<UtcMs>,
    fault_windows: Vec<(UtcMs, UtcMs)>,
    asrun: Vec<AsRunRecord>,
    violations: Vec<Violation>,
}

impl Chan {
    fn violate(&mut self, invariant: &str, at: UtcMs, detail: String) {
        self.violations.push(Violation::new(invariant, at, detail));
    }

    fn open_fault(&mut self, at: UtcMs) {
        if self.fault_open.is_none() {
            self.fault_open = Some(at);
        }
    }

    fn close_fault(&mut self, at: UtcMs) {
        if let Some(since) = self.fault_open.take() {
            self.fault_windows.push((since, at));
        }
    }

    fn in_fault(&self, from: UtcMs, to: UtcMs) -> bool {
        self.fault_open.is_some_and(|since| to > since)
            || self.fault_windows.iter().any(|&(a, b)| from <= b && to > a)
    }
}

struct World<'a> {
    lineup: &'a Lineup,
    /// The lineup's channel behind each of `chans` (same order), borrowed for the day chains.
    sources: Vec<&'a Channel>,
    /// Each channel's day chain with the rebuild generation it was made for: its catalog
    /// lookups and traffic pool are prepared once, not once per built day.
    chains: Vec<Option<(u64, DayChain<'a>)>>,
    config: &'a SimConfig,
    /// The run's faults, with a swarm drawn from the seed resolved (SIM-013).
    faults: FaultPlan,
    chans: Vec<Chan>,
    keeper: HorizonKeeper,
    /// Draws the store's failures and the rebuilds.
    store_rng: SplitMix64,
    /// Store faults and rebuilds stop here: the heal phase runs to the end (SIM-014).
    heal_from: UtcMs,
    queue: EventQueue<Ev>,
    next_viewer: ViewerId,
    stats: SimStats,
    last_date: NaiveDate,
}

/// The heal phase: the last two hours of a run have no store faults and no rebuilds.
const HEAL_MS: UtcMs = 2 * 60 * MS_PER_MINUTE;

/// Run the simulation of `lineup` (its active channels) as `config` says.
pub fn run(lineup: &Lineup, config: &SimConfig) -> SimOutcome {
    let days = config.days.max(1);
    let last_date = config.start + chrono::Days::new(days as u64 - 1);
    let mut keeper = HorizonKeeper::new(config.horizon.clone());
    let mut chans = Vec::new();
    let sources: Vec<&Channel> = lineup.channels.iter().filter(|c| c.active).collect();
    for &channel in &sources {
        let clock = ChannelClock::of(channel);
        keeper.add_channel(
            &channel.id,
            clock.clone(),
            config.start,
            Some(last_date),
            None,
        );
        let channel_seed = config.seed ^ stable_hash(&[channel.id.as_bytes()]);
        chans.push(Chan {
            channel: channel.clone(),
            start: clock.day_start(config.start),
            clock,
            machine: ChannelMachine::new(&channel.id, config.manager.clone()),
            days: Vec::new(),
            playlog: Vec::new(),
            published: 0,
            published_until: UtcMs::MIN,
            known_until: UtcMs::MIN,
            rebuild_generation: 0,
            next_rebuild_draw: UtcMs::MIN,
            end: None,
            ended: false,
            rng: SplitMix64::new(channel_seed),
            fault_rng: SplitMix64::new(channel_seed ^ 0xFA17),
            watching: BTreeSet::new(),
            timeout_at: None,
            engine: None,
            closing: BTreeSet::new(),
            last_record_end: BTreeMap::new(),
            fault_open: None,
            fault_windows: Vec::new(),
            asrun: Vec::new(),
            violations: Vec::new(),
        });
    }
    let first_start = chans.iter().map(|c| c.start).min().unwrap_or(0);
    let ids: Vec<String> = chans.iter().map(|c| c.channel.id.clone()).collect();
    let run_end = first_start + days as i64 * 24 * 60 * MS_PER_MINUTE;
    let chains = sources.iter().map(|_| None).collect();
    let mut world = World {
        lineup,
        sources,
        chains,
        config,
        faults: config
            .faults
            .resolve(config.seed, &ids, first_start, run_end),
        chans,
        keeper,
        store_rng: SplitMix64::new(config.seed ^ 0x5708E),
        heal_from: run_end - HEAL_MS,
        queue: EventQueue::default(),
        next_viewer: 1,
        stats: SimStats::default(),
        last_date,
    };
    world.seed_events();
    world.run_loop();
    world.finish()
}

impl World<'_> {
    fn seed_events(&mut self) {
        let first = self.chans.iter().map(|c| c.start).min();
        if let Some(t0) = first {
            self.queue.push(t0, Ev::KeeperTick);
        }
        for i in 0..self.chans.len() {
            let start = self.chans[i].start;
            match self.config.viewers {
                ViewerModel::Constant(n) => {
                    for _ in 0..n {
                        self.queue.push(start, Ev::Arrival(i));
                    }
                }
                _ => {
                    if let Some(dt) = self.config.viewers.next_arrival_in(&mut self.chans[i].rng) {
                        self.queue.push(start + dt, Ev::Arrival(i));
                    }
                }
            }
            let id = self.chans[i].channel.id.clone();
            for (ch, at) in &self.faults.crashes {
                if *ch == id {
                    self.queue.push(*at, Ev::Crash(i, None));
                }
            }
            for (ch, at) in &self.faults.stalls {
                if *ch == id {
                    self.queue.push(*at, Ev::Stall(i));
                }
            }
        }
    }

    fn run_loop(&mut self) {
        while let Some((now, ev)) = self.queue.pop() {
            self.stats.steps += 1;
            let touched = self.step(now, ev);
            if let Some(i) = touched {
                self.drain_machine(now, i);
                self.check_channel(now, i);
            }
        }
    }

    /// Handle one event; returns the channel whose machine may have output.
    fn step(&mut self, now: UtcMs, ev: Ev) -> Option<usize> {
        match ev {
            Ev::KeeperTick => {
                self.keeper_tick(now);
                None
            }
            Ev::Arrival(i) => {
                let ch = &mut self.chans[i];
                if ch.ended || ch.end.is_some_and(|e| now >= e) {
                    return None;
                }
                if let Some(dt) = self.config.viewers.next_arrival_in(&mut ch.rng) {
                    self.queue.push(now + dt, Ev::Arrival(i));
                }
                let viewer = self.next_viewer;
                self.next_viewer += 1;
                if let Some(dt) = self.config.viewers.watch_for(&mut ch.rng) {
                    self.queue.push(now + dt, Ev::Departure(i, viewer));
                }
                let source = Published {
                    events: &ch.playlog[..ch.published],
                    faults: &self.faults,
                    known_until: ch.known_until,
                };
                ch.machine.viewer_joined(now, viewer, &source);
                Some(i)
            }
            Ev::Departure(i, viewer) => {
                let ch = &mut self.chans[i];
                if !ch.watching.remove(&viewer) {
                    return None;
                }
                ch.machine.viewer_left(now, viewer);
                if !ch.machine.is_active() {
                    ch.close_fault(now);
                }
                Some(i)
            }
            Ev::ManagerTimeout(i) => {
                let ch = &mut self.chans[i];
                if ch.timeout_at != Some(now) {
                    return None; // superseded
                }
                ch.timeout_at = None;
                let source = Published {
                    events: &ch.playlog[..ch.published],
                    faults: &self.faults,
                    known_until: ch.known_until,
                };
                ch.machine.timeout(now, &source);
                Some(i)
            }
            Ev::EngineStarted(i, session) => {
                let ch = &mut self.chans[i];
                let engine = ch.engine.as_mut().filter(|e| e.session == session)?;
                engine.started_at = Some(now);
                ch.machine
                    .engine_report(now, session, &EngineReport::Started);
                ch.close_fault(now);
                self.advance_engine(now, i, true);
                Some(i)
            }
            Ev::SegmentEnd(i, session) => {
                let ch = &self.chans[i];
                let live = ch
                    .engine
                    .as_ref()
                    .is_some_and(|e| e.session == session && !e.stalled);
                if !live {
                    return None;
                }
                self.segment_ended(now, i);
                Some(i)
            }
            Ev::Crash(i, target) => {
                let ch = &mut self.chans[i];
                let engine = ch.engine.as_ref()?;
                if target.is_some_and(|s| s != engine.session) {
                    return None;
                }
                // A crashing engine reports nothing more: the machine closes what was on air.
                let session = engine.session;
                ch.engine = None;
                ch.open_fault(now);
                ch.closing.insert(session);
                ch.machine.engine_exited(
                    now,
                    session,
                    &EngineExit::Crashed {
                        reason: "injected crash".to_string(),
                    },
                );
                if !ch.machine.is_active() {
                    ch.close_fault(now);
                }
                Some(i)
            }
            Ev::Stall(i) => {
                let ch = &mut self.chans[i];
                if let Some(engine) = ch.engine.as_mut() {
                    engine.stalled = true;
                    ch.open_fault(now);
                }
                None
            }
            Ev::ChannelEnd(i) => {
                let ch = &mut self.chans[i];
                ch.ended = true;
                ch.machine.shutdown(now);
                ch.close_fault(now);
                Some(i)
            }
        }
    }

    /// Does the store fail this write (`store:p=P`, outside the heal phase)?
    fn store_fails(&mut self, now: UtcMs) -> bool {
        let p = self.faults.store_failure_p;
        p > 0.0 && now < self.heal_from && self.store_rng.unit() < p
    }

    fn keeper_tick(&mut self, now: UtcMs) {
        // contract: SIM-007 (horizon_short, checked before the tick fills up)
        self.check_horizons(now, true);
        self.maybe_rebuild(now);
        self.keeper.handle_tick(now);
        while let Some(action) = self.keeper.poll_action() {
            match action {
                HorizonAction::BuildDays {
                    channel,
                    from,
                    days,
                } => self.build_days(now, &channel, from, days),
                HorizonAction::ExtendPlaylog { channel, until } => {
                    if self.store_fails(now) {
                        self.keeper.handle_publish_failed(&channel, now);
                    } else {
                        self.publish(now, &channel, until)
                    }
                }
            }
        }
        self.check_horizons(now, false);
        if let Some(next) = self.keeper.poll_timeout() {
            self.queue.push(next.max(now + 1), Ev::KeeperTick);
        }
    }

    /// `rebuild:p=P`: at a keeper tick, rebuild a channel's furthest unpublished day with a
    /// fresh seed; the chain carries the change forward (SIM-015).
    fn maybe_rebuild(&mut self, now: UtcMs) {
        let p = self.faults.rebuild_p;
        if p <= 0.0 || now >= self.heal_from {
            return;
        }
        for i in 0..self.chans.len() {
            // One draw per channel per hour of virtual time.
            if now < self.chans[i].next_rebuild_draw {
                continue;
            }
            self.chans[i].next_rebuild_draw = now + 60 * MS_PER_MINUTE;
            if self.store_rng.unit() >= p {
                continue;
            }
            let ch = &self.chans[i];
            let Some(k) = ch
                .days
                .iter()
                .position(|d| d.day.effective_start >= ch.published_until.max(now))
            else {
                continue;
            };
            let date = ch.days[k].day.date;
            let id = ch.channel.id.clone();
            self.chans[i].rebuild_generation += 1;
            self.keeper.handle_rebuild(&id, date);
            self.stats.rebuilds += 1;
        }
    }

    fn channel_index(&self, id: &str) -> usize {
        self.chans
            .iter()
            .position(|c| c.channel.id == id)
            .expect("keeper only knows our channels")
    }

    /// The store's build: each day from the stored state before it, through the core's day
    /// chain; a day that already exists is replaced with everything after it.
    fn build_days(&mut self, now: UtcMs, id: &str, from: NaiveDate, days: u32) {
        let i = self.channel_index(id);
        let mut date = from;
        for _ in 0..days {
            if self.store_fails(now) {
                self.keeper.handle_build_failed(id, now);
                return;
            }
            let ch = &mut self.chans[i];
            let generation = ch.rebuild_generation;
            let cached = &mut self.chains[i];
            if cached.as_ref().is_none_or(|(g, _)| *g != generation) {
                let seed = match generation {
                    0 => self.config.seed,
                    g => self.config.seed ^ stable_hash(&[b"rebuild", &g.to_be_bytes()]),
                };
                let chain = DayChain::new(&self.lineup.catalog, self.sources[i], seed);
                *cached = Some((generation, chain));
            }
            let chain = &cached.as_ref().expect("just made").1;
            // Replace the day and every later one: the chain after it changes.
            let k = ch.days.partition_point(|d| d.day.date < date);
            if k < ch.days.len() {
                let cut = ch.days[k].first_event;
                if cut < ch.published {
                    ch.violate(
                        "rebuilt_published",
                        now,
                        format!("day {date} was rebuilt after it was published"),
                    );
                }
                ch.days.truncate(k);
                ch.playlog.truncate(cut);
            }
            let mut state = ch.days.last().map(|d| d.after.clone()).unwrap_or_default();
            let first_event = ch.playlog.len();
            // The day's events go straight into the channel's playlog.
            let day = chain.advance(date, &mut state, &mut ch.playlog);
            ch.days.push(BuiltDay {
                day,
                after: state,
                first_event,
            });
            if ch.days.len() == 1 {
                // Size the run's playlog and as-run from the first day, once: growing them
                // step by step costs a fresh copy (and fresh pages) each time.
                let run_days = (self.last_date - self.config.start).num_days().max(0) as usize + 1;
                let per_day = ch.playlog.len() + 16;
                ch.playlog.reserve(per_day * run_days * 9 / 8);
                ch.asrun.reserve(per_day * run_days);
            }
            self.keeper.handle_days_built(id, date);
            if date == self.last_date {
                let last = &ch.days.last().expect("just built").day;
                let end = last
                    .window_end
                    .max(last.last_slot_end().unwrap_or(last.window_end));
                if ch.end.is_none() {
                    self.queue.push(end, Ev::ChannelEnd(i));
                }
                ch.end = Some(end);
                self.keeper.set_end(id, end);
            }
            date = date.succ_opt().expect("date in range");
        }
    }

    /// Publish the playlog up to `until` and the horizon known from the built days.
    fn publish(&mut self, now: UtcMs, id: &str, until: UtcMs) {
        let i = self.channel_index(id);
        let ch = &mut self.chans[i];
        let covered = ch.days.last().map_or(UtcMs::MIN, |d| d.day.covers_until);
        let until = until.min(covered).min(ch.end.unwrap_or(UtcMs::MAX));
        ch.published_until = ch.published_until.max(until);
        ch.published = ch.playlog.partition_point(|e| e.start < ch.published_until);
        let days = ch.days.iter().map(|d| &d.day);
        ch.known_until = known_until(days, now.max(ch.start), ch.published_until);
        self.keeper.handle_playlog_extended(id, ch.published_until);
    }

    /// `before_tick`: checked as the tick arrives, when nothing has been built yet at the first.
    fn check_horizons(&mut self, now: UtcMs, before_tick: bool) {
        let ahead = self.config.horizon.playlog_ahead_ms;
        let days_ahead = self.config.horizon.days_ahead as u64;
        for ch in &mut self.chans {
            if now < ch.start || ch.ended || (before_tick && ch.published_until == UtcMs::MIN) {
                continue;
            }
            // A store failure waiting for its retry is survived: the margin covers it; what
            // must never happen is an engine that cannot be fed (PlaylogShort) — SIM-014.
            if self.keeper.is_retrying(&ch.channel.id) {
                continue;
            }
            let end = ch.end.unwrap_or(UtcMs::MAX);
            let need = (now + ahead).min(end);
            if ch.published_until < need {
                let detail = format!(
                    "playlog published until {} (needed {})",
                    fmt_utc(ch.published_until),
                    fmt_utc(need)
                );
                ch.violate("horizon_short", now, detail);
            }
            // Just before a tick the world is still in the previous instant: a day threshold
            // crossed exactly now is the tick's to handle.
            let as_of = if before_tick { now - 1 } else { now };
            let want = (ch.clock.broadcast_date(as_of) + chrono::Days::new(days_ahead))
                .min(self.last_date);
            if ch.days.last().is_none_or(|d| d.day.date < want) {
                let detail = format!("ScheduleDays not built through {want}");
                ch.violate("horizon_short", now, detail);
            }
        }
    }

    /// Carry out the machine's actions and re-arm its timeout.
    fn drain_machine(&mut self, now: UtcMs, i: usize) {
        while let Some(action) = self.chans[i].machine.poll_action() {
            match action {
                ChannelAction::SpawnEngine {
                    session,
                    join_at,
                    blocks,
                    restart: _,
                } => self.spawn_engine(now, i, session, join_at, blocks),
                ChannelAction::FeedBlock { session, block } => {
                    self.feed_engine(now, i, session, block)
                }
                ChannelAction::StopEngine { session, reason } => {
                    self.stop_engine(now, i, session, &reason)
                }
                ChannelAction::AnswerViewer { viewer, answer } => {
                    let ch = &mut self.chans[i];
                    match answer {
                        Answer::Stream => {
                            ch.watching.insert(viewer);
                        }
                        Answer::AssetMissing { .. } => self.stats.answered_500 += 1,
                        Answer::Gap | Answer::Unavailable { .. } => self.stats.answered_503 += 1,
                        Answer::NotFound => {}
                    }
                }
                ChannelAction::CloseViewers { viewers, .. } => {
                    let ch = &mut self.chans[i];
                    for v in viewers {
                        ch.watching.remove(&v);
                    }
                    ch.close_fault(now);
                }
                ChannelAction::AsRun { session, record } => {
                    let ch = &mut self.chans[i];
                    let previous = ch.last_record_end.get(&session).copied();
                    let stopped = ch.closing.contains(&session);
                    check_record(ch, &record, previous, stopped, &self.faults);
                    ch.last_record_end.insert(session, record.end);
                    ch.asrun.push(record);
                }
                ChannelAction::Notice(ChannelNotice::Manager(Notice::PlaylogShort { at })) => {
                    let ch = &mut self.chans[i];
                    if ch.end.is_none_or(|e| at < e) {
                        let detail = format!("manager could not feed past {}", fmt_utc(at));
                        ch.violate("horizon_short", now, detail);
                    }
                }
                ChannelAction::Notice(ChannelNotice::Manager(Notice::GaveUp { .. })) => {
                    self.stats.gave_up += 1
                }
                ChannelAction::Notice(_) => {}
            }
        }
        let ch = &mut self.chans[i];
        let next = ch.machine.poll_timeout();
        if next != ch.timeout_at {
            ch.timeout_at = next;
            if let Some(at) = next {
                self.queue.push(at.max(now), Ev::ManagerTimeout(i));
                ch.timeout_at = Some(at.max(now));
            }
        }
    }

    fn spawn_engine(
        &mut self,
        now: UtcMs,
        i: usize,
        session: SessionId,
        join_at: UtcMs,
        blocks: Vec<Block>,
    ) {
        let faults = &self.faults;
        let ch = &mut self.chans[i];
        if ch.engine.is_some() {
            ch.violate(
                "single_engine",
                now,
                format!("spawn of session {session} while another engine runs"),
            );
        }
        // contract: SIM-007 (join_plays_playlog)
        let fed_until = blocks.last().map_or(join_at, |b| b.end);
        let spawned: Vec<&Segment> = blocks.iter().flat_map(|b| &b.segments).collect();
        let expected = plan_at(&ch.playlog[..ch.published], join_at, fed_until, |_| false);
        let matches = match &expected {
            PlanOutcome::Plan(segments) => {
                segments.len() == spawned.len()
                    && segments.iter().zip(&spawned).all(|(a, b)| a == *b)
            }
            _ => false,
        };
        if !matches {
            ch.violate(
                "join_plays_playlog",
                now,
                format!(
                    "spawn at {} does not play the plan at now",
                    fmt_utc(join_at)
                ),
            );
        }
        let mut engine = SimEngine {
            session,
            fed: VecDeque::new(),
            fed_until: join_at,
            started_at: None,
            stalled: false,
            on_air_since: None,
        };
        for block in blocks {
            push_block(&mut engine, block);
        }
        engine.fed_until = fed_until;
        ch.engine = Some(engine);
        self.stats.engine_starts += 1;
        if faults.is_down(&ch.channel.id, now) {
            ch.open_fault(now);
            self.queue.push(now, Ev::Crash(i, Some(session)));
            return;
        }
        let delay = faults.start_delay_ms(&ch.channel.id);
        if delay > 0 {
            ch.open_fault(now);
        }
        self.queue.push(now + delay, Ev::EngineStarted(i, session));
        if faults.crash_rate_per_hour > 0.0 {
            let mean = 3_600_000.0 / faults.crash_rate_per_hour;
            let dt = (-(1.0 - ch.fault_rng.unit()).ln() * mean).round() as i64;
            self.queue
                .push(now + dt.max(1), Ev::Crash(i, Some(session)));
        }
    }

    fn feed_engine(&mut self, now: UtcMs, i: usize, session: SessionId, block: Block) {
        let ch = &mut self.chans[i];
        let Some(engine) = ch.engine.as_mut().filter(|e| e.session == session) else {
            ch.violate(
                "single_engine",
                now,
                format!("block fed to session {session}, which is not running"),
            );
            return;
        };
        let mut at = engine.fed_until;
        let mut ok = true;
        for s in &block.segments {
            let exact = event_at(&ch.playlog[..ch.published], s.start)
                .map(|k| Segment::from_event(&ch.playlog[k]));
            ok &= s.start == at && exact.as_ref() == Some(s);
            at = s.end;
        }
        engine.fed_until = at;
        push_block(engine, block);
        if !ok {
            ch.violate(
                "join_plays_playlog",
                now,
                "a fed block does not continue the playlog".to_string(),
            );
        }
    }

    /// The engine is told to stop: like a real engine it reports the segment it cuts, then
    /// exits; both reach the machine (MACHINE-002).
    fn stop_engine(&mut self, now: UtcMs, i: usize, session: SessionId, reason: &str) {
        let ch = &mut self.chans[i];
        let Some(engine) = ch.engine.take().filter(|e| e.session == session) else {
            return;
        };
        ch.closing.insert(session);
        if !engine.stalled {
            if let (Some(front), Some(since)) = (engine.fed.front(), engine.on_air_since) {
                let seg = &front.segment;
                if since < now && now < seg.end {
                    let report = EngineReport::SegmentTruncated {
                        event_id: seg.event_id.clone(),
                        start: since,
                        end: now,
                        reason: format!("stopped: {reason}"),
                    };
                    ch.machine.engine_report(now, session, &report);
                }
            }
        }
        ch.machine.engine_exited(now, session, &EngineExit::Ended);
    }

    /// The engine just came up (`first`) or finished its front segment: report, move on.
    fn advance_engine(&mut self, now: UtcMs, i: usize, first: bool) {
        let ch = &mut self.chans[i];
        let engine = ch.engine.as_mut().expect("advance of a live engine");
        // Segments that ended before the engine came up never aired.
        while engine.fed.front().is_some_and(|f| f.segment.end <= now) {
            engine.fed.pop_front();
        }
        let session = engine.session;
        match engine.fed.front() {
            Some(next) => {
                if next.first_of_block || first {
                    let report = EngineReport::BlockStarted {
                        seq: next.block_seq,
                        at: now,
                    };
                    ch.machine.engine_report(now, session, &report);
                }
                let event_id = next.segment.event_id.clone();
                let end = next.segment.end;
                engine.on_air_since = Some(now);
                ch.machine.engine_report(
                    now,
                    session,
                    &EngineReport::SegmentStarted { event_id, at: now },
                );
                self.queue.push(end, Ev::SegmentEnd(i, session));
            }
            None => {
                engine.on_air_since = None;
                // At a schedule gap (a day without a plan) the fed plan ends by design: the
                // engine idles until the machine takes it off the air (MGR-010).
                let at_gap =
                    event_at(&ch.playlog[..ch.published], now).is_none() && now < ch.known_until;
                if !at_gap && ch.end.is_none_or(|e| now < e) {
                    ch.violate(
                        "engine_starved",
                        now,
                        format!("engine session {session} ran out of fed segments"),
                    );
                    ch.engine = None;
                    ch.closing.insert(session);
                    ch.machine
                        .engine_report(now, session, &EngineReport::Starved { at: now });
                    ch.machine.engine_exited(
                        now,
                        session,
                        &EngineExit::Crashed {
                            reason: "starved".to_string(),
                        },
                    );
                }
            }
        }
    }

    fn segment_ended(&mut self, now: UtcMs, i: usize) {
        let ch = &mut self.chans[i];
        let engine = ch.engine.as_mut().expect("live engine");
        let front = engine.fed.pop_front().expect("a segment was airing");
        let seg = front.segment;
        let start = engine.on_air_since.take().unwrap_or(seg.start);
        let session = engine.session;
        let missing = seg
            .asset
            .as_ref()
            .is_some_and(|a| self.faults.missing_assets.contains(a));
        let report = if missing {
            EngineReport::SegmentErrored {
                event_id: seg.event_id.clone(),
                start,
                end: now,
                reason: "file missing; slate shown".to_string(),
            }
        } else {
            EngineReport::SegmentAired {
                event_id: seg.event_id.clone(),
                start,
                end: now,
            }
        };
        ch.machine.engine_report(now, session, &report);
        self.advance_engine(now, i, false);
    }

    /// `engine_iff_viewers` and driver/machine agreement, after every step of a channel.
    fn check_channel(&mut self, now: UtcMs, i: usize) {
        // contract: SIM-007 (engine_iff_viewers, single_engine)
        let ch = &mut self.chans[i];
        let manager = ch.machine.manager();
        let active = manager.is_active();
        let lingering = manager.linger_until().is_some_and(|u| u >= now);
        // Viewers still waiting for their answer are not watching yet (MGR-011).
        let awaiting = manager.awaiting().len();
        let manager_viewers = manager.viewers().len() - awaiting;
        let manager_session = manager.session();
        if !ch.watching.is_empty() && !active && !ch.ended {
            let detail = format!("{} viewers but no engine", ch.watching.len());
            ch.violate("engine_iff_viewers", now, detail);
        }
        if ch.watching.is_empty() && awaiting == 0 && active && !lingering {
            ch.violate(
                "engine_iff_viewers",
                now,
                "engine held with no viewer and no linger".to_string(),
            );
        }
        if manager_viewers != ch.watching.len() {
            ch.violate(
                "engine_iff_viewers",
                now,
                "manager and simulator disagree on the viewers".to_string(),
            );
        }
        let engine_session = ch.engine.as_ref().map(|e| e.session);
        if engine_session != manager_session {
            ch.violate(
                "single_engine",
                now,
                format!(
                    "engine process {engine_session:?} but manager session {manager_session:?}"
                ),
            );
        }
        // Every process the machine knows of is alive in the simulator, and vice versa.
        let live: Vec<SessionId> = ch.machine.live_sessions().collect();
        if live != engine_session.into_iter().collect::<Vec<_>>() {
            ch.violate(
                "single_engine",
                now,
                format!(
                    "the machine tracks sessions {live:?}, the simulator runs {engine_session:?}"
                ),
            );
        }
    }

    fn finish(self) -> SimOutcome {
        let mut stats = self.stats;
        let keeper_stats = self.keeper.stats().clone();
        stats.store_failures = keeper_stats.store_failures;
        stats.keeper_retries = keeper_stats.retries;
        let mut channels = Vec::new();
        for mut ch in self.chans {
            // contract: SIM-014 (after the heal phase every horizon has caught up)
            let id = ch.channel.id.clone();
            let built = self.keeper.days_built_through(&id);
            let published = self.keeper.playlog_until(&id).unwrap_or(UtcMs::MIN);
            let end = ch.end.unwrap_or(UtcMs::MAX);
            if self.keeper.is_retrying(&id) || built < Some(self.last_date) || published < end {
                let detail = format!(
                    "after the heal phase: days built through {built:?}, playlog published until {}",
                    fmt_utc(published)
                );
                ch.violate(
                    "horizon_not_healed",
                    end.min(published.max(ch.start)),
                    detail,
                );
            }
            let days: Vec<ScheduleDay> = ch.days.into_iter().map(|d| d.day).collect();
            // contract: SIM-007 (the scheduling invariants of the built days)
            let rows = epg_rows(&ch.channel, &days);
            let schedule_violations = check_channel_days(&ch.channel, &days, &ch.playlog, &rows);
            ch.violations.extend(schedule_violations);
            let m = ch.machine.stats();
            stats.tune_ins += m.tune_ins;
            stats.restarts += m.restarts;
            stats.engine_crashes += m.engine_failures;
            channels.push(ChannelOutcome {
                tune_ins: m.tune_ins,
                engine_starts: m.engine_starts,
                engine_failures: m.engine_failures,
                restarts: m.restarts,
                start: ch.start,
                end: ch.end.unwrap_or(ch.start),
                channel: ch.channel,
                days,
                playlog: ch.playlog,
                asrun: ch.asrun,
                violations: ch.violations,
            });
        }
        SimOutcome {
            seed: self.config.seed,
            start: self.config.start,
            days: self.config.days,
            viewers: self.config.viewers.describe(),
            faults: self.faults.describe(),
            channels,
            stats,
        }
    }
}

fn push_block(engine: &mut SimEngine, block: Block) {
    for (k, segment) in block.segments.into_iter().enumerate() {
        engine.fed.push_back(FedSegment {
            block_seq: block.seq,
            first_of_block: k == 0,
            segment,
        });
    }
}

/// `asrun_matches_playlog` for one record (contracts/sim.md SIM-007).
fn check_record(
    ch: &mut Chan,
    record: &AsRunRecord,
    previous_end: Option<UtcMs>,
    stopped: bool,
    faults: &FaultPlan,
) {
    let exempt = ch.in_fault(record.start, record.end)
        || record
            .asset
            .as_ref()
            .is_some_and(|a| faults.missing_assets.contains(a));
    if exempt {
        return;
    }
    let mut problems: Vec<String> = Vec::new();
    match event_at(&ch.playlog, record.start).map(|k| &ch.playlog[k]) {
        Some(event) if event.id == record.playlog_id => {
            if event.asset != record.asset {
                problems.push("asset differs from the playlog".to_string());
            }
            if record.start != event.start && previous_end.is_some() {
                problems.push("starts after the event's start mid-session".to_string());
            }
            match record.status {
                AsRunStatus::Aired if record.end != event.end => {
                    problems.push("aired but did not end at the event's end".to_string())
                }
                AsRunStatus::Truncated if !stopped => {
                    problems.push("truncated without a stop".to_string())
                }
                AsRunStatus::Error | AsRunStatus::Skipped => {
                    problems.push(format!("status {}", record.status.as_str()))
                }
                _ => {}
            }
        }
        _ => problems.push("names no playlog event at its start".to_string()),
    }
    if previous_end.is_some_and(|p| p != record.start) {
        problems.push("does not abut the session's previous record".to_string());
    }
    for p in problems {
        ch.violate(
            "asrun_matches_playlog",
            record.start,
            format!("{} {}: {p}", record.playlog_id, fmt_utc(record.start)),
        );
    }
}
