//! The as-run recorder (RUNTIME §4): turns engine evidence into as-run records — what actually
//! aired, with actual times — never from the schedule.

use std::collections::VecDeque;

use crate::engine::EngineEvidence;
use crate::model::{AsRunRecord, AsRunStatus};

/// Collects as-run records of one channel from its engines' evidence; the shell drains them
/// with `poll_record` and makes them durable.
#[derive(Debug, Clone, Default)]
pub struct AsRunRecorder {
    channel: String,
    pending: VecDeque<AsRunRecord>,
}

impl AsRunRecorder {
    pub fn new(channel: &str) -> AsRunRecorder {
        AsRunRecorder {
            channel: channel.to_string(),
            pending: VecDeque::new(),
        }
    }

    /// Record one piece of evidence; evidence that is not about a segment makes no record.
    pub fn handle_evidence(&mut self, evidence: &EngineEvidence) {
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
            EngineEvidence::BlockStarted { .. } | EngineEvidence::SessionEnded { .. } => return,
        };
        self.pending.push_back(AsRunRecord {
            channel: self.channel.clone(),
            playlog_id: segment.event_id.clone(),
            start,
            end,
            asset: segment.asset.clone(),
            kind: segment.kind,
            status,
            reason: reason.cloned(),
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
}
