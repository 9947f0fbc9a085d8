//! The channel machine (contracts/channel.md): one channel's whole decision logic — the
//! ChannelManager, the mapping of each engine session's reports to manager evidence and as-run
//! records, and the per-session bookkeeping. The daemon's channel thread and the simulator feed
//! it the same inputs and carry out the same actions; they only move bytes, processes and time.

use std::collections::{BTreeMap, VecDeque};

use crate::asrun::AsRunRecorder;
use crate::engine::{Block, EngineEvidence, EngineExit, SegmentRef};
use crate::manager::{
    Action, Answer, ChannelManager, ManagerConfig, ManagerStats, Notice, Phase, PlaylogSource,
    SessionId, ViewerId,
};
use crate::model::{AsRunRecord, AsRunStatus, UtcMs};
use crate::plan::Segment;
use crate::time::fmt_utc;

/// What an engine session says, by playlog event id (the engine protocol's evidence without
/// its transport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineReport {
    /// The engine is up and producing output.
    Started,
    BlockStarted {
        seq: u64,
        at: UtcMs,
    },
    SegmentStarted {
        event_id: String,
        at: UtcMs,
    },
    SegmentAired {
        event_id: String,
        start: UtcMs,
        end: UtcMs,
    },
    SegmentTruncated {
        event_id: String,
        start: UtcMs,
        end: UtcMs,
        reason: String,
    },
    SegmentErrored {
        event_id: String,
        start: UtcMs,
        end: UtcMs,
        reason: String,
    },
    SegmentSkipped {
        event_id: String,
        reason: String,
    },
    /// The engine had nothing fed to play at `at`.
    Starved {
        at: UtcMs,
    },
    ProtocolError {
        line: u64,
        reason: String,
    },
    SessionEnded {
        reason: String,
    },
}

/// How much a notice matters to an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Info,
    /// A viewer or the channel is affected.
    Warn,
}

/// Things worth logging that are not commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelNotice {
    Manager(Notice),
    /// A file could not be played (MACHINE-001): the engine showed a slate instead.
    SegmentErrored {
        session: SessionId,
        event_id: String,
        asset: Option<String>,
        at: UtcMs,
        reason: String,
    },
    SegmentSkipped {
        session: SessionId,
        event_id: String,
        reason: String,
    },
    Starved {
        session: SessionId,
        at: UtcMs,
    },
    ProtocolError {
        session: SessionId,
        line: u64,
        reason: String,
    },
    /// A report about a segment never fed to that session.
    UnknownSegment {
        session: SessionId,
        event_id: String,
    },
}

impl ChannelNotice {
    pub fn severity(&self) -> Severity {
        match self {
            ChannelNotice::Manager(Notice::PlaylogShort { .. })
            | ChannelNotice::Manager(Notice::EngineFailed { .. })
            | ChannelNotice::Manager(Notice::GaveUp { .. })
            | ChannelNotice::SegmentErrored { .. }
            | ChannelNotice::SegmentSkipped { .. }
            | ChannelNotice::Starved { .. }
            | ChannelNotice::ProtocolError { .. } => Severity::Warn,
            ChannelNotice::UnknownSegment { .. } => Severity::Debug,
        }
    }

    /// What kind of notice this is, for rate-limiting repeats in the log.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelNotice::Manager(Notice::PlaylogShort { .. }) => "playlog_short",
            ChannelNotice::Manager(Notice::EngineFailed { .. }) => "engine_failed",
            ChannelNotice::Manager(Notice::GaveUp { .. }) => "gave_up",
            ChannelNotice::SegmentErrored { .. } => "segment_errored",
            ChannelNotice::SegmentSkipped { .. } => "segment_skipped",
            ChannelNotice::Starved { .. } => "starved",
            ChannelNotice::ProtocolError { .. } => "protocol_error",
            ChannelNotice::UnknownSegment { .. } => "unknown_segment",
        }
    }

    /// One line for the log (the driver prefixes the channel).
    pub fn describe(&self) -> String {
        match self {
            ChannelNotice::Manager(Notice::PlaylogShort { at }) => {
                format!("the playlog ends at {}: cannot feed further", fmt_utc(*at))
            }
            ChannelNotice::Manager(Notice::EngineFailed { session, reason }) => {
                format!("engine session {session} failed: {reason}")
            }
            ChannelNotice::Manager(Notice::GaveUp { failures }) => {
                format!("gave up after {failures} consecutive engine failures")
            }
            ChannelNotice::SegmentErrored {
                session,
                event_id,
                asset,
                at,
                reason,
            } => format!(
                "session {session}: asset {} of {event_id} could not be played at {}: {reason}",
                asset.as_deref().unwrap_or("-"),
                fmt_utc(*at)
            ),
            ChannelNotice::SegmentSkipped {
                session,
                event_id,
                reason,
            } => format!("session {session}: {event_id} skipped: {reason}"),
            ChannelNotice::Starved { session, at } => {
                format!("session {session}: engine starved at {}", fmt_utc(*at))
            }
            ChannelNotice::ProtocolError {
                session,
                line,
                reason,
            } => format!("session {session}: engine protocol error on line {line}: {reason}"),
            ChannelNotice::UnknownSegment { session, event_id } => {
                format!("session {session}: evidence for {event_id}, which it was never fed")
            }
        }
    }
}

