//! Invariant checkers shared by the tests, the simulator and the runtime. Each returns the
//! violations it found as data; an empty list means the invariant holds.

use serde::{Deserialize, Serialize};

use crate::chain::carry_out;
use crate::model::{Channel, EpgRow, EventKind, PlaylogEvent, ScheduleDay, UtcMs};
use crate::playlog::{slot_pieces, SlotPiece};
use crate::time::{fmt_utc, ChannelClock};

/// One broken invariant: which, where, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: String,
    pub at: UtcMs,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: &str, at: UtcMs, detail: impl Into<String>) -> Violation {
        Violation {
            invariant: invariant.to_string(),
            at,
            detail: detail.into(),
        }
    }
}

/// Every item starts on a grid boundary, occupies `max(1, ceil(runtime/grid))` whole blocks,
/// and items do not overlap.
pub fn check_grid_alignment(channel: &Channel, day: &ScheduleDay) -> Vec<Violation> {
    let clock = ChannelClock::of(channel);
    let mut out = Vec::new();
    let mut previous_end = day.effective_start;
    for item in &day.items {
        if !clock.is_boundary(item.start) {
            out.push(Violation::new(
                "grid_alignment",
                item.start,
                format!("{} starts off the grid", item.asset),
            ));
        }
        if item.blocks != clock.blocks_for(item.runtime_ms)
            || item.slot_end != item.start + item.blocks as i64 * clock.grid_ms()
        {
            out.push(Violation::new(
                "grid_alignment",
                item.start,
                format!("{} slot is not whole blocks of its runtime", item.asset),
            ));
        }
        if item.start < previous_end {
            out.push(Violation::new(
                "no_overlap",
                item.start,
                format!("{} starts before the previous slot ends", item.asset),
            ));
        }
        previous_end = item.slot_end;
    }
    out
}

/// Events tile [from, to) exactly: each event's end is the next one's start, none is empty.
pub fn check_tiling(events: &[PlaylogEvent], from: UtcMs, to: UtcMs) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut at = from;
    for e in events {
        if e.start != at {
            out.push(Violation::new(
                "playlog_tiling",
                at,
                format!(
                    "event {} starts at {} (expected {})",
                    e.id,
                    fmt_utc(e.start),
                    fmt_utc(at)
                ),
            ));
        }
        if e.end <= e.start {
            out.push(Violation::new(
                "playlog_tiling",
                e.start,
                format!("event {} is empty or reversed", e.id),
            ));
        }
        at = e.end;
    }
    if at != to {
        out.push(Violation::new(
            "playlog_tiling",
            at,
            format!("playlog ends at {} (expected {})", fmt_utc(at), fmt_utc(to)),
        ));
    }
    out
}

/// Longform is never cut and breaks add up: every item airs whole (its content events sum to its
/// runtime, cut only at chapter markers, in order) and inside its slot the interstitials and
/// pads sum to `slot − runtime`.
pub fn check_items_in_playlog(
    channel: &Channel,
    day: &ScheduleDay,
    events: &[PlaylogEvent],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut cursor = 0usize;
    for item in &day.items {
        // Events of this item are contiguous and marked with its start.
        while cursor < events.len() && events[cursor].end <= item.start {
            cursor += 1;
        }
        let begin = cursor;
        while cursor < events.len() && events[cursor].item_start == Some(item.start) {
            cursor += 1;
        }
        let inside = &events[begin..cursor];
        let content: Vec<&PlaylogEvent> = inside
            .iter()
            .filter(|e| e.kind == EventKind::Content)
            .collect();
        let content_ms: i64 = content.iter().map(|e| e.duration_ms()).sum();
        let other_ms: i64 = inside
            .iter()
            .filter(|e| e.kind != EventKind::Content)
            .map(|e| e.duration_ms())
            .sum();
        if content_ms != item.runtime_ms {
            out.push(Violation::new(
                "longform_uncut",
                item.start,
                format!(
                    "{} airs {content_ms} ms of its {} ms runtime",
                    item.asset, item.runtime_ms
                ),
            ));
        }
        if other_ms != item.avail_ms() {
            out.push(Violation::new(
                "spots_plus_pads_equal_avail",
                item.start,
                format!(
                    "{}: breaks hold {other_ms} ms, avail is {} ms",
                    item.asset,
                    item.avail_ms()
                ),
            ));
        }
        // Content pieces must match the break policy's cuts exactly.
        let expected: Vec<(Option<&String>, i64, i64)> = slot_pieces(item, channel.break_policy)
            .into_iter()
            .filter_map(|p| match p {
                SlotPiece::Content {
                    part,
                    in_point_ms,
                    duration_ms,
                } => Some((item.parts[part].asset.as_ref(), in_point_ms, duration_ms)),
                SlotPiece::Avail { .. } => None,
            })
            .collect();
        let actual: Vec<(Option<&String>, i64, i64)> = content
            .iter()
            .map(|e| (e.asset.as_ref(), e.in_point_ms, e.duration_ms()))
            .collect();
        if expected != actual {
            out.push(Violation::new(
                "longform_uncut",
                item.start,
                format!(
                    "{} is cut somewhere other than its chapter markers",
                    item.asset
                ),
            ));
        }
        if let (Some(first), Some(last)) = (inside.first(), inside.last()) {
            if first.start != item.start || last.end != item.slot_end {
                out.push(Violation::new(
                    "spots_plus_pads_equal_avail",
                    item.start,
                    format!("{} events do not fill its slot", item.asset),
                ));
            }
        }
    }
    out
}

