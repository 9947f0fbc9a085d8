//! Time and grid arithmetic (TIME-001, TIME-002, GRID-001): broadcast dates, day windows, local anchors, `snap`.
//!
//! Block arithmetic is done on UTC instants; only anchors (day start, zone bounds, grid
//! boundaries) come from the channel's local wall time.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::model::{Channel, UtcMs, MS_PER_MINUTE};

/// The local-time facts of one channel needed for grid arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelClock {
    pub tz: Tz,
    pub grid_minutes: u32,
    /// Sorted, unique minutes of the hour on which blocks may start.
    pub offsets: Vec<u32>,
    /// Programming-day start, local minutes after midnight.
    pub day_start_minute: u32,
}

impl ChannelClock {
    pub fn new(tz: Tz, grid_minutes: u32, offsets: &[u32], day_start_minute: u32) -> ChannelClock {
        let mut offsets = offsets.to_vec();
        offsets.sort_unstable();
        offsets.dedup();
        ChannelClock {
            tz,
            grid_minutes,
            offsets,
            day_start_minute,
        }
    }

    pub fn of(channel: &Channel) -> ChannelClock {
        ChannelClock::new(
            channel.timezone,
            channel.grid_block_minutes,
            &channel.block_start_offsets_minutes,
            channel.programming_day_start_minute,
        )
    }

    pub fn grid_ms(&self) -> i64 {
        self.grid_minutes as i64 * MS_PER_MINUTE
    }

    /// Channel-local wall time of an instant.
    pub fn local(&self, t: UtcMs) -> NaiveDateTime {
        let utc = utc_datetime(t);
        self.tz.from_utc_datetime(&utc.naive_utc()).naive_local()
    }

    /// Broadcast date of an instant: the local date, minus one day before the day start.
    pub fn broadcast_date(&self, t: UtcMs) -> NaiveDate {
        let local = self.local(t);
        let minute_of_day = local.hour() * 60 + local.minute();
        if minute_of_day < self.day_start_minute {
            local.date().pred_opt().expect("date in range")
        } else {
            local.date()
        }
    }

    /// The instant of a local wall time. Skipped wall times move forward by the skipped amount;
    /// repeated ones take the earlier instant (TIME-001, TIME-002, GRID-001).
    pub fn resolve_local(&self, local: NaiveDateTime) -> UtcMs {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(dt) => dt.timestamp_millis(),
            LocalResult::Ambiguous(earlier, _) => earlier.timestamp_millis(),
            LocalResult::None => {
                // In a spring-forward gap: read the wall time with the offset in force before the
                // gap, which lands the same distance past the transition as the wall time is
                // past the gap's start. Transitions are far more than a day apart.
                let probe = local - Duration::hours(26);
                let before = self.tz.offset_from_utc_datetime(&probe).fix();
                (local - Duration::seconds(before.local_minus_utc() as i64))
                    .and_utc()
                    .timestamp_millis()
            }
        }
    }

    /// The instant of a local anchor: `date` plus `minute` minutes of wall time (may exceed 1440).
    pub fn anchor(&self, date: NaiveDate, minute: u32) -> UtcMs {
        let midnight = date.and_time(NaiveTime::MIN);
        self.resolve_local(midnight + Duration::minutes(minute as i64))
    }

    /// Start of broadcast date `date`'s window.
    pub fn day_start(&self, date: NaiveDate) -> UtcMs {
        self.anchor(date, self.day_start_minute)
    }

    /// The window [start, end) of broadcast date `date`: 23 h or 25 h on DST change days.
    pub fn day_window(&self, date: NaiveDate) -> (UtcMs, UtcMs) {
        let next = date.succ_opt().expect("date in range");
        (self.day_start(date), self.day_start(next))
    }

    /// Instant of a local time inside the programming day `date`, given as minutes after the
    /// programming-day start (0..=1440 wall minutes; 1440 is the next day's start).
    pub fn programming_day_anchor(&self, date: NaiveDate, minutes_after_day_start: u32) -> UtcMs {
        self.anchor(date, self.day_start_minute + minutes_after_day_start)
    }

    /// Is `t` a grid boundary: local seconds zero and minute of the hour in the offsets?
    pub fn is_boundary(&self, t: UtcMs) -> bool {
        if t.rem_euclid(1000) != 0 {
            return false;
        }
        let local = self.local(t);
        local.second() == 0 && self.offsets.contains(&local.minute())
    }

    /// The first grid boundary at or after `t`.
    pub fn snap(&self, t: UtcMs) -> UtcMs {
        // Whole UTC seconds first; every zone in use has whole-second offsets.
        let mut cur = t + (1000 - t.rem_euclid(1000)) % 1000;
        loop {
            let local = self.local(cur);
            let minute = local.minute();
            let second = local.second();
            if second == 0 && self.offsets.contains(&minute) {
                return cur;
            }
            // Advance to the next offset mark on the wall clock as if no transition intervened;
            // if one did, the loop re-reads the wall clock there. Never moves backwards, and
            // never jumps over a boundary (a transition only shortens or lengthens the wall
            // distance covered, and we recheck where we land).
            let next_offset = self
                .offsets
                .iter()
                .copied()
                .find(|&o| o > minute)
                .unwrap_or(self.offsets[0] + 60);
            let step_s = (next_offset - minute) as i64 * 60 - second as i64;
            cur += step_s * 1000;
        }
    }

    /// Whole blocks an item of `runtime_ms` occupies: `max(1, ceil(runtime / grid))`.
    pub fn blocks_for(&self, runtime_ms: i64) -> u32 {
        let grid = self.grid_ms();
        let blocks = (runtime_ms.max(0) + grid - 1) / grid;
        blocks.max(1) as u32
    }
}

