//! The engine protocol's wire types (contracts/engine-protocol.md): control messages read from
//! stdin and evidence events written to stderr, one JSON object per line.

use retrovue_core::model::UtcMs;
use serde::{Deserialize, Serialize};

/// One thing to play inside a block, with absolute UTC times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub event_id: String,
    /// A file path, `synthetic:NAME`, or `None` for a pad.
    pub asset_uri: Option<String>,
    pub kind: String,
    pub in_point_ms: i64,
    pub duration_ms: i64,
    pub start: UtcMs,
    pub end: UtcMs,
}

impl Segment {
    /// The engine segment for a core plan segment.
    pub fn from_plan(segment: &retrovue_core::plan::Segment) -> Segment {
        Segment {
            event_id: segment.event_id.clone(),
            asset_uri: segment.asset.clone(),
            kind: segment.kind.as_str().to_string(),
            in_point_ms: segment.in_point_ms,
            duration_ms: segment.duration_ms,
            start: segment.start,
            end: segment.end,
        }
    }

    pub fn is_pad(&self) -> bool {
        self.asset_uri.is_none() || self.kind == "pad"
    }
}

/// A contiguous run of segments delivered to the engine as a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub id: String,
    pub start: UtcMs,
    pub end: UtcMs,
    pub segments: Vec<Segment>,
}

impl Block {
    /// Checks the block's own shape (ENGINE-002); the error names what is wrong and where.
    pub fn validate(&self) -> Result<(), String> {
        if self.end <= self.start {
            return Err(format!(
                "block {}: end {} <= start {}",
                self.id, self.end, self.start
            ));
        }
        let mut previous_end = self.start;
        for segment in &self.segments {
            let at = format!("block {} segment {}", self.id, segment.event_id);
            if segment.end <= segment.start {
                return Err(format!("{at}: end <= start"));
            }
            if segment.start < self.start || segment.end > self.end {
                return Err(format!("{at}: outside its block"));
            }
            if segment.start < previous_end {
                return Err(format!("{at}: out of order or overlapping"));
            }
            if segment.duration_ms != segment.end - segment.start {
                return Err(format!("{at}: duration_ms != end - start"));
            }
            if segment.in_point_ms < 0 {
                return Err(format!("{at}: in_point_ms < 0"));
            }
            previous_end = segment.end;
        }
        Ok(())
    }
}

impl Block {
    /// The wire block for a core block; its id is the core's per-session sequence number.
    pub fn from_core(block: &retrovue_core::engine::Block) -> Block {
        Block {
            id: block.seq.to_string(),
            start: block.start,
            end: block.end,
            segments: block.segments.iter().map(Segment::from_plan).collect(),
        }
    }
}

impl Control {
    /// The wire message for a command of the core's ChannelManager on `channel`.
    pub fn from_core(command: &retrovue_core::engine::EngineCommand, channel: &str) -> Control {
        use retrovue_core::engine::EngineCommand;
        match command {
            EngineCommand::Start { join_at, blocks } => Control::Start {
                channel: channel.to_string(),
                join_at: *join_at,
                blocks: blocks.iter().map(Block::from_core).collect(),
            },
            EngineCommand::Feed { block } => Control::Feed {
                block: Block::from_core(block),
            },
            EngineCommand::Stop => Control::Stop,
        }
    }
}

/// A control message on the engine's stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    Start {
        channel: String,
        join_at: UtcMs,
        blocks: Vec<Block>,
    },
    Feed {
        block: Block,
    },
    Stop,
}

/// An evidence event on the engine's stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    SessionStarted {
        channel: String,
        join_at: UtcMs,
        wall_ms: UtcMs,
    },
    BlockStarted {
        block_id: String,
        at: UtcMs,
    },
    SegmentStarted {
        event_id: String,
        at: UtcMs,
    },
    SegmentAired {
        event_id: String,
        actual_start: UtcMs,
        actual_end: UtcMs,
    },
    SegmentTruncated {
        event_id: String,
        actual_start: UtcMs,
        actual_end: UtcMs,
        reason: String,
    },
    SegmentErrored {
        event_id: String,
        actual_start: UtcMs,
        actual_end: UtcMs,
        reason: String,
    },
    SegmentSkipped {
        event_id: String,
        reason: String,
    },
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

impl Evidence {
    /// The single line written to stderr (no trailing newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("evidence serialises")
    }

    /// Parses one stderr line; `None` for diagnostics (lines that are not evidence).
    pub fn parse_line(line: &str) -> Option<Evidence> {
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

/// Parses one control line, naming what is wrong.
pub fn parse_control(line: &str) -> Result<Control, String> {
    serde_json::from_str(line).map_err(|e| format!("invalid control message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use retrovue_core::engine::{Block as CoreBlock, EngineCommand};
    use retrovue_core::model::EventKind;

    // contract: ENGINE-001
    #[test]
    fn core_commands_become_the_documented_wire_lines() {
        let core_segment = retrovue_core::plan::Segment {
            event_id: "c1:2024-01-01:0001".into(),
            start: 1_000,
            end: 2_000,
            kind: EventKind::StationId,
            asset: None,
            in_point_ms: 0,
            duration_ms: 1_000,
        };
        let command = EngineCommand::Feed {
            block: CoreBlock {
                seq: 3,
                start: 1_000,
                end: 2_000,
                segments: vec![core_segment],
            },
        };
        let line = serde_json::to_string(&Control::from_core(&command, "c1")).unwrap();
        assert_eq!(
            line,
            r#"{"type":"feed","block":{"id":"3","start":1000,"end":2000,"segments":[{"event_id":"c1:2024-01-01:0001","asset_uri":null,"kind":"station_id","in_point_ms":0,"duration_ms":1000,"start":1000,"end":2000}]}}"#
        );
        assert_eq!(parse_control(&line), Ok(Control::from_core(&command, "c1")));
        assert!(parse_control(r#"{"type":"rewind"}"#)
            .unwrap_err()
            .contains("invalid control message"));
    }
}