/// Consecutive days meet: a carry-in is never split, and each day starts where the previous one
/// said it would (`snap(last slot end)` when it carried over, else its window start). A carry-in
/// longer than a day passes through the days it covers (SCHED-007).
pub fn check_carry_in(channel: &Channel, days: &[ScheduleDay]) -> Vec<Violation> {
    let clock = ChannelClock::of(channel);
    let mut out = Vec::new();
    // What was carried into the first day, as far as the day itself shows it.
    let mut carried = days
        .first()
        .and_then(|d| (d.effective_start > d.window_start).then_some(d.effective_start));
    for pair in days.windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        // SCHED-007: a day a carry-in covers entirely passes it through.
        let carry = carry_out(carried, prev);
        carried = carry;
        let expected = match carry {
            Some(end) if end > next.window_start => clock.snap(end),
            _ => next.window_start,
        };
        if next.effective_start != expected || prev.covers_until != next.effective_start {
            out.push(Violation::new(
                "carry_in_continuity",
                next.window_start,
                format!(
                    "day {} starts at {} but day {} ends at {} (expected {})",
                    next.date,
                    fmt_utc(next.effective_start),
                    prev.date,
                    fmt_utc(prev.covers_until),
                    fmt_utc(expected)
                ),
            ));
        }
        if let Some(first) = next.items.first() {
            if first.start < next.effective_start {
                out.push(Violation::new(
                    "carry_in_continuity",
                    first.start,
                    "an item starts inside the previous day's carry-in",
                ));
            }
        }
    }
    out
}

/// The guide abuts over [from, to), shows one row per item slot and never an interstitial, and
/// its filler rows cover exactly the time outside item slots.
pub fn check_epg(days: &[ScheduleDay], rows: &[EpgRow], from: UtcMs, to: UtcMs) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut at = from;
    for row in rows {
        if row.start != at || row.end <= row.start {
            out.push(Violation::new(
                "epg_abuts",
                row.start,
                format!("row {:?} does not abut the previous one", row.title),
            ));
        }
        at = row.end;
    }
    if at != to {
        out.push(Violation::new(
            "epg_abuts",
            at,
            format!("guide ends at {} (expected {})", fmt_utc(at), fmt_utc(to)),
        ));
    }
    let items: Vec<_> = days.iter().flat_map(|d| d.items.iter()).collect();
    let content_rows: Vec<&EpgRow> = rows.iter().filter(|r| !r.filler).collect();
    if content_rows.len() != items.len() {
        out.push(Violation::new(
            "epg_hides_interstitials",
            from,
            format!(
                "{} content rows for {} scheduled items",
                content_rows.len(),
                items.len()
            ),
        ));
    }
    for (row, item) in content_rows.iter().zip(items) {
        if row.start != item.start
            || row.end != item.slot_end
            || row.asset.as_ref() != Some(&item.asset)
        {
            out.push(Violation::new(
                "epg_hides_interstitials",
                row.start,
                format!("row {:?} is not the slot of {}", row.title, item.asset),
            ));
        }
    }
    for pair in rows.windows(2) {
        if pair[0].filler && pair[1].filler {
            out.push(Violation::new(
                "epg_abuts",
                pair[1].start,
                "two filler rows for one contiguous stretch",
            ));
        }
    }
    out
}