/// Outputs, in the order they must be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelAction {
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
    /// End the process; its last reports and its exit are still to be passed in.
    StopEngine {
        session: SessionId,
        reason: String,
    },
    AnswerViewer {
        viewer: ViewerId,
        answer: Answer,
    },
    CloseViewers {
        viewers: Vec<ViewerId>,
        reason: String,
    },
    /// Make this record durable.
    AsRun {
        session: SessionId,
        record: AsRunRecord,
    },
    Notice(ChannelNotice),
}

/// One engine process's bookkeeping, from spawn to exit.
#[derive(Debug, Clone)]
struct EngineSession {
    /// Segments fed and not yet closed by evidence, by event id.
    fed: BTreeMap<String, Segment>,
    recorder: AsRunRecorder,
    /// Set once the machine asked for the stop: the reason.
    stopping: Option<String>,
}

/// One channel's decision logic while it is watched.
#[derive(Debug, Clone)]
pub struct ChannelMachine {
    channel: String,
    manager: ChannelManager,
    sessions: BTreeMap<SessionId, EngineSession>,
    actions: VecDeque<ChannelAction>,
}

impl ChannelMachine {
    pub fn new(channel: &str, config: ManagerConfig) -> ChannelMachine {
        ChannelMachine {
            channel: channel.to_string(),
            manager: ChannelManager::new(channel, config),
            sessions: BTreeMap::new(),
            actions: VecDeque::new(),
        }
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub fn manager(&self) -> &ChannelManager {
        &self.manager
    }

    pub fn stats(&self) -> &ManagerStats {
        self.manager.stats()
    }

    /// Is the channel holding playout (an engine starting or running, or a restart pending)?
    pub fn is_active(&self) -> bool {
        self.manager.is_active()
    }

    /// Engine processes not yet known to have exited (the current one and stopping ones).
    pub fn live_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// Is the machine idle with nothing left to wait for?
    pub fn is_idle(&self) -> bool {
        *self.manager.phase() == Phase::Idle
            && self.manager.viewers().is_empty()
            && self.sessions.is_empty()
    }

    pub fn viewer_joined(
        &mut self,
        now: UtcMs,
        viewer: ViewerId,
        source: &(impl PlaylogSource + ?Sized),
    ) {
        self.manager.handle_viewer_joined(now, viewer, source);
        self.drain_manager();
    }

    pub fn viewer_left(&mut self, now: UtcMs, viewer: ViewerId) {
        self.manager.handle_viewer_left(now, viewer);
        self.drain_manager();
    }

    pub fn timeout(&mut self, now: UtcMs, source: &(impl PlaylogSource + ?Sized)) {
        self.manager.handle_timeout(now, source);
        self.drain_manager();
    }

    pub fn shutdown(&mut self, now: UtcMs) {
        self.manager.handle_shutdown(now);
        self.drain_manager();
    }

    pub fn poll_timeout(&self) -> Option<UtcMs> {
        self.manager.poll_timeout()
    }

    pub fn poll_action(&mut self) -> Option<ChannelAction> {
        self.actions.pop_front()
    }

    /// One report of engine session `session` (MACHINE-001, MACHINE-002).
    pub fn engine_report(&mut self, now: UtcMs, session: SessionId, report: &EngineReport) {
        let current = self.manager.session() == Some(session);
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        let drives_manager = current && state.stopping.is_none();
        let mut notice = None;
        let evidence = match report {
            EngineReport::Started => {
                if drives_manager {
                    self.manager.handle_engine_started(now, session);
                }
                None
            }
            EngineReport::BlockStarted { seq, at } => {
                Some(EngineEvidence::BlockStarted { seq: *seq, at: *at })
            }
            EngineReport::SegmentStarted { event_id, at } => match state.fed.get(event_id) {
                Some(segment) => Some(EngineEvidence::SegmentStarted {
                    segment: SegmentRef::of(segment),
                    at: *at,
                }),
                None => {
                    notice = Some(unknown(session, event_id));
                    None
                }
            },
            EngineReport::SegmentAired {
                event_id,
                start,
                end,
            } => match state.fed.remove(event_id) {
                Some(segment) => Some(EngineEvidence::SegmentAired {
                    segment: SegmentRef::of(&segment),
                    start: *start,
                    end: *end,
                }),
                None => {
                    notice = Some(unknown(session, event_id));
                    None
                }
            },
            EngineReport::SegmentTruncated {
                event_id,
                start,
                end,
                reason,
            } => match state.fed.remove(event_id) {
                Some(segment) => Some(EngineEvidence::SegmentTruncated {
                    segment: SegmentRef::of(&segment),
                    start: *start,
                    end: *end,
                    reason: reason.clone(),
                }),
                None => {
                    notice = Some(unknown(session, event_id));
                    None
                }
            },
            EngineReport::SegmentErrored {
                event_id,
                start,
                end,
                reason,
            } => match state.fed.remove(event_id) {
                Some(segment) => {
                    notice = Some(ChannelNotice::SegmentErrored {
                        session,
                        event_id: event_id.clone(),
                        asset: segment.asset.clone(),
                        at: *start,
                        reason: reason.clone(),
                    });
                    Some(EngineEvidence::SegmentErrored {
                        segment: SegmentRef::of(&segment),
                        start: *start,
                        end: *end,
                        reason: reason.clone(),
                    })
                }
                None => {
                    notice = Some(unknown(session, event_id));
                    None
                }
            },
            EngineReport::SegmentSkipped { event_id, reason } => {
                match state.fed.remove(event_id) {
                    Some(segment) => {
                        self.actions.push_back(ChannelAction::AsRun {
                            session,
                            record: AsRunRecord {
                                channel: self.channel.clone(),
                                playlog_id: segment.event_id.clone(),
                                start: segment.start,
                                end: segment.start,
                                asset: segment.asset.clone(),
                                kind: segment.kind,
                                status: AsRunStatus::Skipped,
                                reason: Some(reason.clone()),
                            },
                        });
                        notice = Some(ChannelNotice::SegmentSkipped {
                            session,
                            event_id: event_id.clone(),
                            reason: reason.clone(),
                        });
                        // For the manager a skipped segment is closed: it is not awaited.
                        if drives_manager {
                            let closed = EngineEvidence::SegmentTruncated {
                                segment: SegmentRef::of(&segment),
                                start: segment.start,
                                end: segment.start,
                                reason: reason.clone(),
                            };
                            self.manager.handle_engine_evidence(now, session, &closed);
                        }
                    }
                    None => notice = Some(unknown(session, event_id)),
                }
                None
            }
            EngineReport::Starved { at } => {
                notice = Some(ChannelNotice::Starved { session, at: *at });
                None
            }
            EngineReport::ProtocolError { line, reason } => {
                notice = Some(ChannelNotice::ProtocolError {
                    session,
                    line: *line,
                    reason: reason.clone(),
                });
                None
            }
            EngineReport::SessionEnded { .. } => None,
        };
        if let Some(evidence) = evidence {
            let state = self.sessions.get_mut(&session).expect("looked up above");
            state.recorder.handle_evidence(&evidence);
            if drives_manager {
                self.manager.handle_engine_evidence(now, session, &evidence);
            }
        }
        if let Some(notice) = notice {
            self.actions.push_back(ChannelAction::Notice(notice));
        }
        self.drain_records(session);
        self.drain_manager();
    }

    /// Engine session `session`'s process is gone (MACHINE-002): a crash unless it was stopped.
    pub fn engine_exited(&mut self, now: UtcMs, session: SessionId, exit: &EngineExit) {
        let Some(mut state) = self.sessions.remove(&session) else {
            // Not a session this machine spawned (or already closed): only the manager may care.
            if self.manager.session() == Some(session) {
                self.manager.handle_engine_exited(now, session, exit);
                self.drain_manager();
            }
            return;
        };
        match &state.stopping {
            Some(reason) => {
                state
                    .recorder
                    .handle_session_closed(now, &format!("stopped: {reason}"));
            }
            None => {
                let reason = match exit {
                    EngineExit::Crashed { reason } => reason.clone(),
                    EngineExit::Ended => "engine ended on its own".to_string(),
                };
                state.recorder.handle_engine_exited(now, &reason);
            }
        }
        while let Some(record) = state.recorder.poll_record() {
            self.actions
                .push_back(ChannelAction::AsRun { session, record });
        }
        if state.stopping.is_none() {
            self.manager.handle_engine_exited(now, session, exit);
            self.drain_manager();
        }
    }

    fn drain_records(&mut self, session: SessionId) {
        if let Some(state) = self.sessions.get_mut(&session) {
            while let Some(record) = state.recorder.poll_record() {
                self.actions
                    .push_back(ChannelAction::AsRun { session, record });
            }
        }
    }

    /// Turn the manager's actions into the machine's, keeping the session bookkeeping.
    fn drain_manager(&mut self) {
        while let Some(action) = self.manager.poll_action() {
            let out = match action {
                Action::SpawnEngine {
                    session,
                    join_at,
                    blocks,
                    restart,
                } => {
                    let fed = blocks
                        .iter()
                        .flat_map(|b| &b.segments)
                        .map(|s| (s.event_id.clone(), s.clone()))
                        .collect();
                    self.sessions.insert(
                        session,
                        EngineSession {
                            fed,
                            recorder: AsRunRecorder::new(&self.channel),
                            stopping: None,
                        },
                    );
                    ChannelAction::SpawnEngine {
                        session,
                        join_at,
                        blocks,
                        restart,
                    }
                }
                Action::FeedBlock { session, block } => {
                    if let Some(state) = self.sessions.get_mut(&session) {
                        for s in &block.segments {
                            state.fed.insert(s.event_id.clone(), s.clone());
                        }
                    }
                    ChannelAction::FeedBlock { session, block }
                }
                Action::StopEngine { session, reason } => {
                    if let Some(state) = self.sessions.get_mut(&session) {
                        state.stopping = Some(reason.clone());
                    }
                    ChannelAction::StopEngine { session, reason }
                }
                Action::AnswerViewer { viewer, answer } => {
                    ChannelAction::AnswerViewer { viewer, answer }
                }
                Action::CloseViewers { viewers, reason } => {
                    ChannelAction::CloseViewers { viewers, reason }
                }
                Action::Notice(notice) => ChannelAction::Notice(ChannelNotice::Manager(notice)),
            };
            self.actions.push_back(out);
        }
    }
}

fn unknown(session: SessionId, event_id: &str) -> ChannelNotice {
    ChannelNotice::UnknownSegment {
        session,
        event_id: event_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, PlaylogEvent};

    const MIN: i64 = 60_000;
    /// 2026-03-02T11:00:00Z
    const T0: UtcMs = 1_772_449_200_000;

    /// A tiled playlog of 10-minute events over `hours` from T0, assets a0, a1, …
    fn playlog(hours: i64) -> Vec<PlaylogEvent> {
        (0..hours * 6)
            .map(|k| PlaylogEvent {
                id: format!("ch:2026-03-02:{k:05}"),
                channel: "ch".into(),
                start: T0 + k * 10 * MIN,
                end: T0 + (k + 1) * 10 * MIN,
                kind: EventKind::Content,
                asset: Some(format!("a{k}")),
                in_point_ms: 0,
                item_start: None,
            })
            .collect()
    }

    fn machine() -> ChannelMachine {
        ChannelMachine::new("ch", ManagerConfig::default())
    }

    fn drain(m: &mut ChannelMachine) -> Vec<ChannelAction> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn records(actions: &[ChannelAction]) -> Vec<AsRunRecord> {
        actions
            .iter()
            .filter_map(|a| match a {
                ChannelAction::AsRun { record, .. } => Some(record.clone()),
                _ => None,
            })
            .collect()
    }

    fn notices(actions: &[ChannelAction]) -> Vec<ChannelNotice> {
        actions
            .iter()
            .filter_map(|a| match a {
                ChannelAction::Notice(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// One viewer joins at `at` and the engine comes up at once; returns the session and the
    /// event ids it was fed at spawn.
    fn watched(
        m: &mut ChannelMachine,
        src: &[PlaylogEvent],
        at: UtcMs,
    ) -> (SessionId, Vec<String>) {
        m.viewer_joined(at, 1, src);
        let actions = drain(m);
        let Some(ChannelAction::SpawnEngine {
            session, blocks, ..
        }) = actions.first()
        else {
            panic!("expected a spawn, got {actions:?}");
        };
        let fed: Vec<String> = blocks
            .iter()
            .flat_map(|b| &b.segments)
            .map(|s| s.event_id.clone())
            .collect();
        let session = *session;
        m.engine_report(at, session, &EngineReport::Started);
        drain(m);
        (session, fed)
    }

    #[test]
    fn reports_by_event_id_become_as_run_with_actual_times() {
        // contract: MACHINE-001
        let src = playlog(3);
        let mut m = machine();
        let join = T0 + 7 * MIN;
        let (session, fed) = watched(&mut m, &src, join);
        assert_eq!(
            fed[..3],
            [src[0].id.clone(), src[1].id.clone(), src[2].id.clone()]
        );
        // Joined in progress: the record keeps the actual start, not the event's.
        let on_air = join + 250;
        m.engine_report(
            on_air,
            session,
            &EngineReport::SegmentStarted {
                event_id: src[0].id.clone(),
                at: on_air,
            },
        );
        assert!(
            records(&drain(&mut m)).is_empty(),
            "started is not a record"
        );
        m.engine_report(
            src[0].end,
            session,
            &EngineReport::SegmentAired {
                event_id: src[0].id.clone(),
                start: on_air,
                end: src[0].end,
            },
        );
        let got = records(&drain(&mut m));
        assert_eq!(
            got,
            vec![AsRunRecord {
                channel: "ch".into(),
                playlog_id: src[0].id.clone(),
                start: on_air,
                end: src[0].end,
                asset: Some("a0".into()),
                kind: EventKind::Content,
                status: AsRunStatus::Aired,
                reason: None,
            }]
        );
        // An errored segment: an `error` record and a warn notice naming the asset.
        m.engine_report(
            src[1].end,
            session,
            &EngineReport::SegmentErrored {
                event_id: src[1].id.clone(),
                start: src[1].start,
                end: src[1].end,
                reason: "file missing".into(),
            },
        );
        let actions = drain(&mut m);
        let got = records(&actions);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, AsRunStatus::Error);
        assert_eq!((got[0].start, got[0].end), (src[1].start, src[1].end));
        assert_eq!(got[0].reason.as_deref(), Some("file missing"));
        let warn = notices(&actions);
        assert_eq!(warn.len(), 1, "{warn:?}");
        assert!(matches!(
            &warn[0],
            ChannelNotice::SegmentErrored { asset: Some(a), at, .. } if a == "a1" && *at == src[1].start
        ));
        assert_eq!(warn[0].severity(), Severity::Warn);
        assert!(warn[0].describe().contains("a1"), "{}", warn[0].describe());
        // A skipped segment: a `skipped` record at its planned start, zero length.
        m.engine_report(
            src[1].end,
            session,
            &EngineReport::SegmentSkipped {
                event_id: src[2].id.clone(),
                reason: "unreadable".into(),
            },
        );
        let actions = drain(&mut m);
        let got = records(&actions);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, AsRunStatus::Skipped);
        assert_eq!((got[0].start, got[0].end), (src[2].start, src[2].start));
        assert_eq!(got[0].playlog_id, src[2].id);
        assert_eq!(got[0].reason.as_deref(), Some("unreadable"));
        assert!(matches!(
            notices(&actions).as_slice(),
            [ChannelNotice::SegmentSkipped { .. }]
        ));
        // Unknown ids — never fed, or already closed — are ignored and noticed at debug level.
        for id in ["ch:2026-03-02:99999".to_string(), src[0].id.clone()] {
            m.engine_report(
                src[2].end,
                session,
                &EngineReport::SegmentAired {
                    event_id: id.clone(),
                    start: src[2].start,
                    end: src[2].end,
                },
            );
            let actions = drain(&mut m);
            assert!(records(&actions).is_empty(), "{id}: {actions:?}");
            let n = notices(&actions);
            assert!(
                matches!(n.as_slice(), [ChannelNotice::UnknownSegment { event_id, .. }] if *event_id == id),
                "{n:?}"
            );
            assert_eq!(n[0].severity(), Severity::Debug);
        }
        // Reports of a session this machine never spawned do nothing at all.
        m.engine_report(
            src[2].end,
            session + 100,
            &EngineReport::SegmentAired {
                event_id: src[3].id.clone(),
                start: src[3].start,
                end: src[3].end,
            },
        );
        assert!(drain(&mut m).is_empty());
    }

    /// Drive the machine until the last viewer's linger expires; returns the stop's reason.
    fn stop_by_linger(m: &mut ChannelMachine, src: &[PlaylogEvent], left: UtcMs) -> String {
        m.viewer_left(left, 1);
        drain(m);
        let deadline = m.poll_timeout().expect("linger deadline");
        assert_eq!(deadline, left + ManagerConfig::default().linger_ms);
        m.timeout(deadline, src);
        let actions = drain(m);
        match actions.as_slice() {
            [ChannelAction::StopEngine { reason, .. }] => reason.clone(),
            other => panic!("expected a stop, got {other:?}"),
        }
    }

    #[test]
    fn a_stopped_sessions_truncation_is_recorded_once() {
        // contract: MACHINE-002
        let src = playlog(3);
        let mut m = machine();
        let (session, _) = watched(&mut m, &src, T0);
        m.engine_report(
            T0,
            session,
            &EngineReport::SegmentStarted {
                event_id: src[0].id.clone(),
                at: T0,
            },
        );
        drain(&mut m);
        let left = T0 + 3 * MIN;
        let reason = stop_by_linger(&mut m, &src, left);
        let cut = left + 5_000;
        // The stopped engine still reports the segment it cut on the way out.
        m.engine_report(
            cut,
            session,
            &EngineReport::SegmentTruncated {
                event_id: src[0].id.clone(),
                start: T0,
                end: cut,
                reason: format!("stopped: {reason}"),
            },
        );
        let got = records(&drain(&mut m));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, AsRunStatus::Truncated);
        assert_eq!((got[0].start, got[0].end), (T0, cut));
        assert_eq!(m.live_sessions().collect::<Vec<_>>(), vec![session]);
        // Its exit adds nothing: the segment was already closed.
        m.engine_exited(cut + 10, session, &EngineExit::Ended);
        let actions = drain(&mut m);
        assert!(records(&actions).is_empty(), "{actions:?}");
        assert!(m.is_idle());
        assert_eq!(m.live_sessions().count(), 0);
        // A second exit of the same process changes nothing.
        m.engine_exited(cut + 20, session, &EngineExit::Ended);
        assert!(drain(&mut m).is_empty());
    }

    #[test]
    fn one_session_closes_an_event_at_most_once() {
        // contract: ASRUN-003
        let src = playlog(3);
        let mut m = machine();
        let (session, _) = watched(&mut m, &src, T0);
        let id = src[0].id.clone();
        m.engine_report(
            T0,
            session,
            &EngineReport::SegmentStarted {
                event_id: id.clone(),
                at: T0,
            },
        );
        let aired = EngineReport::SegmentAired {
            event_id: id.clone(),
            start: T0,
            end: src[0].end,
        };
        m.engine_report(src[0].end, session, &aired);
        let first = drain(&mut m);
        assert_eq!(records(&first).len(), 1);
        assert!(first.iter().all(|a| match a {
            ChannelAction::AsRun { session: s, .. } => *s == session,
            _ => true,
        }));
        // The same closing evidence again, or another close of that event: no second record.
        m.engine_report(src[0].end, session, &aired);
        m.engine_report(
            src[0].end + 1,
            session,
            &EngineReport::SegmentTruncated {
                event_id: id.clone(),
                start: T0,
                end: src[0].end + 1,
                reason: "late".into(),
            },
        );
        let repeats = drain(&mut m);
        assert!(records(&repeats).is_empty(), "{repeats:?}");
        assert_eq!(
            notices(&repeats),
            vec![unknown(session, &id), unknown(session, &id)]
        );
        // A crash after it closes the next event on air, never this one again.
        m.engine_report(
            src[1].start,
            session,
            &EngineReport::SegmentStarted {
                event_id: src[1].id.clone(),
                at: src[1].start,
            },
        );
        m.engine_exited(
            src[1].start + MIN,
            session,
            &EngineExit::Crashed {
                reason: "killed".into(),
            },
        );
        let after = records(&drain(&mut m));
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(after[0].playlog_id, src[1].id);
    }

    #[test]
    fn a_stopped_sessions_exit_closes_what_was_on_air() {
        // contract: MACHINE-002
        let src = playlog(3);
        let mut m = machine();
        let (session, _) = watched(&mut m, &src, T0 + MIN);
        m.engine_report(
            T0 + MIN,
            session,
            &EngineReport::SegmentStarted {
                event_id: src[0].id.clone(),
                at: T0 + MIN,
            },
        );
        drain(&mut m);
        let reason = stop_by_linger(&mut m, &src, T0 + 2 * MIN);
        // The engine went without reporting the cut: the exit closes the segment on air.
        let gone = T0 + 2 * MIN + 5_400;
        m.engine_exited(gone, session, &EngineExit::Ended);
        let got = records(&drain(&mut m));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].status, AsRunStatus::Truncated);
        assert_eq!((got[0].start, got[0].end), (T0 + MIN, gone));
        assert_eq!(
            got[0].reason.as_deref(),
            Some(format!("stopped: {reason}").as_str())
        );
        // The manager did not take the stopped session's exit for a crash.
        assert_eq!(m.stats().engine_failures, 0);
        assert!(m.is_idle());
        m.engine_exited(gone + 1, session, &EngineExit::Ended);
        assert!(records(&drain(&mut m)).is_empty(), "nothing twice");
    }

