//! A broadcast day as a text timeline (EPG-002): the day's header, its guide rows and its
//! playlog events in channel-local and UTC time, one line each. Data-driven tests compare it
//! with an expected file, so a schedule change shows up as a readable diff.

use std::fmt::Write as _;

use crate::model::{Channel, EpgRow, PlaylogEvent, ScheduleDay, UtcMs};
use crate::time::{fmt_utc, ChannelClock};

/// Render `day` of `channel`, with the guide rows and playlog events that start inside the
/// day's coverage `[effective_start, covers_until)`.
pub fn render_day(
    channel: &Channel,
    day: &ScheduleDay,
    rows: &[EpgRow],
    events: &[PlaylogEvent],
) -> String {
    let clock = ChannelClock::of(channel);
    let local = |t: UtcMs| clock.local(t).format("%a %H:%M:%S").to_string();
    let inside = |t: UtcMs| day.effective_start <= t && t < day.covers_until;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}) broadcast date {} plan {}",
        channel.id,
        channel.name,
        channel.timezone,
        day.date,
        day.plan.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(
        out,
        "window {} .. {}; airs {} .. {}",
        fmt_utc(day.window_start),
        fmt_utc(day.window_end),
        fmt_utc(day.effective_start),
        fmt_utc(day.covers_until)
    );
    for fault in &day.faults {
        let _ = writeln!(out, "fault {fault:?}");
    }
    let _ = writeln!(out, "guide:");
    for row in rows.iter().filter(|r| inside(r.start)) {
        let episode = match (row.season, row.episode) {
            (Some(s), Some(e)) => format!(" S{s:02}E{e:02}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} .. {}  {}{}{}{}",
            local(row.start),
            local(row.end),
            row.title,
            episode,
            row.episode_title
                .as_deref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default(),
            if row.filler { "  [filler]" } else { "" }
        );
    }
    let _ = writeln!(out, "playlog:");
    for event in events.iter().filter(|e| inside(e.start)) {
        let _ = writeln!(
            out,
            "  {}  {:>9} ms  {:<10} {} @{}",
            local(event.start),
            event.end - event.start,
            event.kind.as_str(),
            event.asset.as_deref().unwrap_or("-"),
            event.in_point_ms
        );
    }
    out
}