/// Every invariant of a run of consecutive days of one channel and their playlog. Days without
/// a plan (faults) must air nothing and show nothing; the days between them are checked as
/// runs that tile and abut.
pub fn check_channel_days(
    channel: &Channel,
    days: &[ScheduleDay],
    events: &[PlaylogEvent],
    rows: &[EpgRow],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let within = |from: UtcMs, to: UtcMs| {
        let begin = events.partition_point(|e| e.end <= from);
        let end = events.partition_point(|e| e.start < to);
        begin..end.max(begin)
    };
    for day in days {
        out.extend(check_grid_alignment(channel, day));
        let span = &events[within(day.effective_start, day.covers_until)];
        if day.plan.is_none() {
            if let Some(e) = span.first() {
                out.push(Violation::new(
                    "fault_day_is_a_gap",
                    e.start,
                    format!("day {} has no plan but event {} airs", day.date, e.id),
                ));
            }
            if let Some(r) = rows
                .iter()
                .find(|r| r.end > day.effective_start && r.start < day.covers_until)
            {
                out.push(Violation::new(
                    "fault_day_is_a_gap",
                    r.start,
                    format!(
                        "day {} has no plan but the guide shows {:?}",
                        day.date, r.title
                    ),
                ));
            }
            continue;
        }
        out.extend(check_tiling(span, day.effective_start, day.covers_until));
        out.extend(check_items_in_playlog(channel, day, span));
    }
    out.extend(check_carry_in(channel, days));
    for run in days.split(|d| d.plan.is_none()).filter(|r| !r.is_empty()) {
        let (from, to) = (run[0].effective_start, run[run.len() - 1].covers_until);
        out.extend(check_tiling(&events[within(from, to)], from, to));
        let run_rows: Vec<EpgRow> = rows
            .iter()
            .filter(|r| r.end > from && r.start < to)
            .cloned()
            .collect();
        out.extend(check_epg(run, &run_rows, from, to));
    }
    out
}

/// The covered stretches of sorted, possibly abutting intervals, merged, clipped to [from, to).
fn coverage(
    spans: impl Iterator<Item = (UtcMs, UtcMs)>,
    from: UtcMs,
    to: UtcMs,
) -> Vec<(UtcMs, UtcMs)> {
    let mut out: Vec<(UtcMs, UtcMs)> = Vec::new();
    for (a, b) in spans {
        let (a, b) = (a.max(from), b.min(to));
        if a >= b {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out
}

/// A published snapshot (MACHINE-004, HORIZON-008): within [from, to) its playlog events and guide
/// rows never overlap, and they cover exactly the same time — guide = playlog, the only holes
/// being schedule gaps that both show.
pub fn check_snapshot(
    events: &[PlaylogEvent],
    rows: &[EpgRow],
    from: UtcMs,
    to: UtcMs,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for pair in events.windows(2) {
        if pair[1].start < pair[0].end {
            out.push(Violation::new(
                "playlog_tiling",
                pair[1].start,
                format!("event {} overlaps {}", pair[1].id, pair[0].id),
            ));
        }
    }
    for pair in rows.windows(2) {
        if pair[1].start < pair[0].end {
            out.push(Violation::new(
                "epg_abuts",
                pair[1].start,
                format!("row {:?} overlaps {:?}", pair[1].title, pair[0].title),
            ));
        }
    }
    let played = coverage(events.iter().map(|e| (e.start, e.end)), from, to);
    let guided = coverage(rows.iter().map(|r| (r.start, r.end)), from, to);
    if played != guided {
        let at = played
            .iter()
            .zip(&guided)
            .find(|(p, g)| p != g)
            .map_or(from, |(p, g)| p.0.min(g.0));
        out.push(Violation::new(
            "epg_matches_playlog",
            at,
            format!(
                "the guide covers {} stretches and the playlog {} between {} and {}",
                guided.len(),
                played.len(),
                fmt_utc(from),
                fmt_utc(to)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::model::EventKind;

    fn event(id: &str, start: UtcMs, end: UtcMs) -> PlaylogEvent {
        PlaylogEvent {
            id: id.to_string(),
            channel: "c".into(),
            start,
            end,
            kind: EventKind::Content,
            asset: Some("a".into()),
            in_point_ms: 0,
            item_start: None,
        }
    }

    fn row(start: UtcMs, end: UtcMs) -> EpgRow {
        EpgRow {
            channel: "c".into(),
            start,
            end,
            title: "t".into(),
            episode_title: None,
            season: None,
            episode: None,
            description: None,
            rating: None,
            category: None,
            asset: None,
            program: None,
            filler: false,
        }
    }

    #[test]
    fn a_snapshot_whose_guide_and_playlog_differ_is_reported() {
        // contract: HORIZON-008
        let events = vec![event("1", 0, 10), event("2", 10, 20), event("3", 30, 40)];
        // The same hole (a gap) in both: fine.
        let rows = vec![row(0, 20), row(30, 40)];
        assert!(check_snapshot(&events, &rows, 0, 40).is_empty());
        // The guide shows something where nothing plays.
        let rows = vec![row(0, 40)];
        let found = check_snapshot(&events, &rows, 0, 40);
        assert_eq!(found[0].invariant, "epg_matches_playlog");
        // Overlapping events.
        let overlapping = vec![event("1", 0, 15), event("2", 10, 20)];
        let found = check_snapshot(&overlapping, &[row(0, 20)], 0, 20);
        assert_eq!(found[0].invariant, "playlog_tiling");
    }
}