/// A UTC `DateTime` from milliseconds.
pub fn utc_datetime(t: UtcMs) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t).expect("instant in range")
}

/// RFC 3339 UTC with a `Z`; milliseconds only when they are not zero.
pub fn fmt_utc(t: UtcMs) -> String {
    let dt = utc_datetime(t);
    let millis = t.rem_euclid(1000);
    if !(0..=9999).contains(&dt.year()) {
        // Outside four-digit years chrono's `%Y` adds a sign: keep its exact spelling.
        return if millis == 0 {
            dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        };
    }
    // Written digit by digit (this is hot: every instant of every report and listing); the
    // same text as the `%Y-%m-%dT%H:%M:%S[%.3f]Z` format.
    let mut out = String::with_capacity(24);
    push_digits(&mut out, dt.year() as u32, 4);
    out.push('-');
    push_digits(&mut out, dt.month(), 2);
    out.push('-');
    push_digits(&mut out, dt.day(), 2);
    out.push('T');
    push_digits(&mut out, dt.hour(), 2);
    out.push(':');
    push_digits(&mut out, dt.minute(), 2);
    out.push(':');
    push_digits(&mut out, dt.second(), 2);
    if millis != 0 {
        out.push('.');
        push_digits(&mut out, millis as u32, 3);
    }
    out.push('Z');
    out
}

/// XMLTV time: `YYYYMMDDHHMMSS +0000`.
pub fn fmt_xmltv(t: UtcMs) -> String {
    let dt = utc_datetime(t);
    if !(0..=9999).contains(&dt.year()) {
        return dt.format("%Y%m%d%H%M%S +0000").to_string();
    }
    let mut out = String::with_capacity(20);
    push_digits(&mut out, dt.year() as u32, 4);
    for field in [dt.month(), dt.day(), dt.hour(), dt.minute(), dt.second()] {
        push_digits(&mut out, field, 2);
    }
    out.push_str(" +0000");
    out
}

/// Append the last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for k in (0..width).rev() {
        let digit = (value / 10u32.pow(k)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// The years a date or an instant may fall in (the program's clock is Unix milliseconds and its
/// dates are four-digit `YYYY-MM-DD` text).
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Whether a date is in [`YEARS`].
pub fn date_in_range(date: NaiveDate) -> bool {
    YEARS.contains(&date.year())
}

/// Parse an RFC 3339 instant into milliseconds (years 1970–9999 only).
pub fn parse_utc(s: &str) -> Option<UtcMs> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .filter(|d| date_in_range(d.naive_utc().date()))
        .map(|d| d.timestamp_millis())
}