    #[test]
    fn a_crash_closes_what_was_on_air_and_restarts() {
        // contract: MACHINE-002
        let src = playlog(3);
        let mut m = machine();
        let (session, _) = watched(&mut m, &src, T0);
        m.engine_report(
            T0,
            session,
            &EngineReport::SegmentStarted {
                event_id: src[0].id.clone(),
                at: T0,
            },
        );
        drain(&mut m);
        let crash = T0 + 4 * MIN;
        m.engine_exited(
            crash,
            session,
            &EngineExit::Crashed {
                reason: "exit status 137".into(),
            },
        );
        let actions = drain(&mut m);
        let got = records(&actions);
        assert_eq!(got.len(), 1, "{actions:?}");
        assert_eq!(got[0].status, AsRunStatus::Truncated);
        assert_eq!((got[0].start, got[0].end), (T0, crash));
        assert_eq!(
            got[0].reason.as_deref(),
            Some("engine exited: exit status 137")
        );
        assert!(
            notices(&actions)
                .iter()
                .any(|n| matches!(n, ChannelNotice::Manager(Notice::EngineFailed { .. }))),
            "{actions:?}"
        );
        assert_eq!(m.stats().engine_failures, 1);
        assert_eq!(m.live_sessions().count(), 0);
        // Late reports and a second exit of the crashed session are ignored.
        m.engine_report(
            crash + 1,
            session,
            &EngineReport::SegmentAired {
                event_id: src[0].id.clone(),
                start: T0,
                end: src[0].end,
            },
        );
        m.engine_exited(
            crash + 2,
            session,
            &EngineExit::Crashed {
                reason: "again".into(),
            },
        );
        assert!(records(&drain(&mut m)).is_empty(), "nothing twice");
        assert_eq!(m.stats().engine_failures, 1);
        // The viewer is still there: after the backoff a restart spawns a new session.
        let retry = m.poll_timeout().expect("a restart is scheduled");
        m.timeout(retry, src.as_slice());
        let actions = drain(&mut m);
        let restarted = actions.iter().find_map(|a| match a {
            ChannelAction::SpawnEngine {
                session: s,
                restart: true,
                join_at,
                ..
            } => Some((*s, *join_at)),
            _ => None,
        });
        let (next, join_at) = restarted.expect("restart spawn");
        assert_ne!(next, session);
        assert_eq!(join_at, retry);
        assert_eq!(m.live_sessions().collect::<Vec<_>>(), vec![next]);
    }

