//! The ChannelManager (MGR-001..011): a sans-IO state machine owning one channel's playout while it
//! has viewers — start on the first viewer, linger after the last, keep the engine fed, restart
//! after crashes with bounded exponential backoff. Production drives it from a thread with the
//! system clock; the simulator drives the same machine in virtual time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::engine::{group_into_blocks, Block, EngineEvidence, EngineExit, DEFAULT_BLOCK_MS};
use crate::model::{PlaylogEvent, UtcMs};
use crate::plan::{plan_at, PlanOutcome};

pub type ViewerId = u64;
/// Numbers the engine processes of one manager, so late messages of a dead one are ignored.
pub type SessionId = u64;

/// Where the manager reads the playlog: it never plans, it only asks `plan_at` over these events.
pub trait PlaylogSource {
    /// Published events, sorted by start.
    fn events(&self) -> &[PlaylogEvent];
    /// Is this asset's file missing (the shell checks the disk; the simulator its fault plan)?
    fn asset_missing(&self, asset: &str) -> bool;
    /// Until when the playlog is built: a missing event before this instant is a schedule gap
    /// (a day without a plan), after it the playlog is only short. Default: the last event's end.
    fn known_until(&self) -> UtcMs {
        self.events().last().map_or(UtcMs::MIN, |e| e.end)
    }
}

/// A plain playlog slice whose every file is present.
impl PlaylogSource for [PlaylogEvent] {
    fn events(&self) -> &[PlaylogEvent] {
        self
    }
    fn asset_missing(&self, _asset: &str) -> bool {
        false
    }
}

/// Timing knobs (contracts/manager.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    pub linger_ms: i64,
    pub backoff_initial_ms: i64,
    pub backoff_max_ms: i64,
    /// Consecutive failures tolerated; one more closes the viewers.
    pub max_restarts: u32,
    pub feed_ahead_ms: i64,
    pub block_ms: i64,
    pub start_timeout_ms: i64,
    /// A first spawn whose engine gives no output within this is given up: the viewers
    /// waiting for it are answered `Unavailable` (MGR-011).
    pub answer_timeout_ms: i64,
    pub stall_grace_ms: i64,
    /// A session that ran this long resets the failure count.
    pub stable_ms: i64,
}

impl Default for ManagerConfig {
    fn default() -> ManagerConfig {
        ManagerConfig {
            linger_ms: 5_000,
            backoff_initial_ms: 500,
            backoff_max_ms: 8_000,
            max_restarts: 5,
            feed_ahead_ms: 30_000,
            block_ms: DEFAULT_BLOCK_MS,
            start_timeout_ms: 10_000,
            answer_timeout_ms: 3_000,
            stall_grace_ms: 10_000,
            stable_ms: 30_000,
        }
    }
}

impl ManagerConfig {
    /// Backoff before the n-th consecutive restart (n ≥ 1).
    pub fn backoff_ms(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(30);
        (self.backoff_initial_ms << doublings).min(self.backoff_max_ms)
    }
}

/// What a viewer is told (MGR-004, MGR-011; HTTP-003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the stream follows.
    Stream,
    /// 404: no such channel.
    NotFound,
    /// 500: the current asset's file is missing; playout not started.
    AssetMissing { asset: String },
    /// 503: no playlog event at now.
    Gap,
    /// 503: the engine could not start or produce output (MGR-011).
    Unavailable { reason: String },
}

impl Answer {
    pub fn http_status(&self) -> u16 {
        match self {
            Answer::Stream => 200,
            Answer::NotFound => 404,
            Answer::AssetMissing { .. } => 500,
            Answer::Gap | Answer::Unavailable { .. } => 503,
        }
    }
}

/// Things worth logging that are not commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The playlog ends before the engine could be fed past `at`.
    PlaylogShort {
        at: UtcMs,
    },
    EngineFailed {
        session: SessionId,
        reason: String,
    },
    GaveUp {
        failures: u32,
    },
}

