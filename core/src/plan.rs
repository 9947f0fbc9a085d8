//! The playout plan at "now" (PLAN-001): join in progress as a pure function of (playlog, t).

use serde::{Deserialize, Serialize};

use crate::model::{EventKind, PlaylogEvent, UtcMs};

/// One segment for the playout engine: what to play, from where, for how long, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub event_id: String,
    pub start: UtcMs,
    pub end: UtcMs,
    pub kind: EventKind,
    pub asset: Option<String>,
    pub in_point_ms: i64,
    pub duration_ms: i64,
}

impl Segment {
    pub fn from_event(e: &PlaylogEvent) -> Segment {
        Segment {
            event_id: e.id.clone(),
            start: e.start,
            end: e.end,
            kind: e.kind,
            asset: e.asset.clone(),
            in_point_ms: e.in_point_ms,
            duration_ms: e.end - e.start,
        }
    }
}

/// What the Producer answers for a tune-in at `t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanOutcome {
    /// The current event trimmed to `t`, then the later events unchanged.
    Plan(Vec<Segment>),
    /// No event covers `t` (HTTP 503).
    Gap { at: UtcMs },
    /// The current event's asset file is missing (HTTP 500; playout is not started).
    AssetFault { at: UtcMs, asset: String },
}

/// Is this asset reference synthetic (rendered by the engine, no file)?
pub fn is_synthetic(asset: &str) -> bool {
    asset.starts_with("synthetic:")
}

/// Index of the event covering `t` in a sorted, tiled playlog.
pub fn event_at(events: &[PlaylogEvent], t: UtcMs) -> Option<usize> {
    let i = events.partition_point(|e| e.end <= t);
    (i < events.len() && events[i].start <= t).then_some(i)
}

/// The plan at `t` over `events` (sorted by start), covering at most until `until`.
/// `asset_missing` tells whether an asset's file is absent (the shell checks the disk; the
/// simulator consults its fault plan).
pub fn plan_at(
    events: &[PlaylogEvent],
    t: UtcMs,
    until: UtcMs,
    asset_missing: impl Fn(&str) -> bool,
) -> PlanOutcome {
    let Some(i) = event_at(events, t) else {
        return PlanOutcome::Gap { at: t };
    };
    let current = &events[i];
    if let Some(asset) = &current.asset {
        if !is_synthetic(asset) && asset_missing(asset) {
            return PlanOutcome::AssetFault {
                at: t,
                asset: asset.clone(),
            };
        }
    }
    let mut first = Segment::from_event(current);
    let offset = t - current.start;
    first.in_point_ms += offset;
    first.start = t;
    first.duration_ms -= offset;
    let mut segments = vec![first];
    for e in &events[i + 1..] {
        if e.start >= until {
            break;
        }
        segments.push(Segment::from_event(e));
    }
    PlanOutcome::Plan(segments)
}
