//! Values exchanged with a playout engine (contracts/engine-protocol.md, MGR-005): the control messages the ChannelManager
//! emits (start with blocks, feed a block, stop) and the evidence the engine reports back.
//!
//! They serialize as one JSON object per line with a `type` tag, the engine protocol's wire form.

use serde::{Deserialize, Serialize};

use crate::model::{UtcMs, MS_PER_MINUTE};
use crate::plan::Segment;

/// Default block length: segments are grouped by the UTC half hour in which they start.
pub const DEFAULT_BLOCK_MS: i64 = 30 * MS_PER_MINUTE;

/// A chunk of the plan: consecutive segments, absolute UTC start and end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Sequence number within one engine session (0 = first block of the spawn).
    pub seq: u64,
    pub start: UtcMs,
    pub end: UtcMs,
    pub segments: Vec<Segment>,
}

/// Control messages to the engine (JSON lines on its stdin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineCommand {
    Start { join_at: UtcMs, blocks: Vec<Block> },
    Feed { block: Block },
    Stop,
}

/// Evidence the engine reports (JSON lines on its event stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvidence {
    /// The first segment of block `seq` went on air at `at`.
    BlockStarted { seq: u64, at: UtcMs },
    /// A segment went on air at `at` (lets the supervisor record it if the engine dies mid-way).
    SegmentStarted { segment: SegmentRef, at: UtcMs },
    /// A segment aired to its planned end; `start` is when it actually began.
    SegmentAired {
        segment: SegmentRef,
        start: UtcMs,
        end: UtcMs,
    },
    /// A segment was cut short at `end`.
    SegmentTruncated {
        segment: SegmentRef,
        start: UtcMs,
        end: UtcMs,
        reason: String,
    },
    /// A segment could not be played (e.g. file missing); the engine showed a slate instead.
    SegmentErrored {
        segment: SegmentRef,
        start: UtcMs,
        end: UtcMs,
        reason: String,
    },
    /// The session is over (stopped, starved, fatal error).
    SessionEnded { at: UtcMs, reason: String },
}

/// Which playlog event a piece of evidence is about, with what it should have been.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub event_id: String,
    pub asset: Option<String>,
    pub kind: crate::model::EventKind,
    /// The planned end of the segment.
    pub planned_end: UtcMs,
}

impl SegmentRef {
    pub fn of(segment: &Segment) -> SegmentRef {
        SegmentRef {
            event_id: segment.event_id.clone(),
            asset: segment.asset.clone(),
            kind: segment.kind,
            planned_end: segment.end,
        }
    }
}

impl EngineEvidence {
    /// The playlog event this evidence closes, if it is about a segment.
    pub fn segment(&self) -> Option<&SegmentRef> {
        match self {
            EngineEvidence::SegmentAired { segment, .. }
            | EngineEvidence::SegmentTruncated { segment, .. }
            | EngineEvidence::SegmentErrored { segment, .. } => Some(segment),
            EngineEvidence::BlockStarted { .. }
            | EngineEvidence::SegmentStarted { .. }
            | EngineEvidence::SessionEnded { .. } => None,
        }
    }
}

/// Why an engine process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineExit {
    /// Exited on its own or was killed outside a stop: a crash.
    Crashed { reason: String },
    /// Ended the session cleanly (e.g. after `Stop`).
    Ended,
}

/// Group segments into blocks by the `block_ms` bucket (from the epoch) in which each starts.
/// Segments must be consecutive; `first_seq` numbers the first block.
pub fn group_into_blocks(segments: Vec<Segment>, block_ms: i64, first_seq: u64) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for segment in segments {
        let bucket = segment.start.div_euclid(block_ms);
        match blocks.last_mut() {
            Some(block) if block.start.div_euclid(block_ms) == bucket => {
                block.end = segment.end;
                block.segments.push(segment);
            }
            _ => {
                let seq = first_seq + blocks.len() as u64;
                blocks.push(Block {
                    seq,
                    start: segment.start,
                    end: segment.end,
                    segments: vec![segment],
                });
            }
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;

    fn seg(id: &str, start: i64, end: i64) -> Segment {
        Segment {
            event_id: id.to_string(),
            start,
            end,
            kind: EventKind::Content,
            asset: Some("a".into()),
            in_point_ms: 0,
            duration_ms: end - start,
        }
    }

    #[test]
    fn blocks_follow_half_hours() {
        // contract: MGR-005
        let m = MS_PER_MINUTE;
        let blocks = group_into_blocks(
            vec![
                seg("1", 0, 10 * m),
                seg("2", 10 * m, 29 * m),
                seg("3", 29 * m, 31 * m),
                seg("4", 31 * m, 150 * m),
                seg("5", 150 * m, 151 * m),
            ],
            DEFAULT_BLOCK_MS,
            7,
        );
        let shape: Vec<(u64, usize, i64, i64)> = blocks
            .iter()
            .map(|b| (b.seq, b.segments.len(), b.start / m, b.end / m))
            .collect();
        assert_eq!(
            shape,
            vec![(7, 3, 0, 31), (8, 1, 31, 150), (9, 1, 150, 151)]
        );
        let json = serde_json::to_string(&EngineCommand::Stop).unwrap();
        assert_eq!(json, r#"{"type":"stop"}"#);
    }
}