/// Outputs, in the order they must be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SpawnEngine {
        session: SessionId,
        join_at: UtcMs,
        blocks: Vec<Block>,
        restart: bool,
    },
    FeedBlock {
        session: SessionId,
        block: Block,
    },
    /// Final: the driver ends the process; the session's later messages are ignored.
    StopEngine {
        session: SessionId,
        reason: String,
    },
    AnswerViewer {
        viewer: ViewerId,
        answer: Answer,
    },
    /// Close these viewers' streams (after giving up on restarts).
    CloseViewers {
        viewers: Vec<ViewerId>,
        reason: String,
    },
    Notice(Notice),
}

/// Counters for metrics and the simulator's stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerStats {
    pub tune_ins: u64,
    pub engine_starts: u64,
    pub engine_failures: u64,
    pub restarts: u64,
    pub gave_up: u64,
}

/// The engine side of the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Starting {
        session: SessionId,
        deadline: UtcMs,
    },
    Running {
        session: SessionId,
        started_at: UtcMs,
    },
    Backoff {
        until: UtcMs,
    },
}

#[derive(Debug, Clone, Default)]
struct Feed {
    fed_until: UtcMs,
    next_seq: u64,
    /// Fed segments whose evidence has not arrived: (event id, planned end).
    awaiting: VecDeque<(String, UtcMs)>,
    /// Feeding is blocked by a short playlog until this instant.
    retry_at: Option<UtcMs>,
}

/// One channel's playout supervisor.
#[derive(Debug, Clone)]
pub struct ChannelManager {
    channel: String,
    config: ManagerConfig,
    viewers: BTreeSet<ViewerId>,
    /// Viewers not answered yet: they wait for the first spawn's output (MGR-011).
    awaiting: BTreeSet<ViewerId>,
    phase: Phase,
    feed: Feed,
    linger_until: Option<UtcMs>,
    failures: u32,
    next_session: SessionId,
    actions: VecDeque<Action>,
    stats: ManagerStats,
}

