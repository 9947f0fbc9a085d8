//! Our blocks as AIR BlockPlans (contracts/engine-air.md AIR-004, AIR-005): kinds become segment
//! types, gaps become pads, a block is cut at the join (or at now for a late feed), and a single
//! seed block is split in two. Pure: no I/O, no clock.

use retrovue::engine::protocol::{Block, Evidence, Segment};

use crate::playout::{BlockPlan, BlockSegment, SegmentType};

/// AIR keys everything by a numeric channel id; one AIR plays one channel, so it is always 1.
pub const CHANNEL_ID: i32 = 1;

/// What the adapter must remember about one segment it gave AIR, to turn AIR's evidence back
/// into ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Our event id; empty for a pad the adapter added to fill a gap.
    pub event_id: String,
    /// The segment goes on in the next block (a split seed): its end is not reported here.
    pub continues: bool,
    /// The segment continues one of the previous block: its start is not reported again.
    pub continuation: bool,
    /// The segment was cut because it was fed after its start (AIR-005).
    pub late: bool,
}

/// One BlockPlan with the adapter's notes about its segments (same order as `plan.segments`).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub plan: BlockPlan,
    pub metas: Vec<SegmentMeta>,
    /// The second half of a split seed block: its BlockStart is not a new block for us.
    pub continuation: bool,
}

/// One stretch of a plan being built: [start, end) with the segment it plays (None = gap pad).
struct Piece<'a> {
    start: i64,
    end: i64,
    segment: Option<&'a Segment>,
    offset: i64,
    late: bool,
}

/// The AIR segment type and URI for one of our segments (AIR-004).
pub fn segment_type(segment: &Segment) -> (SegmentType, String) {
    match segment.asset_uri.as_deref() {
        None => (SegmentType::Pad, String::new()),
        Some(_) if segment.kind == "pad" => (SegmentType::Pad, String::new()),
        Some(uri) if uri.starts_with("synthetic:") => (SegmentType::Pad, String::new()),
        Some(uri) if segment.kind == "content" => (SegmentType::Content, uri.to_string()),
        Some(uri) => (SegmentType::Filler, uri.to_string()),
    }
}

/// Translates blocks in order, keeping the end of the last one so that plans stay contiguous.
#[derive(Debug, Default)]
pub struct Planner {
    last_end: Option<i64>,
}

impl Planner {
    pub fn new() -> Planner {
        Planner::default()
    }

    /// Our `block` as a BlockPlan that starts no earlier than `cut_at` (the join time for `start`
    /// blocks, the current time for fed ones). Returns `None` when nothing of it is left, and the
    /// evidence for what was cut off (only for a late feed: before the join nothing was due).
    /// An invalid block is an error naming why (ENGINE-002) and changes nothing.
    pub fn translate(
        &mut self,
        block: &Block,
        cut_at: i64,
        late_feed: bool,
    ) -> Result<(Option<Planned>, Vec<Evidence>), String> {
        block.validate()?;
        if let Some(last) = self.last_end {
            if block.start < last {
                return Err(format!(
                    "block {}: starts at {} before the end {} of the previous block",
                    block.id, block.start, last
                ));
            }
        }
        let begin = self.last_end.unwrap_or(block.start);
        self.last_end = Some(block.end);

        // The whole stretch [begin, block.end) as pieces, gaps filled with pads.
        let mut pieces = Vec::new();
        let mut at = begin;
        for segment in &block.segments {
            if segment.start > at {
                pieces.push(gap(at, segment.start));
            }
            pieces.push(Piece {
                start: segment.start,
                end: segment.end,
                segment: Some(segment),
                offset: segment.in_point_ms,
                late: false,
            });
            at = segment.end;
        }
        if at < block.end {
            pieces.push(gap(at, block.end));
        }

        // Cut at `cut_at`.
        let mut evidence = Vec::new();
        let mut kept = Vec::new();
        for mut piece in pieces {
            if piece.end <= cut_at {
                if late_feed {
                    if let Some(segment) = piece.segment {
                        evidence.push(Evidence::SegmentSkipped {
                            event_id: segment.event_id.clone(),
                            reason: "late_feed".into(),
                        });
                    }
                }
                continue;
            }
            if piece.start < cut_at {
                piece.offset += cut_at - piece.start;
                piece.start = cut_at;
                piece.late = late_feed;
            }
            kept.push(piece);
        }
        if kept.is_empty() {
            return Ok((None, evidence));
        }
        let start = kept[0].start;
        let mut plan = BlockPlan {
            block_id: block.id.clone(),
            channel_id: CHANNEL_ID,
            start_utc_ms: start,
            end_utc_ms: block.end,
            ..BlockPlan::default()
        };
        let mut metas = Vec::new();
        for (index, piece) in kept.iter().enumerate() {
            let (segment_type, asset_uri, event_id) = match piece.segment {
                Some(segment) => {
                    let (t, uri) = segment_type(segment);
                    (t, uri, segment.event_id.clone())
                }
                None => (SegmentType::Pad, String::new(), String::new()),
            };
            plan.segments.push(BlockSegment {
                segment_index: index as i32,
                asset_start_offset_ms: if asset_uri.is_empty() {
                    0
                } else {
                    piece.offset
                },
                asset_uri,
                segment_duration_ms: piece.end - piece.start,
                segment_type: segment_type as i32,
                event_id: event_id.clone(),
                segment_uuid: event_id.clone(),
                ..BlockSegment::default()
            });
            metas.push(SegmentMeta {
                event_id,
                continues: false,
                continuation: false,
                late: piece.late,
            });
        }
        Ok((
            Some(Planned {
                plan,
                metas,
                continuation: false,
            }),
            evidence,
        ))
    }
}

