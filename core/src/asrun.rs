//! The as-run recorder (ASRUN-001): turns engine evidence into as-run records — what actually
//! aired, with actual times — never from the schedule.

use std::collections::VecDeque;

use crate::engine::{EngineEvidence, SegmentRef};
use crate::model::{AsRunRecord, AsRunStatus, UtcMs};

/// Collects as-run records of one channel from its engines' evidence; the shell drains them
/// with `poll_record` and makes them durable.
#[derive(Debug, Clone, Default)]
pub struct AsRunRecorder {
    channel: String,
    pending: VecDeque<AsRunRecord>,
    /// The segment on air since it started, until evidence closes it.
    on_air: Option<(SegmentRef, UtcMs)>,
}

impl AsRunRecorder {
    pub fn new(channel: &str) -> AsRunRecorder {
        AsRunRecorder {
            channel: channel.to_string(),
            pending: VecDeque::new(),
            on_air: None,
        }
    }

    /// Record one piece of evidence; evidence that is not about a segment makes no record.
    pub fn handle_evidence(&mut self, evidence: &EngineEvidence) {
        if let Some(closed) = evidence.segment() {
            if self
                .on_air
                .as_ref()
                .is_some_and(|(s, _)| s.event_id == closed.event_id)
            {
                self.on_air = None;
            }
        }
        let (segment, start, end, status, reason) = match evidence {
            EngineEvidence::SegmentAired {
                segment,
                start,
                end,
            } => (segment, *start, *end, AsRunStatus::Aired, None),
            EngineEvidence::SegmentTruncated {
                segment,
                start,
                end,
                reason,
            } => (segment, *start, *end, AsRunStatus::Truncated, Some(reason)),
            EngineEvidence::SegmentErrored {
                segment,
                start,
                end,
                reason,
            } => (segment, *start, *end, AsRunStatus::Error, Some(reason)),
            EngineEvidence::SegmentStarted { segment, at } => {
                self.on_air = Some((segment.clone(), *at));
                return;
            }
            EngineEvidence::BlockStarted { .. } | EngineEvidence::SessionEnded { .. } => return,
        };
        self.push(segment, start, end, status, reason.cloned());
    }

    /// The engine process is gone (crash, kill): the segment it had on air aired until `now`
    /// and is recorded as truncated with `reason` — what aired, not what was planned.
    pub fn handle_engine_exited(&mut self, now: UtcMs, reason: &str) {
        self.handle_session_closed(now, &format!("engine exited: {reason}"));
    }

    /// The session is over (a stop whose engine did not report the cut, or an exit): the
    /// segment still on air aired until `now`, truncated with exactly `reason`.
    pub fn handle_session_closed(&mut self, now: UtcMs, reason: &str) {
        if let Some((segment, start)) = self.on_air.take() {
            if start < now {
                let reason = reason.to_string();
                self.push(&segment, start, now, AsRunStatus::Truncated, Some(reason));
            }
        }
    }

    fn push(
        &mut self,
        segment: &SegmentRef,
        start: UtcMs,
        end: UtcMs,
        status: AsRunStatus,
        reason: Option<String>,
    ) {
        self.pending.push_back(AsRunRecord {
            channel: self.channel.clone(),
            playlog_id: segment.event_id.clone(),
            start,
            end,
            asset: segment.asset.clone(),
            kind: segment.kind,
            status,
            reason,
        });
    }

    /// The next record to make durable, oldest first.
    pub fn poll_record(&mut self) -> Option<AsRunRecord> {
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SegmentRef;
    use crate::model::EventKind;

    #[test]
    fn evidence_becomes_records_in_order() {
        let mut recorder = AsRunRecorder::new("retro-one");
        let segment = SegmentRef {
            event_id: "retro-one:2026-03-02:0".into(),
            asset: Some("cheers-s01e01".into()),
            kind: EventKind::Content,
            planned_end: 2_000,
        };
        recorder.handle_evidence(&EngineEvidence::BlockStarted { seq: 0, at: 0 });
        recorder.handle_evidence(&EngineEvidence::SegmentAired {
            segment: segment.clone(),
            start: 500,
            end: 2_000,
        });
        recorder.handle_evidence(&EngineEvidence::SegmentTruncated {
            segment,
            start: 2_000,
            end: 2_500,
            reason: "stopped".into(),
        });
        let first = recorder.poll_record().unwrap();
        assert_eq!(
            (first.start, first.end, first.status),
            (500, 2_000, AsRunStatus::Aired)
        );
        let second = recorder.poll_record().unwrap();
        assert_eq!(second.status, AsRunStatus::Truncated);
        assert_eq!(second.reason.as_deref(), Some("stopped"));
        assert!(recorder.poll_record().is_none());
    }

    #[test]
    fn a_segment_on_air_when_the_engine_dies_is_recorded_truncated() {
        let mut recorder = AsRunRecorder::new("retro-one");
        let segment = |n: u32| SegmentRef {
            event_id: format!("retro-one:2026-03-02:{n}"),
            asset: Some("ep".into()),
            kind: EventKind::Content,
            planned_end: 10_000 * (n as i64 + 1),
        };
        recorder.handle_evidence(&EngineEvidence::SegmentStarted {
            segment: segment(0),
            at: 0,
        });
        recorder.handle_evidence(&EngineEvidence::SegmentAired {
            segment: segment(0),
            start: 0,
            end: 10_000,
        });
        // A closed segment is not recorded again when the engine exits.
        recorder.handle_engine_exited(10_000, "crash");
        assert_eq!(recorder.poll_record().unwrap().status, AsRunStatus::Aired);
        assert!(recorder.poll_record().is_none());
        recorder.handle_evidence(&EngineEvidence::SegmentStarted {
            segment: segment(1),
            at: 10_000,
        });
        recorder.handle_engine_exited(14_000, "exit status 137");
        let cut = recorder.poll_record().unwrap();
        assert_eq!(
            (cut.start, cut.end, cut.status),
            (10_000, 14_000, AsRunStatus::Truncated)
        );
        assert_eq!(
            cut.reason.as_deref(),
            Some("engine exited: exit status 137")
        );
        // Only once.
        recorder.handle_engine_exited(15_000, "again");
        assert!(recorder.poll_record().is_none());
    }
}
