//! The guide (EPG-001): one row per scheduled item's slot, filler rows for avail outside slots.

use crate::model::{Channel, EpgRow, ScheduleDay, UtcMs};

fn filler_row(channel: &Channel, start: UtcMs, end: UtcMs) -> EpgRow {
    EpgRow {
        channel: channel.id.clone(),
        start,
        end,
        title: channel.filler_title().to_string(),
        episode_title: None,
        season: None,
        episode: None,
        description: None,
        rating: None,
        category: None,
        asset: None,
        program: None,
        filler: true,
    }
}

/// Append a filler stretch, merging it into a filler row it abuts (one row per stretch).
fn push_filler(rows: &mut Vec<EpgRow>, channel: &Channel, start: UtcMs, end: UtcMs) {
    if end <= start {
        return;
    }
    if let Some(last) = rows.last_mut() {
        if last.filler && last.end == start {
            last.end = end;
            return;
        }
    }
    rows.push(filler_row(channel, start, end));
}

/// Guide rows for consecutive days of one channel, from the first day's effective start to the
/// last day's `covers_until`. Rows abut; a carry-in row is one row. A day with no plan (a
/// fault) has no rows: the guide shows the same gap the playlog has.
pub fn epg_rows(channel: &Channel, days: &[ScheduleDay]) -> Vec<EpgRow> {
    // At most one filler row before each item and one at each day's end.
    let mut rows: Vec<EpgRow> =
        Vec::with_capacity(days.iter().map(|d| 2 * d.items.len() + 1).sum());
    for day in days.iter().filter(|d| d.plan.is_some()) {
        let mut at = day.effective_start;
        for item in &day.items {
            push_filler(&mut rows, channel, at, item.start);
            rows.push(EpgRow {
                channel: channel.id.clone(),
                start: item.start,
                end: item.slot_end,
                title: item.title.clone(),
                episode_title: item.episode_title.clone(),
                season: item.season,
                episode: item.episode,
                description: item.description.clone(),
                rating: item.rating.clone(),
                category: item.category.clone(),
                asset: Some(item.asset.clone()),
                program: item.program.clone(),
                filler: false,
            });
            at = item.slot_end;
        }
        push_filler(&mut rows, channel, at, day.covers_until);
    }
    rows
}