    /// A scripted run: two viewers, segment reports, a crash near a block boundary, a restart
    /// that is fed its next block, a stop by linger and the stopped engine's exit.
    fn scripted(m: &mut ChannelMachine) -> Vec<(UtcMs, ChannelAction)> {
        let src = playlog(4);
        let mut log = Vec::new();
        // Carries out nothing, only records; returns a spawn's session and first event id.
        let keep = |m: &mut ChannelMachine, now: UtcMs, log: &mut Vec<(UtcMs, ChannelAction)>| {
            let mut spawned = None;
            while let Some(a) = m.poll_action() {
                if let ChannelAction::SpawnEngine {
                    session, blocks, ..
                } = &a
                {
                    spawned = Some((*session, blocks[0].segments[0].event_id.clone()));
                }
                log.push((now, a));
            }
            spawned
        };
        // Joined at 11:27 (src[2] airs 11:20–11:30): the 11:30 block is fed at 11:29:30.
        let t = T0 + 27 * MIN;
        m.viewer_joined(t, 1, src.as_slice());
        let (first, event_id) = keep(m, t, &mut log).expect("spawn");
        assert_eq!(event_id, src[2].id);
        let on_air = t + 800;
        m.engine_report(on_air, first, &EngineReport::Started);
        m.engine_report(
            on_air,
            first,
            &EngineReport::SegmentStarted {
                event_id,
                at: on_air,
            },
        );
        keep(m, on_air, &mut log);
        m.viewer_joined(t + MIN, 2, src.as_slice());
        keep(m, t + MIN, &mut log);
        let crash = t + 90_000;
        m.engine_exited(
            crash,
            first,
            &EngineExit::Crashed {
                reason: "boom".into(),
            },
        );
        keep(m, crash, &mut log);
        // Follow the machine's deadlines for a minute: the restart and its feeding.
        let mut second = None;
        let mut now = crash;
        while let Some(at) = m.poll_timeout().filter(|at| *at <= crash + MIN) {
            now = at;
            m.timeout(now, src.as_slice());
            if let Some((s, event_id)) = keep(m, now, &mut log) {
                second = Some(s);
                m.engine_report(now + 500, s, &EngineReport::Started);
                m.engine_report(
                    now + 500,
                    s,
                    &EngineReport::SegmentStarted {
                        event_id,
                        at: now + 500,
                    },
                );
                keep(m, now + 500, &mut log);
            }
        }
        let second = second.expect("restarted");
        m.viewer_left(now + 1, 1);
        m.viewer_left(now + 2, 2);
        keep(m, now + 2, &mut log);
        let at = m.poll_timeout().expect("linger");
        m.timeout(at, src.as_slice());
        keep(m, at, &mut log);
        m.engine_exited(at + 100, second, &EngineExit::Ended);
        keep(m, at + 100, &mut log);
        log
    }