/// Parse `HH:MM` (00:00..=24:00) into minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `HH:MM` for minutes after midnight.
pub fn fmt_hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parse `HH:MM:SS[.mmm]` into milliseconds.
pub fn parse_hms_duration(s: &str) -> Option<i64> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 && p != &parts[0])
    {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let sec: i64 = parts[2].parse().ok()?;
    if m >= 60 || sec >= 60 || h < 0 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 3 && f.chars().all(|c| c.is_ascii_digit()) => {
            let padded = format!("{f:0<3}");
            padded.parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    // Overflowing hours are not a duration.
    h.checked_mul(3_600_000)?
        .checked_add(m * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> ChannelClock {
        ChannelClock::new(chrono_tz::America::New_York, 30, &[0, 30], 360)
    }

    fn at(s: &str) -> UtcMs {
        parse_utc(s).unwrap()
    }

    #[test]
    fn snap_matches_brute_force_across_dst() {
        for tz in [
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Chatham,
            chrono_tz::Asia::Kolkata,
        ] {
            for (grid, offsets) in [
                (30u32, vec![0u32, 30]),
                (60, vec![0]),
                (15, vec![0, 15, 30, 45]),
                (30, vec![15, 45]),
            ] {
                let clock = ChannelClock::new(tz, grid, &offsets, 0);
                // Scan around both 2026 transitions of each zone, minute by minute.
                for start in [
                    "2026-03-07T00:00:00Z",
                    "2026-04-04T00:00:00Z",
                    "2026-09-26T00:00:00Z",
                    "2026-10-03T00:00:00Z",
                    "2026-11-01T00:00:00Z",
                ] {
                    let base = at(start);
                    let mut expected_next = None;
                    // Walk backwards so the brute-force "first boundary ≥ t" is cheap.
                    for minute in (0..(48 * 60)).rev() {
                        let t = base + minute * MS_PER_MINUTE;
                        if clock.is_boundary(t) {
                            expected_next = Some(t);
                        }
                        if let Some(e) = expected_next {
                            assert_eq!(clock.snap(t), e, "tz {tz} grid {grid} t {}", fmt_utc(t));
                            if e == t {
                                assert_eq!(clock.snap(t - 17_000), t);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn skipped_anchor_moves_forward() {
        let clock = ny();
        let t = clock.anchor(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), 150);
        assert_eq!(fmt_utc(t), "2026-03-08T07:30:00Z"); // 03:30 EDT
        let repeated = clock.anchor(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 90);
        assert_eq!(fmt_utc(repeated), "2026-11-01T05:30:00Z"); // 01:30 EDT, the earlier one
    }

    #[test]
    fn utc_and_xmltv_text_match_the_chrono_formats() {
        // The hand-written formatters must spell every instant exactly as the formats did.
        let mut instants = vec![
            0,
            1,
            999,
            1_000,
            -1,
            -1_000,
            -86_400_001,
            253_402_300_799_999,
        ];
        instants.extend([253_402_300_800_000, -62_167_219_200_001, 1_772_445_600_123]);
        let mut t: i64 = -62_000_000_000_000;
        while t < 250_000_000_000_000 {
            instants.push(t);
            t += 7_777_777_777_777 / 13 + 123;
        }
        for t in instants {
            let dt = utc_datetime(t);
            let utc = if t.rem_euclid(1000) == 0 {
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            };
            assert_eq!(fmt_utc(t), utc, "at {t}");
            assert_eq!(
                fmt_xmltv(t),
                dt.format("%Y%m%d%H%M%S +0000").to_string(),
                "at {t}"
            );
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_hms_duration("00:22:00"), Some(1_320_000));
        assert_eq!(parse_hms_duration("01:30:00.5"), Some(5_400_500));
        assert_eq!(parse_hms_duration("1:3"), None);
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:30"), None);
        assert_eq!(parse_hhmm("6:00"), None);
    }
}
