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