    #[test]
    fn the_same_inputs_give_the_same_actions() {
        // contract: MACHINE-003
        let (mut a, mut b) = (machine(), machine());
        let first = scripted(&mut a);
        let second = scripted(&mut b);
        assert_eq!(first, second);
        // The script exercised the machine: two spawns, feeding, as-run, a stop.
        let count = |f: fn(&ChannelAction) -> bool| first.iter().filter(|(_, x)| f(x)).count();
        assert_eq!(count(|x| matches!(x, ChannelAction::SpawnEngine { .. })), 2);
        assert!(count(|x| matches!(x, ChannelAction::FeedBlock { .. })) > 0);
        assert!(count(|x| matches!(x, ChannelAction::AsRun { .. })) >= 2);
        assert_eq!(count(|x| matches!(x, ChannelAction::StopEngine { .. })), 1);
        assert!(a.is_idle() && b.is_idle());
    }

    /// A published playlog with an explicit horizon (MACHINE-004).
    struct Published {
        events: Vec<PlaylogEvent>,
        known_until: UtcMs,
    }

    impl PlaylogSource for Published {
        fn events(&self) -> &[PlaylogEvent] {
            &self.events
        }
        fn asset_missing(&self, _asset: &str) -> bool {
            false
        }
        fn known_until(&self) -> UtcMs {
            self.known_until
        }
    }

