//! Channel, plan and zone validation rules (CHAN-001, ZONE-001, SCHED-001, SCHED-008) with messages that name the key.
//!
//! The lineup parser, the CLI and the store all use these, so a rule reads the same wherever it
//! is broken.

use crate::model::{Channel, Zone};
use crate::time::fmt_hhmm;

/// One broken rule: `key` is the offending field (e.g. `grid_block_minutes`,
/// `plan[0].zone[1].start`), `message` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub key: String,
    pub message: String,
}

impl RuleError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The longest duration anything may have: 7 days (SCHED-008).
pub const MAX_DURATION_MS: i64 = 7 * 24 * 3_600_000;

/// SCHED-008: a duration must be > 0 and at most 7 days; `Err` says which bound it breaks.
pub fn check_duration(ms: i64) -> Result<i64, String> {
    if ms <= 0 {
        Err(format!("duration must be > 0, got {ms}"))
    } else if ms > MAX_DURATION_MS {
        Err(format!(
            "duration {ms} ms is longer than 7 days ({MAX_DURATION_MS} ms)"
        ))
    } else {
        Ok(ms)
    }
}

/// LINEUP-015: an `output_profile` must parse as an output profile (ENGINE-020); the error
/// names the text and what is wrong with it.
pub fn output_profile(text: &str) -> Result<(), String> {
    crate::profile::OutputProfile::parse(text).map(|_| ())
}

/// The longest id the program accepts (an id is part of URLs and file names).
pub const MAX_ID_LEN: usize = 64;

/// A slug: `[a-z0-9]+(-[a-z0-9]+)*`, at most [`MAX_ID_LEN`] characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The grid rules of a channel: grid 15/30/60; offsets sorted, unique, in 0..60 and multiples
/// of the grid; the programming day starts on a boundary.
pub fn check_grid(grid: u32, offsets: &[u32], day_start_minute: u32) -> Vec<RuleError> {
    let mut errors = Vec::new();
    if ![15, 30, 60].contains(&grid) {
        errors.push(RuleError::new(
            "grid_block_minutes",
            format!("grid_block_minutes must be 15, 30 or 60, got {grid}"),
        ));
    }
    if offsets.is_empty() {
        errors.push(RuleError::new(
            "block_start_offsets_minutes",
            "block_start_offsets_minutes must list at least one minute of the hour",
        ));
    }
    for (i, &o) in offsets.iter().enumerate() {
        if o >= 60 {
            errors.push(RuleError::new(
                "block_start_offsets_minutes",
                format!("offset {o} is not a minute of the hour (0..59)"),
            ));
        } else if [15, 30, 60].contains(&grid) && o % grid != 0 {
            errors.push(RuleError::new(
                "block_start_offsets_minutes",
                format!("offset {o} is not a multiple of the {grid}-minute grid"),
            ));
        }
        if i > 0 && offsets[i - 1] >= o {
            errors.push(RuleError::new(
                "block_start_offsets_minutes",
                format!("offsets must be sorted and unique, got {offsets:?}"),
            ));
        }
    }
    if day_start_minute >= 1440 {
        errors.push(RuleError::new(
            "programming_day_start",
            "programming_day_start must be a time of day before 24:00",
        ));
    } else if !offsets.contains(&(day_start_minute % 60)) {
        errors.push(RuleError::new(
            "programming_day_start",
            format!(
                "programming_day_start {} is not on a grid boundary (offsets {offsets:?})",
                fmt_hhmm(day_start_minute)
            ),
        ));
    }
    errors
}

/// A zone's window in minutes after the programming-day start: `[start, end)` within 0..=1440.
/// `start == end` is the whole programming day. `Err` when it crosses the day start.
pub fn zone_window(zone: &Zone, day_start_minute: u32) -> Result<(u32, u32), String> {
    let rel = |m: u32| (m % 1440 + 1440 - day_start_minute) % 1440;
    let start = rel(zone.start_minute);
    let end = rel(zone.end_minute);
    if start == end {
        return Ok((0, 1440));
    }
    if end == 0 {
        return Ok((start, 1440));
    }
    if end < start {
        return Err(format!(
            "zone {}–{} crosses the programming day start {}",
            fmt_hhmm(zone.start_minute),
            fmt_hhmm(zone.end_minute),
            fmt_hhmm(day_start_minute)
        ));
    }
    Ok((start, end))
}