impl ChannelManager {
    pub fn new(channel: &str, config: ManagerConfig) -> ChannelManager {
        ChannelManager {
            channel: channel.to_string(),
            config,
            viewers: BTreeSet::new(),
            awaiting: BTreeSet::new(),
            phase: Phase::Idle,
            feed: Feed::default(),
            linger_until: None,
            failures: 0,
            next_session: 1,
            actions: VecDeque::new(),
            stats: ManagerStats::default(),
        }
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn viewers(&self) -> &BTreeSet<ViewerId> {
        &self.viewers
    }

    /// Viewers still waiting for their answer (counted among `viewers`).
    pub fn awaiting(&self) -> &BTreeSet<ViewerId> {
        &self.awaiting
    }

    pub fn stats(&self) -> &ManagerStats {
        &self.stats
    }

    /// The engine session in flight (starting or running).
    pub fn session(&self) -> Option<SessionId> {
        match self.phase {
            Phase::Starting { session, .. } | Phase::Running { session, .. } => Some(session),
            Phase::Idle | Phase::Backoff { .. } => None,
        }
    }

    /// Is the channel holding playout (an engine starting or running, or a restart pending)?
    pub fn is_active(&self) -> bool {
        self.phase != Phase::Idle
    }

    pub fn linger_until(&self) -> Option<UtcMs> {
        self.linger_until
    }

    pub fn handle_viewer_joined(
        &mut self,
        now: UtcMs,
        viewer: ViewerId,
        source: &(impl PlaylogSource + ?Sized),
    ) {
        let first_output_pending =
            matches!(self.phase, Phase::Starting { .. }) && !self.awaiting.is_empty();
        if self.phase != Phase::Idle {
            // Shared playout: a join never restarts the engine.
            self.viewers.insert(viewer);
            self.linger_until = None;
            if first_output_pending {
                self.awaiting.insert(viewer);
            } else {
                self.answer(viewer, Answer::Stream);
            }
            return;
        }
        match self.spawn(now, source, false) {
            Ok(()) => {
                // Answered when the engine's output begins, or refused (MGR-011).
                self.viewers.insert(viewer);
                self.awaiting.insert(viewer);
                self.linger_until = None;
            }
            Err(answer) => self.answer(viewer, answer),
        }
    }

    pub fn handle_viewer_left(&mut self, now: UtcMs, viewer: ViewerId) {
        self.awaiting.remove(&viewer);
        if !self.viewers.remove(&viewer) || !self.viewers.is_empty() {
            return;
        }
        match self.phase {
            Phase::Backoff { .. } => self.phase = Phase::Idle,
            Phase::Starting { .. } | Phase::Running { .. } => {
                self.linger_until = Some(now + self.config.linger_ms)
            }
            Phase::Idle => {}
        }
    }

    pub fn handle_engine_started(&mut self, now: UtcMs, session: SessionId) {
        if let Phase::Starting { session: s, .. } = self.phase {
            if s == session {
                self.phase = Phase::Running {
                    session,
                    started_at: now,
                };
                for viewer in std::mem::take(&mut self.awaiting) {
                    self.answer(viewer, Answer::Stream);
                }
                // Segments over before the engine came up will never get evidence.
                while self
                    .feed
                    .awaiting
                    .front()
                    .is_some_and(|(_, end)| *end <= now)
                {
                    self.feed.awaiting.pop_front();
                }
            }
        }
    }

    pub fn handle_engine_evidence(
        &mut self,
        _now: UtcMs,
        session: SessionId,
        evidence: &EngineEvidence,
    ) {
        if self.session() != Some(session) {
            return;
        }
        if let Some(segment) = evidence.segment() {
            while let Some((id, end)) = self.feed.awaiting.front() {
                if *end > segment.planned_end {
                    break;
                }
                let done = *id == segment.event_id;
                self.feed.awaiting.pop_front();
                if done {
                    break;
                }
            }
        }
    }

    pub fn handle_engine_exited(&mut self, now: UtcMs, session: SessionId, exit: &EngineExit) {
        if self.session() != Some(session) {
            return;
        }
        let reason = match exit {
            EngineExit::Crashed { reason } => reason.clone(),
            EngineExit::Ended => "engine ended on its own".to_string(),
        };
        self.fail(now, session, reason);
    }

    /// Stop everything (daemon shutdown, end of a simulation).
    pub fn handle_shutdown(&mut self, _now: UtcMs) {
        self.refuse_awaiting(&Answer::Unavailable {
            reason: "shutting down".to_string(),
        });
        if let Some(session) = self.session() {
            self.actions.push_back(Action::StopEngine {
                session,
                reason: "shutdown".to_string(),
            });
        }
        if !self.viewers.is_empty() {
            let viewers: Vec<ViewerId> = std::mem::take(&mut self.viewers).into_iter().collect();
            self.actions.push_back(Action::CloseViewers {
                viewers,
                reason: "shutdown".to_string(),
            });
        }
        self.phase = Phase::Idle;
        self.linger_until = None;
    }

    pub fn handle_timeout(&mut self, now: UtcMs, source: &(impl PlaylogSource + ?Sized)) {
        if let Some(until) = self.linger_until {
            if now >= until && self.viewers.is_empty() {
                self.linger_until = None;
                if let Some(session) = self.session() {
                    self.actions.push_back(Action::StopEngine {
                        session,
                        reason: "linger expired".to_string(),
                    });
                }
                self.phase = Phase::Idle;
                return;
            }
        }
        match self.phase.clone() {
            Phase::Idle => {}
            Phase::Backoff { until } => {
                if now >= until {
                    if let Err(answer) = self.spawn(now, source, true) {
                        let reason = match answer {
                            Answer::AssetMissing { asset } => format!("asset {asset} missing"),
                            _ => "schedule gap".to_string(),
                        };
                        self.fail(now, 0, reason);
                    }
                }
            }
            Phase::Starting { session, deadline } => {
                if now >= deadline {
                    self.kill(now, session, "start timeout");
                    return;
                }
                self.feed_due(now, source);
            }
            Phase::Running {
                session,
                started_at,
            } => {
                if let Some(at) = self.watchdog(started_at) {
                    if now >= at {
                        self.kill(now, session, "stalled");
                        return;
                    }
                }
                self.feed_due(now, source);
            }
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<UtcMs> {
        let feed_at = || match self.feed.retry_at {
            Some(at) => at,
            None => self.feed.fed_until - self.config.feed_ahead_ms,
        };
        let phase_at = match self.phase {
            Phase::Idle => None,
            Phase::Backoff { until } => Some(until),
            Phase::Starting { deadline, .. } => Some(deadline.min(feed_at())),
            Phase::Running { started_at, .. } => {
                let feed = feed_at();
                Some(self.watchdog(started_at).map_or(feed, |w| w.min(feed)))
            }
        };
        match (phase_at, self.linger_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn answer(&mut self, viewer: ViewerId, answer: Answer) {
        if answer == Answer::Stream {
            self.stats.tune_ins += 1;
        }
        self.actions
            .push_back(Action::AnswerViewer { viewer, answer });
    }

    fn bucket_end(&self, t: UtcMs) -> UtcMs {
        (t.div_euclid(self.config.block_ms) + 1) * self.config.block_ms
    }

    /// Plan at now and spawn an engine with enough blocks to reach `now + feed_ahead`.
    fn spawn(
        &mut self,
        now: UtcMs,
        source: &(impl PlaylogSource + ?Sized),
        restart: bool,
    ) -> Result<(), Answer> {
        let until = self.bucket_end(now + self.config.feed_ahead_ms);
        let segments = match plan_at(source.events(), now, until, |a| source.asset_missing(a)) {
            PlanOutcome::Plan(segments) => segments,
            PlanOutcome::Gap { .. } => return Err(Answer::Gap),
            PlanOutcome::AssetFault { asset, .. } => return Err(Answer::AssetMissing { asset }),
        };
        let blocks = group_into_blocks(segments, self.config.block_ms, 0);
        let session = self.next_session;
        self.next_session += 1;
        self.feed = Feed {
            fed_until: blocks.last().map_or(now, |b| b.end),
            next_seq: blocks.len() as u64,
            awaiting: blocks
                .iter()
                .flat_map(|b| b.segments.iter().map(|s| (s.event_id.clone(), s.end)))
                .collect(),
            retry_at: None,
        };
        let bound = if restart {
            self.config.start_timeout_ms
        } else {
            self.config.answer_timeout_ms
        };
        self.phase = Phase::Starting {
            session,
            deadline: now + bound,
        };
        self.stats.engine_starts += 1;
        if restart {
            self.stats.restarts += 1;
        }
        self.actions.push_back(Action::SpawnEngine {
            session,
            join_at: now,
            blocks,
            restart,
        });
        Ok(())
    }

    fn feed_due(&mut self, now: UtcMs, source: &(impl PlaylogSource + ?Sized)) {
        let Some(session) = self.session() else {
            return;
        };
        if self.feed.retry_at.is_some_and(|at| now < at) {
            return;
        }
        self.feed.retry_at = None;
        while self.feed.fed_until - self.config.feed_ahead_ms <= now {
            let from = self.feed.fed_until;
            // Later files are checked by the engine (it reports an errored segment).
            let outcome = plan_at(source.events(), from, self.bucket_end(from), |_| false);
            let PlanOutcome::Plan(segments) = outcome else {
                if from < source.known_until() {
                    // A schedule gap ahead (MGR-010): play up to it, then go off the air.
                    if now >= from {
                        self.go_off_air(session);
                    } else {
                        self.feed.retry_at = Some(from);
                    }
                    return;
                }
                self.feed.retry_at = Some(now + 1_000);
                self.actions
                    .push_back(Action::Notice(Notice::PlaylogShort { at: from }));
                return;
            };
            let seq = self.feed.next_seq;
            for block in group_into_blocks(segments, self.config.block_ms, seq) {
                self.feed.next_seq += 1;
                self.feed.fed_until = block.end;
                self.feed
                    .awaiting
                    .extend(block.segments.iter().map(|s| (s.event_id.clone(), s.end)));
                self.actions.push_back(Action::FeedBlock { session, block });
            }
        }
    }

    /// The schedule has a gap at now: stop the engine and end every viewer's stream; tune-ins
    /// during the gap are answered 503 by `spawn`.
    fn go_off_air(&mut self, session: SessionId) {
        self.refuse_awaiting(&Answer::Gap);
        let reason = "schedule gap: off the air".to_string();
        self.actions.push_back(Action::StopEngine {
            session,
            reason: reason.clone(),
        });
        let viewers: Vec<ViewerId> = std::mem::take(&mut self.viewers).into_iter().collect();
        if !viewers.is_empty() {
            self.actions
                .push_back(Action::CloseViewers { viewers, reason });
        }
        self.phase = Phase::Idle;
        self.linger_until = None;
        self.failures = 0;
    }

    /// When the oldest awaited evidence is overdue.
    fn watchdog(&self, started_at: UtcMs) -> Option<UtcMs> {
        self.feed
            .awaiting
            .front()
            .map(|(_, end)| (*end).max(started_at) + self.config.stall_grace_ms)
    }

    fn kill(&mut self, now: UtcMs, session: SessionId, reason: &str) {
        self.actions.push_back(Action::StopEngine {
            session,
            reason: reason.to_string(),
        });
        self.fail(now, session, reason.to_string());
    }

    /// Viewers still waiting are answered `answer` and are not watching.
    fn refuse_awaiting(&mut self, answer: &Answer) {
        for viewer in std::mem::take(&mut self.awaiting) {
            self.viewers.remove(&viewer);
            self.answer(viewer, answer.clone());
        }
    }

    /// An engine died or could not be (re)started: back off, or give up. Viewers still waiting
    /// for a first spawn's output are refused with the reason at once (MGR-011).
    fn fail(&mut self, now: UtcMs, session: SessionId, reason: String) {
        self.stats.engine_failures += 1;
        self.refuse_awaiting(&Answer::Unavailable {
            reason: reason.clone(),
        });
        self.actions
            .push_back(Action::Notice(Notice::EngineFailed { session, reason }));
        if let Phase::Running { started_at, .. } = self.phase {
            if now - started_at >= self.config.stable_ms {
                self.failures = 0;
            }
        }
        if self.viewers.is_empty() {
            self.phase = Phase::Idle;
            self.linger_until = None;
            return;
        }
        self.failures += 1;
        if self.failures > self.config.max_restarts {
            let viewers: Vec<ViewerId> = std::mem::take(&mut self.viewers).into_iter().collect();
            self.actions.push_back(Action::Notice(Notice::GaveUp {
                failures: self.failures,
            }));
            self.actions.push_back(Action::CloseViewers {
                viewers,
                reason: format!("engine failed {} times", self.failures),
            });
            self.stats.gave_up += 1;
            self.failures = 0;
            self.phase = Phase::Idle;
            return;
        }
        self.phase = Phase::Backoff {
            until: now + self.config.backoff_ms(self.failures),
        };
    }
}

/// The channels a daemon serves; unknown ids are answered 404 here, before any manager.
#[derive(Debug, Clone, Default)]
pub struct ChannelRegistry {
    managers: BTreeMap<String, ChannelManager>,
}

impl ChannelRegistry {
    pub fn new() -> ChannelRegistry {
        ChannelRegistry::default()
    }

    pub fn insert(&mut self, manager: ChannelManager) {
        self.managers.insert(manager.channel().to_string(), manager);
    }

    /// The manager of `channel`, or the 404 answer.
    pub fn route(&mut self, channel: &str) -> Result<&mut ChannelManager, Answer> {
        self.managers.get_mut(channel).ok_or(Answer::NotFound)
    }

    pub fn managers(&self) -> impl Iterator<Item = &ChannelManager> {
        self.managers.values()
    }
}