    /// Watch from 11:50 with one hour of playlog (11:00–12:00) and follow the deadlines to
    /// 12:00:05; returns every action.
    fn watch_to_the_playlog_end(known_until: UtcMs) -> (ChannelMachine, Vec<ChannelAction>) {
        let src = Published {
            events: playlog(1),
            known_until,
        };
        let mut m = machine();
        let join = T0 + 50 * MIN;
        m.viewer_joined(join, 1, &src);
        let mut actions = drain(&mut m);
        let Some(ChannelAction::SpawnEngine { session, .. }) = actions.first() else {
            panic!("expected a spawn, got {actions:?}");
        };
        m.engine_report(join, *session, &EngineReport::Started);
        while let Some(at) = m.poll_timeout().filter(|at| *at <= T0 + 60 * MIN + 5_000) {
            m.timeout(at, &src);
            actions.extend(drain(&mut m));
        }
        (m, actions)
    }

    #[test]
    fn a_gap_before_the_published_horizon_goes_off_the_air() {
        // contract: MACHINE-004
        let end = T0 + 60 * MIN;
        // The next day is published and has no plan: 12:00 starts a schedule gap.
        let (mut m, actions) = watch_to_the_playlog_end(end + 24 * 60 * MIN);
        let stop = actions
            .iter()
            .position(|a| matches!(a, ChannelAction::StopEngine { reason, .. } if reason.contains("schedule gap")))
            .unwrap_or_else(|| panic!("off the air at the gap: {actions:?}"));
        assert!(matches!(
            &actions[stop + 1],
            ChannelAction::CloseViewers { viewers, .. } if *viewers == vec![1]
        ));
        assert!(!notices(&actions)
            .iter()
            .any(|n| matches!(n, ChannelNotice::Manager(Notice::PlaylogShort { .. }))));
        // A tune-in during the gap is answered 503.
        let src = Published {
            events: playlog(1),
            known_until: end + 24 * 60 * MIN,
        };
        m.viewer_joined(end + MIN, 2, &src);
        assert_eq!(
            drain(&mut m),
            vec![ChannelAction::AnswerViewer {
                viewer: 2,
                answer: Answer::Gap
            }]
        );
        // Past the published horizon the playlog is only short: the engine is kept and fed
        // as soon as the keeper extends it.
        let (m, actions) = watch_to_the_playlog_end(end);
        assert!(
            notices(&actions).iter().any(
                |n| matches!(n, ChannelNotice::Manager(Notice::PlaylogShort { at }) if *at == end)
            ),
            "{actions:?}"
        );
        assert!(!actions
            .iter()
            .any(|a| matches!(a, ChannelAction::StopEngine { .. })));
        assert!(m.is_active());
    }