/// Everything wrong with a channel, each naming its key. References to catalog items are checked
/// by the lineup parser, which knows the catalog.
pub fn check_channel(channel: &Channel) -> Vec<RuleError> {
    let mut errors = Vec::new();
    if !is_slug(&channel.id) {
        errors.push(RuleError::new(
            "id",
            format!(
                "channel id {:?} is not a slug ([a-z0-9]+(-[a-z0-9]+)*, at most {MAX_ID_LEN} \
                 characters)",
                channel.id
            ),
        ));
    }
    if channel.name.trim().is_empty() {
        errors.push(RuleError::new("name", "name must not be empty"));
    }
    if let Some(Err(message)) = channel.output_profile.as_deref().map(output_profile) {
        errors.push(RuleError::new("output_profile", message));
    }
    if channel.number.trim().is_empty() {
        errors.push(RuleError::new("number", "number must not be empty"));
    }
    errors.extend(check_grid(
        channel.grid_block_minutes,
        &channel.block_start_offsets_minutes,
        channel.programming_day_start_minute,
    ));
    for (p, plan) in channel.plans.iter().enumerate() {
        let plan_key = format!("plan[{p}]");
        if plan.name.trim().is_empty() {
            errors.push(RuleError::new(
                format!("{plan_key}.name"),
                "plan name must not be empty",
            ));
        }
        if plan.days.is_empty() {
            errors.push(RuleError::new(
                format!("{plan_key}.days"),
                "plan applies on no day",
            ));
        }
        if let (Some(s), Some(e)) = (plan.start_date, plan.end_date) {
            if e < s {
                errors.push(RuleError::new(
                    format!("{plan_key}.end_date"),
                    format!("end_date {e} is before start_date {s}"),
                ));
            }
        }
        let mut windows: Vec<(u32, u32, usize)> = Vec::new();
        for (z, zone) in plan.zones.iter().enumerate() {
            let zone_key = format!("{plan_key}.zone[{z}]");
            for (which, minute) in [("start", zone.start_minute), ("end", zone.end_minute)] {
                if minute > 1440 || !channel.block_start_offsets_minutes.contains(&(minute % 60)) {
                    errors.push(RuleError::new(
                        format!("{zone_key}.{which}"),
                        format!(
                            "zone {:?} {which} {} is not on a grid boundary (offsets {:?})",
                            zone.name,
                            fmt_hhmm(minute),
                            channel.block_start_offsets_minutes
                        ),
                    ));
                }
            }
            if zone.items.is_empty() {
                errors.push(RuleError::new(
                    format!("{zone_key}.items"),
                    format!("zone {:?} holds no items", zone.name),
                ));
            }
            match zone_window(zone, channel.programming_day_start_minute) {
                Ok((s, e)) if zone.enabled => windows.push((s, e, z)),
                Ok(_) => {}
                Err(message) => errors.push(RuleError::new(format!("{zone_key}.end"), message)),
            }
        }
        windows.sort_unstable();
        for pair in windows.windows(2) {
            let (a, b) = (&plan.zones[pair[0].2], &plan.zones[pair[1].2]);
            if pair[1].0 < pair[0].1 {
                errors.push(RuleError::new(
                    format!("{plan_key}.zone[{}]", pair[1].2),
                    format!(
                        "zone {:?} ({}–{}) overlaps zone {:?} ({}–{}) in plan {:?}",
                        b.name,
                        fmt_hhmm(b.start_minute),
                        fmt_hhmm(b.end_minute),
                        a.name,
                        fmt_hhmm(a.start_minute),
                        fmt_hhmm(a.end_minute),
                        plan.name
                    ),
                ));
            }
        }
    }
    errors
}

/// Stretches of the programming day (minutes after day start) that no enabled zone of any plan
/// covers: `lineup validate` warns about them (they air as avail).
pub fn uncovered_minutes(channel: &Channel) -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    for plan in &channel.plans {
        let mut windows: Vec<(u32, u32)> = plan
            .zones
            .iter()
            .filter(|z| z.enabled)
            .filter_map(|z| zone_window(z, channel.programming_day_start_minute).ok())
            .collect();
        windows.sort_unstable();
        let mut covered_to = 0;
        for (s, e) in windows {
            if s > covered_to {
                out.push((plan.name.clone(), covered_to, s));
            }
            covered_to = covered_to.max(e);
        }
        if covered_to < 1440 {
            out.push((plan.name.clone(), covered_to, 1440));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_slug("retro-one"));
        assert!(is_slug("a1"));
        assert!(!is_slug("Retro"));
        assert!(!is_slug("a--b"));
        assert!(!is_slug("-a"));
        assert!(!is_slug(""));
        assert!(is_slug(&"a".repeat(64)));
        assert!(!is_slug(&"a".repeat(65)));
    }

    #[test]
    fn zone_windows() {
        let zone = |s, e| Zone {
            name: "z".into(),
            start_minute: s,
            end_minute: e,
            items: vec![],
            enabled: true,
        };
        assert_eq!(zone_window(&zone(22 * 60, 120), 360), Ok((960, 1200)));
        assert_eq!(zone_window(&zone(360, 360), 360), Ok((0, 1440)));
        assert_eq!(zone_window(&zone(120, 360), 360), Ok((1200, 1440)));
        assert_eq!(zone_window(&zone(0, 1440), 0), Ok((0, 1440)));
        assert_eq!(zone_window(&zone(0, 1440), 360), Ok((0, 1440)));
        assert!(zone_window(&zone(240, 480), 360).is_err());
    }
}
