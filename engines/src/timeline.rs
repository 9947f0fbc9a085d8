//! The engine's playhead over the fed blocks (ENGINE-003, -005, -006, -007): which segment plays
//! at a given engine time, and the evidence produced as the playhead moves. Pure: the caller
//! passes the time, so both engines and the unit tests drive the same logic.

use std::collections::VecDeque;

use retrovue_core::model::UtcMs;

use super::protocol::{Block, Evidence, Segment};

/// A segment waiting to play, with what the engine knows about how it was fed.
#[derive(Debug, Clone)]
struct Queued {
    block_id: String,
    segment: Segment,
    /// It was fed after its planned start: it can only play partly (ENGINE-007).
    fed_late: bool,
}

/// The segment on air.
#[derive(Debug, Clone)]
pub struct OnAir {
    pub block_id: String,
    pub segment: Segment,
    pub actual_start: UtcMs,
    fed_late: bool,
    error: Option<String>,
}

impl OnAir {
    /// Where in the media the playhead is at `now` (milliseconds into the asset).
    pub fn media_position_ms(&self, now: UtcMs) -> i64 {
        self.segment.in_point_ms + (now - self.segment.start).max(0)
    }
}

/// The playhead state over the fed blocks.
#[derive(Debug)]
pub struct Timeline {
    join_at: UtcMs,
    queue: VecDeque<Queued>,
    on_air: Option<OnAir>,
    last_block_started: Option<String>,
    /// End of the last fed block: a later block must not start before it.
    fed_until: Option<UtcMs>,
    /// End of the last segment that left the air (where an uncovered stretch begins).
    covered_until: UtcMs,
    starved: bool,
}

impl Timeline {
    /// A timeline whose playhead starts at `join_at` with the blocks of the `start` message.
    pub fn new(join_at: UtcMs) -> Timeline {
        Timeline {
            join_at,
            queue: VecDeque::new(),
            on_air: None,
            last_block_started: None,
            fed_until: None,
            covered_until: join_at,
            starved: false,
        }
    }

    /// Adds a block fed at engine time `now` (for the `start` message, `now` = `join_at`).
    /// Returns the evidence for segments already wholly in the past, or an error naming why the
    /// block is rejected (ENGINE-002).
    pub fn feed(&mut self, block: Block, now: UtcMs) -> Result<Vec<Evidence>, String> {
        block.validate()?;
        if let Some(fed_until) = self.fed_until {
            if block.start < fed_until {
                return Err(format!(
                    "block {}: starts at {} before the end {} of the previous block",
                    block.id, block.start, fed_until
                ));
            }
        }
        self.fed_until = Some(block.end);
        let mut evidence = Vec::new();
        let from_start_message = now == self.join_at && self.on_air.is_none();
        for segment in block.segments {
            if segment.end <= now {
                // Before the join point nothing was expected to air; after it, it was missed.
                if !from_start_message {
                    evidence.push(Evidence::SegmentSkipped {
                        event_id: segment.event_id,
                        reason: "late_feed".into(),
                    });
                }
                continue;
            }
            let fed_late = segment.start < now && !from_start_message;
            self.queue.push_back(Queued {
                block_id: block.id.clone(),
                segment,
                fed_late,
            });
        }
        Ok(evidence)
    }

    /// Moves the playhead to `now`, returning the evidence of every boundary crossed.
    pub fn advance(&mut self, now: UtcMs) -> Vec<Evidence> {
        let mut evidence = Vec::new();
        loop {
            if let Some(on_air) = &self.on_air {
                if now < on_air.segment.end {
                    return evidence;
                }
                let ended = self.on_air.take().expect("checked");
                self.covered_until = ended.segment.end;
                evidence.push(closing_evidence(ended, None));
                continue;
            }
            let Some(front) = self.queue.front() else {
                self.enter_starvation(now, &mut evidence);
                return evidence;
            };
            if front.segment.start > now {
                // A gap before the next segment counts only once we are past the last one.
                if self.covered_until < front.segment.start {
                    self.enter_starvation(now, &mut evidence);
                }
                return evidence;
            }
            let queued = self.queue.pop_front().expect("checked");
            self.starved = false;
            let actual_start = if queued.fed_late {
                now
            } else {
                queued.segment.start.max(self.join_at)
            };
            if self.last_block_started.as_deref() != Some(&queued.block_id) {
                evidence.push(Evidence::BlockStarted {
                    block_id: queued.block_id.clone(),
                    at: actual_start,
                });
                self.last_block_started = Some(queued.block_id.clone());
            }
            evidence.push(Evidence::SegmentStarted {
                event_id: queued.segment.event_id.clone(),
                at: actual_start,
            });
            self.on_air = Some(OnAir {
                block_id: queued.block_id,
                segment: queued.segment,
                actual_start,
                fed_late: queued.fed_late,
                error: None,
            });
        }
    }

    fn enter_starvation(&mut self, now: UtcMs, evidence: &mut Vec<Evidence>) {
        if !self.starved {
            self.starved = true;
            evidence.push(Evidence::Starved {
                at: self.covered_until.max(self.join_at).min(now),
            });
        }
    }

    /// The segment on air after the last [`advance`](Self::advance), or `None` for pad.
    pub fn on_air(&self) -> Option<&OnAir> {
        self.on_air.as_ref()
    }

    /// Marks the segment on air as errored (its slot is padded); reported when it ends.
    pub fn mark_errored(&mut self, reason: String) {
        if let Some(on_air) = &mut self.on_air {
            on_air.error.get_or_insert(reason);
        }
    }