    #[test]
    fn the_published_horizon_runs_through_contiguous_days() {
        // contract: MACHINE-004
        let hour = 60 * MIN;
        let day = |k: i64, plan: bool, covers: i64| crate::model::ScheduleDay {
            channel: "ch".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2 + k as u32).unwrap(),
            plan: plan.then(|| "Every day".to_string()),
            window_start: T0 + k * 24 * hour,
            window_end: T0 + (k + 1) * 24 * hour,
            effective_start: T0 + k * 24 * hour,
            covers_until: T0 + k * 24 * hour + covers,
            items: Vec::new(),
            faults: Vec::new(),
        };
        // Monday, Tuesday without a plan, Wednesday; Friday is built but Thursday is not.
        let days = vec![
            day(0, true, 24 * hour),
            day(1, false, 24 * hour),
            day(2, true, 24 * hour),
            day(4, true, 24 * hour),
        ];
        let cap = UtcMs::MAX;
        let known = crate::horizon::known_until(&days, T0 + hour, cap);
        assert_eq!(
            known,
            T0 + 72 * hour,
            "through the no-plan day, up to the hole"
        );
        assert_eq!(
            crate::horizon::known_until(&days, T0 + hour, T0 + 30 * hour),
            T0 + 30 * hour
        );
        // Inside the hole nothing is known beyond now.
        assert_eq!(
            crate::horizon::known_until(&days, T0 + 80 * hour, cap),
            T0 + 80 * hour
        );
    }
}