fn gap<'a>(start: i64, end: i64) -> Piece<'a> {
    Piece {
        start,
        end,
        segment: None,
        offset: 0,
        late: false,
    }
}

/// Splits one planned block at the middle of its span into two contiguous BlockPlans (AIR needs
/// two seeds). A segment cut by the split is marked `continues` / `continuation`; the second
/// block's id is the first's with `+` appended.
pub fn split(planned: Planned) -> (Planned, Planned) {
    let plan = &planned.plan;
    let at = plan.start_utc_ms + (plan.end_utc_ms - plan.start_utc_ms) / 2;
    let mut first = Planned {
        plan: BlockPlan {
            segments: Vec::new(),
            end_utc_ms: at,
            ..plan.clone()
        },
        metas: Vec::new(),
        continuation: planned.continuation,
    };
    let mut second = Planned {
        plan: BlockPlan {
            block_id: format!("{}+", plan.block_id),
            segments: Vec::new(),
            start_utc_ms: at,
            ..plan.clone()
        },
        metas: Vec::new(),
        continuation: true,
    };
    let mut start = plan.start_utc_ms;
    for (segment, meta) in plan.segments.iter().zip(&planned.metas) {
        let end = start + segment.segment_duration_ms;
        if end <= at {
            first.plan.segments.push(segment.clone());
            first.metas.push(meta.clone());
        } else if start >= at {
            second.plan.segments.push(segment.clone());
            second.metas.push(meta.clone());
        } else {
            let head = at - start;
            first.plan.segments.push(BlockSegment {
                segment_duration_ms: head,
                ..segment.clone()
            });
            first.metas.push(SegmentMeta {
                continues: true,
                ..meta.clone()
            });
            second.plan.segments.push(BlockSegment {
                segment_duration_ms: end - at,
                asset_start_offset_ms: if segment.asset_uri.is_empty() {
                    0
                } else {
                    segment.asset_start_offset_ms + head
                },
                ..segment.clone()
            });
            second.metas.push(SegmentMeta {
                continuation: true,
                ..meta.clone()
            });
        }
        start = end;
    }
    for part in [&mut first, &mut second] {
        for (index, segment) in part.plan.segments.iter_mut().enumerate() {
            segment.segment_index = index as i32;
        }
    }
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(event: &str, kind: &str, asset: Option<&str>, start: i64, end: i64) -> Segment {
        Segment {
            event_id: event.into(),
            asset_uri: asset.map(str::to_string),
            kind: kind.into(),
            in_point_ms: 100,
            duration_ms: end - start,
            start,
            end,
        }
    }

    fn block(id: &str, start: i64, end: i64, segments: Vec<Segment>) -> Block {
        Block {
            id: id.into(),
            start,
            end,
            segments,
        }
    }

    fn durations(plan: &BlockPlan) -> Vec<(String, i64, i64, i32)> {
        plan.segments
            .iter()
            .map(|s| {
                (
                    s.event_id.clone(),
                    s.asset_start_offset_ms,
                    s.segment_duration_ms,
                    s.segment_type,
                )
            })
            .collect()
    }

    // contract: AIR-004
    #[test]
    fn kinds_gaps_and_the_join_cut() {
        let b = block(
            "0",
            1_000,
            5_000,
            vec![
                segment("a", "content", Some("/m/a.mkv"), 1_000, 2_000),
                segment("b", "commercial", Some("/m/b.mkv"), 2_500, 3_000),
                segment("c", "bumper", Some("synthetic:bars"), 3_000, 4_000),
            ],
        );
        let mut planner = Planner::new();
        let (planned, evidence) = planner.translate(&b, 1_400, false).unwrap();
        let planned = planned.unwrap();
        assert!(evidence.is_empty(), "nothing before the join is reported");
        assert_eq!(planned.plan.start_utc_ms, 1_400);
        assert_eq!(planned.plan.end_utc_ms, 5_000);
        let content = SegmentType::Content as i32;
        let filler = SegmentType::Filler as i32;
        let pad = SegmentType::Pad as i32;
        assert_eq!(
            durations(&planned.plan),
            vec![
                ("a".into(), 500, 600, content),
                ("".into(), 0, 500, pad),
                ("b".into(), 100, 500, filler),
                ("c".into(), 0, 1_000, pad),
                ("".into(), 0, 1_000, pad),
            ]
        );
        let indices: Vec<i32> = planned
            .plan
            .segments
            .iter()
            .map(|s| s.segment_index)
            .collect();
        assert_eq!(indices, vec![0, 1, 2, 3, 4]);
        assert_eq!(planned.plan.segments[0].asset_uri, "/m/a.mkv");
        assert_eq!(planned.plan.segments[3].asset_uri, "");

        // The next block is contiguous; one that overlaps is refused.
        let overlapping = block("1", 4_000, 6_000, vec![]);
        assert!(planner.translate(&overlapping, 0, false).is_err());
        let later = block(
            "1",
            6_000,
            7_000,
            vec![segment("d", "pad", None, 6_000, 7_000)],
        );
        let (next, _) = planner.translate(&later, 0, false).unwrap();
        let next = next.unwrap();
        assert_eq!(next.plan.start_utc_ms, 5_000, "gap before it is padded");
        assert_eq!(
            durations(&next.plan),
            vec![("".into(), 0, 1_000, pad), ("d".into(), 0, 1_000, pad)]
        );
    }

    // contract: AIR-005
    #[test]
    fn a_late_feed_is_cut_at_now_and_reports_what_it_missed() {
        let b = block(
            "3",
            0,
            3_000,
            vec![
                segment("x", "content", Some("/m/x.mkv"), 0, 1_000),
                segment("y", "content", Some("/m/y.mkv"), 1_000, 3_000),
            ],
        );
        let (planned, evidence) = Planner::new().translate(&b, 1_500, true).unwrap();
        let planned = planned.unwrap();
        assert_eq!(
            evidence,
            vec![Evidence::SegmentSkipped {
                event_id: "x".into(),
                reason: "late_feed".into()
            }]
        );
        assert_eq!(planned.plan.start_utc_ms, 1_500);
        assert_eq!(planned.plan.segments[0].asset_start_offset_ms, 600);
        assert!(planned.metas[0].late);
        let (gone, _) = Planner::new().translate(&b, 3_000, true).unwrap();
        assert!(gone.is_none());
    }

    // contract: AIR-004
    #[test]
    fn a_single_seed_is_split_into_two_contiguous_blocks() {
        let b = block(
            "7",
            0,
            1_000,
            vec![segment("s", "content", Some("/m/s.mkv"), 0, 1_000)],
        );
        let (planned, _) = Planner::new().translate(&b, 0, false).unwrap();
        let (a, b) = split(planned.unwrap());
        assert_eq!(a.plan.end_utc_ms, b.plan.start_utc_ms);
        assert_eq!((a.plan.start_utc_ms, b.plan.end_utc_ms), (0, 1_000));
        assert_eq!(b.plan.block_id, "7+");
        assert!(b.continuation && !a.continuation);
        assert!(a.metas[0].continues && b.metas[0].continuation);
        assert_eq!(a.plan.segments[0].segment_duration_ms, 500);
        assert_eq!(b.plan.segments[0].asset_start_offset_ms, 600);
        assert_eq!(b.plan.segments[0].segment_index, 0);
    }
}