    /// Ends the session at `now`: the segment on air is truncated with `reason`.
    pub fn finish(&mut self, now: UtcMs, reason: &str) -> Vec<Evidence> {
        let mut evidence = self.advance(now);
        if let Some(on_air) = self.on_air.take() {
            evidence.push(closing_evidence(on_air, Some((now, reason))));
        }
        evidence
    }

    /// The planned end of everything fed so far.
    pub fn fed_until(&self) -> Option<UtcMs> {
        self.fed_until
    }

    /// The next segment after the one on air, if fed (the ffmpeg engine prepares it early).
    pub fn next_segment(&self) -> Option<&Segment> {
        self.queue.front().map(|q| &q.segment)
    }
}

fn closing_evidence(on_air: OnAir, cut: Option<(UtcMs, &str)>) -> Evidence {
    let event_id = on_air.segment.event_id;
    let actual_start = on_air.actual_start;
    let actual_end = cut.map_or(on_air.segment.end, |(at, _)| at);
    if let Some(reason) = on_air.error {
        return Evidence::SegmentErrored {
            event_id,
            actual_start,
            actual_end,
            reason,
        };
    }
    match cut {
        Some((_, reason)) => Evidence::SegmentTruncated {
            event_id,
            actual_start,
            actual_end,
            reason: reason.to_string(),
        },
        None if on_air.fed_late => Evidence::SegmentTruncated {
            event_id,
            actual_start,
            actual_end,
            reason: "late_feed".into(),
        },
        None => Evidence::SegmentAired {
            event_id,
            actual_start,
            actual_end,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(id: &str, start: UtcMs, end: UtcMs) -> Segment {
        Segment {
            event_id: id.into(),
            asset_uri: Some("synthetic:test".into()),
            kind: "content".into(),
            in_point_ms: 0,
            duration_ms: end - start,
            start,
            end,
        }
    }

    fn block(id: &str, segments: Vec<Segment>) -> Block {
        Block {
            id: id.into(),
            start: segments[0].start,
            end: segments.last().expect("non-empty").end,
            segments,
        }
    }

    // contract: ENGINE-005
    // contract: ENGINE-006
    #[test]
    fn join_mid_segment_then_boundary_then_stop() {
        let mut timeline = Timeline::new(5_000);
        timeline
            .feed(
                block(
                    "b1",
                    vec![segment("a", 0, 10_000), segment("b", 10_000, 20_000)],
                ),
                5_000,
            )
            .expect("valid");
        let mut evidence = timeline.advance(5_000);
        assert_eq!(
            timeline.on_air().expect("a").media_position_ms(7_000),
            7_000
        );
        evidence.extend(timeline.advance(10_010));
        evidence.extend(timeline.finish(12_000, "stop"));
        assert_eq!(
            evidence,
            vec![
                Evidence::BlockStarted {
                    block_id: "b1".into(),
                    at: 5_000
                },
                Evidence::SegmentStarted {
                    event_id: "a".into(),
                    at: 5_000
                },
                Evidence::SegmentAired {
                    event_id: "a".into(),
                    actual_start: 5_000,
                    actual_end: 10_000
                },
                Evidence::SegmentStarted {
                    event_id: "b".into(),
                    at: 10_000
                },
                Evidence::SegmentTruncated {
                    event_id: "b".into(),
                    actual_start: 10_000,
                    actual_end: 12_000,
                    reason: "stop".into()
                },
            ]
        );
    }

    // contract: ENGINE-007
    #[test]
    fn starving_then_a_late_block_truncates_and_skips() {
        let mut timeline = Timeline::new(0);
        timeline
            .feed(block("b1", vec![segment("a", 0, 1_000)]), 0)
            .expect("valid");
        let mut evidence = timeline.advance(0);
        evidence.extend(timeline.advance(1_500));
        evidence.extend(timeline.advance(1_600)); // starved only once
        let late = block(
            "b2",
            vec![segment("x", 1_000, 1_400), segment("y", 1_400, 3_000)],
        );
        evidence.extend(timeline.feed(late, 1_700).expect("valid"));
        evidence.extend(timeline.advance(1_700));
        evidence.extend(timeline.advance(3_000));
        assert_eq!(
            evidence[2..],
            [
                Evidence::SegmentAired {
                    event_id: "a".into(),
                    actual_start: 0,
                    actual_end: 1_000
                },
                Evidence::Starved { at: 1_000 },
                Evidence::SegmentSkipped {
                    event_id: "x".into(),
                    reason: "late_feed".into()
                },
                Evidence::BlockStarted {
                    block_id: "b2".into(),
                    at: 1_700
                },
                Evidence::SegmentStarted {
                    event_id: "y".into(),
                    at: 1_700
                },
                Evidence::SegmentTruncated {
                    event_id: "y".into(),
                    actual_start: 1_700,
                    actual_end: 3_000,
                    reason: "late_feed".into()
                },
                Evidence::Starved { at: 3_000 },
            ]
        );
    }

    // contract: ENGINE-002
    #[test]
    fn overlapping_or_backwards_blocks_are_rejected_with_a_reason() {
        let mut timeline = Timeline::new(0);
        timeline
            .feed(block("b1", vec![segment("a", 0, 1_000)]), 0)
            .expect("valid");
        let error = timeline
            .feed(block("b2", vec![segment("b", 500, 1_500)]), 0)
            .expect_err("overlaps b1");
        assert!(
            error.contains("b2") && error.contains("before the end"),
            "{error}"
        );
        let mut bad = segment("c", 2_000, 3_000);
        bad.duration_ms = 5;
        let error = timeline
            .feed(block("b3", vec![bad]), 0)
            .expect_err("bad duration");
        assert!(error.contains("duration_ms"), "{error}");
    }
}
