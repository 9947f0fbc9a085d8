//! The horizon keeper (HORIZON-001..008): a sans-IO state machine deciding, on clock thresholds only,
//! which ScheduleDays and how much playlog to build ahead for every channel.

use std::collections::{BTreeMap, VecDeque};

use chrono::NaiveDate;

use crate::model::{ScheduleDay, UtcMs, MS_PER_MINUTE};
use crate::time::ChannelClock;

/// How far ahead to keep things built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HorizonConfig {
    /// ScheduleDays are built through `broadcast_date(now) + days_ahead`.
    pub days_ahead: u32,
    /// The playlog is kept at least this far ahead of now.
    pub playlog_ahead_ms: i64,
    /// How much beyond `playlog_ahead_ms` an extension reaches, so extensions are occasional.
    pub refill_ms: i64,
    /// A failed build or publish is retried after this, doubling per consecutive failure…
    pub retry_initial_ms: i64,
    /// …up to this.
    pub retry_max_ms: i64,
}

impl Default for HorizonConfig {
    fn default() -> HorizonConfig {
        HorizonConfig {
            days_ahead: 3,
            playlog_ahead_ms: 6 * 60 * MS_PER_MINUTE,
            refill_ms: 60 * MS_PER_MINUTE,
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
        }
    }
}

/// What the keeper asks its driver to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HorizonAction {
    BuildDays {
        channel: String,
        from: NaiveDate,
        days: u32,
    },
    ExtendPlaylog {
        channel: String,
        until: UtcMs,
    },
}

/// One channel's bounds and progress.
#[derive(Debug, Clone)]
struct ChannelHorizon {
    clock: ChannelClock,
    first_date: NaiveDate,
    last_date: Option<NaiveDate>,
    /// Nothing is built past this instant (the simulator's horizon end); `UtcMs::MAX` otherwise.
    end: UtcMs,
    /// Dates asked for (built or in flight) through this one.
    days_requested_through: Option<NaiveDate>,
    days_built_through: Option<NaiveDate>,
    playlog_requested_until: Option<UtcMs>,
    playlog_until: Option<UtcMs>,
    /// Start of the broadcast day after the last tick: the next day threshold.
    next_day_start: Option<UtcMs>,
    /// Consecutive failed builds or publishes (HORIZON-005).
    failures: u32,
    /// A failure is retried at this instant.
    retry_at: Option<UtcMs>,
}

/// Counters of the keeper's failures and retries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeeperStats {
    pub store_failures: u64,
    pub retries: u64,
}

/// Keeps every channel's ScheduleDays `days_ahead` days and playlog `playlog_ahead_ms` ahead.
#[derive(Debug, Clone)]
pub struct HorizonKeeper {
    config: HorizonConfig,
    channels: BTreeMap<String, ChannelHorizon>,
    actions: VecDeque<HorizonAction>,
    stats: KeeperStats,
}

impl HorizonKeeper {
    /// A refill under one second is raised to one second, so ticks never come back-to-back.
    pub fn new(mut config: HorizonConfig) -> HorizonKeeper {
        config.refill_ms = config.refill_ms.max(1_000);
        HorizonKeeper {
            config,
            channels: BTreeMap::new(),
            actions: VecDeque::new(),
            stats: KeeperStats::default(),
        }
    }

    pub fn config(&self) -> &HorizonConfig {
        &self.config
    }

    /// Keep a channel from `first_date` on, optionally no later than `last_date` and `end`.
    pub fn add_channel(
        &mut self,
        id: &str,
        clock: ChannelClock,
        first_date: NaiveDate,
        last_date: Option<NaiveDate>,
        end: Option<UtcMs>,
    ) {
        self.channels.insert(
            id.to_string(),
            ChannelHorizon {
                clock,
                first_date,
                last_date,
                end: end.unwrap_or(UtcMs::MAX),
                days_requested_through: None,
                days_built_through: None,
                playlog_requested_until: None,
                playlog_until: None,
                next_day_start: None,
                failures: 0,
                retry_at: None,
            },
        );
    }

    /// Nothing of `channel` is needed past `end` (learnt once its last day is built).
    pub fn set_end(&mut self, channel: &str, end: UtcMs) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.end = end;
        }
    }

    /// The clock threshold: queue whatever every channel is short of at `now`.
    pub fn handle_tick(&mut self, now: UtcMs) {
        for (id, ch) in self.channels.iter_mut() {
            match ch.retry_at {
                Some(at) if now < at => continue,
                Some(_) => {
                    ch.retry_at = None;
                    self.stats.retries += 1;
                }
                None => {}
            }
            let today = ch.clock.broadcast_date(now).max(ch.first_date);
            let mut want_through = today + chrono::Days::new(self.config.days_ahead as u64);
            if let Some(last) = ch.last_date {
                want_through = want_through.min(last);
            }
            let from = match ch.days_requested_through {
                Some(done) => done.succ_opt().expect("date in range"),
                None => ch.first_date,
            };
            if from <= want_through {
                let days = (want_through - from).num_days() as u32 + 1;
                self.actions.push_back(HorizonAction::BuildDays {
                    channel: id.clone(),
                    from,
                    days,
                });
                ch.days_requested_through = Some(want_through);
            }
            let more_days = ch.last_date.is_none_or(|last| want_through < last);
            ch.next_day_start = more_days.then(|| {
                ch.clock
                    .day_start(ch.clock.broadcast_date(now).succ_opt().expect("date"))
            });

            let have = ch.playlog_requested_until.unwrap_or(UtcMs::MIN);
            let need = now.saturating_add(self.config.playlog_ahead_ms).min(ch.end);
            if have < ch.end && have <= need {
                let until = now
                    .saturating_add(self.config.playlog_ahead_ms + self.config.refill_ms)
                    .min(ch.end);
                self.actions.push_back(HorizonAction::ExtendPlaylog {
                    channel: id.clone(),
                    until,
                });
                ch.playlog_requested_until = Some(until);
            }
        }
    }

    /// The driver built (and stored) a channel's days through `through`.
    pub fn handle_days_built(&mut self, channel: &str, through: NaiveDate) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.days_built_through = ch.days_built_through.max(Some(through));
        }
    }

    /// The driver published a channel's playlog up to `until`.
    pub fn handle_playlog_extended(&mut self, channel: &str, until: UtcMs) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.playlog_until = ch.playlog_until.max(Some(until));
            if ch.retry_at.is_none() {
                ch.failures = 0;
            }
        }
    }

    /// A build of `channel`'s days failed at `now` (HORIZON-005): the days not confirmed built
    /// are asked for again after a backoff, until a build succeeds.
    pub fn handle_build_failed(&mut self, channel: &str, now: UtcMs) {
        let config = &self.config;
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.days_requested_through = ch.days_built_through;
            ch.playlog_requested_until = ch.playlog_until;
            Self::back_off(config, ch, now);
            // A publish queued behind the failed build would publish days about to change.
            self.actions.retain(
                |a| !matches!(a, HorizonAction::ExtendPlaylog { channel: c, .. } if c == channel),
            );
            self.stats.store_failures += 1;
        }
    }

    /// Publishing `channel`'s playlog failed at `now` (HORIZON-005): asked for again after a
    /// backoff.
    pub fn handle_publish_failed(&mut self, channel: &str, now: UtcMs) {
        let config = &self.config;
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.playlog_requested_until = ch.playlog_until;
            Self::back_off(config, ch, now);
            self.stats.store_failures += 1;
        }
    }

    /// Build `channel`'s days again from `from` (an edit, vanished media): the next tick asks
    /// for them (HORIZON-006). Dates before the first kept date are ignored.
    pub fn handle_rebuild(&mut self, channel: &str, from: NaiveDate) {
        if let Some(ch) = self.channels.get_mut(channel) {
            let before = from.pred_opt().filter(|d| *d >= ch.first_date);
            if ch
                .days_requested_through
                .is_some_and(|r| before.is_none_or(|b| b < r))
            {
                ch.days_requested_through = before;
                ch.days_built_through = ch.days_built_through.min(before);
            }
        }
    }

    fn back_off(config: &HorizonConfig, ch: &mut ChannelHorizon, now: UtcMs) {
        ch.failures = ch.failures.saturating_add(1);
        let doublings = (ch.failures - 1).min(30);
        let delay = config
            .retry_initial_ms
            .max(1)
            .saturating_mul(1 << doublings)
            .min(config.retry_max_ms.max(1));
        ch.retry_at = Some(now + delay);
    }

    pub fn stats(&self) -> &KeeperStats {
        &self.stats
    }

    /// Is a failed build or publish of `channel` waiting for its retry?
    pub fn is_retrying(&self, channel: &str) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.retry_at.is_some())
    }

    /// Why `channel`'s horizon is behind at `now`, if it is (HORIZON-007): a failure waiting
    /// for its retry, or a playlog that does not reach now.
    pub fn behind(&self, channel: &str, now: UtcMs) -> Option<String> {
        let ch = self.channels.get(channel)?;
        if let Some(at) = ch.retry_at {
            return Some(format!(
                "{} consecutive build/publish failures; retrying at {}",
                ch.failures,
                crate::time::fmt_utc(at)
            ));
        }
        match ch.playlog_until {
            Some(until) if until > now || until >= ch.end => None,
            Some(until) => Some(format!(
                "playlog published only until {}",
                crate::time::fmt_utc(until)
            )),
            None => Some("nothing published yet".to_string()),
        }
    }

    pub fn poll_action(&mut self) -> Option<HorizonAction> {
        self.actions.pop_front()
    }

    /// The next instant a threshold is crossed for some channel.
    pub fn poll_timeout(&self) -> Option<UtcMs> {
        let mut next: Option<UtcMs> = None;
        for ch in self.channels.values() {
            if let Some(at) = ch.retry_at {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            if let Some(until) = ch.playlog_requested_until {
                if until < ch.end {
                    let at = until - self.config.playlog_ahead_ms;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
            if let Some(at) = ch.next_day_start {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
    }

    /// Dates built through, as confirmed.
    pub fn days_built_through(&self, channel: &str) -> Option<NaiveDate> {
        self.channels
            .get(channel)
            .and_then(|c| c.days_built_through)
    }

    /// Playlog published until, as confirmed.
    pub fn playlog_until(&self, channel: &str) -> Option<UtcMs> {
        self.channels.get(channel).and_then(|c| c.playlog_until)
    }
}

/// The published horizon (MACHINE-004): the end of the contiguous run of `days` (sorted by date,
/// days without a plan included) that covers `now`, capped at `cap`. A missing playlog event
/// before it is a schedule gap; after it the playlog is only short.
pub fn known_until<'d>(
    days: impl IntoIterator<Item = &'d ScheduleDay>,
    now: UtcMs,
    cap: UtcMs,
) -> UtcMs {
    let mut until: Option<UtcMs> = None;
    for day in days {
        match until {
            None if day.effective_start <= now && now < day.covers_until => {
                until = Some(day.covers_until)
            }
            None => {}
            Some(end) if day.effective_start <= end && day.covers_until > end => {
                until = Some(day.covers_until)
            }
            Some(_) => {}
        }
    }
    until.map_or(now, |u| u.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;

    fn keeper() -> HorizonKeeper {
        let mut k = HorizonKeeper::new(HorizonConfig::default());
        let clock = ChannelClock::new(chrono_tz::America::New_York, 30, &[0, 30], 360);
        k.add_channel(
            "retro-one",
            clock,
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            None,
            None,
        );
        k
    }

    fn drain(k: &mut HorizonKeeper) -> Vec<HorizonAction> {
        std::iter::from_fn(|| k.poll_action()).collect()
    }

    #[test]
    fn builds_days_ahead_on_ticks() {
        // contract: HORIZON-001
        let mut k = keeper();
        let now = parse_utc("2026-03-02T12:00:00Z").unwrap();
        k.handle_tick(now);
        let actions = drain(&mut k);
        assert_eq!(
            actions[0],
            HorizonAction::BuildDays {
                channel: "retro-one".into(),
                from: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                days: 4
            }
        );
        // The next day threshold asks for exactly one more day.
        let next_day = parse_utc("2026-03-03T11:00:00Z").unwrap();
        assert!(k.poll_timeout().unwrap() <= next_day);
        k.handle_tick(next_day);
        let actions = drain(&mut k);
        assert!(actions.contains(&HorizonAction::BuildDays {
            channel: "retro-one".into(),
            from: NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(),
            days: 1
        }));
    }

    #[test]
    fn playlog_extends_with_refill_on_threshold_only() {
        // contract: HORIZON-002
        // contract: HORIZON-003
        let mut k = keeper();
        let now = parse_utc("2026-03-02T12:00:00Z").unwrap();
        k.handle_tick(now);
        let actions = drain(&mut k);
        let hour = 60 * MS_PER_MINUTE;
        assert_eq!(
            actions[1],
            HorizonAction::ExtendPlaylog {
                channel: "retro-one".into(),
                until: now + 7 * hour
            }
        );
        // A tick before the threshold does nothing; the deadline is the threshold.
        k.handle_tick(now + 10 * MS_PER_MINUTE);
        assert!(drain(&mut k).is_empty());
        assert_eq!(k.poll_timeout(), Some(now + hour));
        k.handle_tick(now + hour);
        assert_eq!(
            drain(&mut k),
            vec![HorizonAction::ExtendPlaylog {
                channel: "retro-one".into(),
                until: now + 8 * hour
            }]
        );
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use crate::time::parse_utc;

    fn keeper() -> HorizonKeeper {
        let mut k = HorizonKeeper::new(HorizonConfig::default());
        let clock = ChannelClock::new(chrono_tz::America::New_York, 30, &[0, 30], 360);
        k.add_channel(
            "retro-one",
            clock,
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            None,
            None,
        );
        k
    }

    fn drain(k: &mut HorizonKeeper) -> Vec<HorizonAction> {
        std::iter::from_fn(|| k.poll_action()).collect()
    }

    #[test]
    fn a_failed_build_is_retried_with_backoff_until_it_succeeds() {
        // contract: HORIZON-005
        // contract: HORIZON-007
        let mut k = keeper();
        let now = parse_utc("2026-03-02T12:00:00Z").unwrap();
        k.handle_tick(now);
        let first = drain(&mut k);
        assert_eq!(first.len(), 2);
        k.handle_build_failed("retro-one", now);
        assert!(k.behind("retro-one", now).unwrap().contains("retrying"));
        assert_eq!(k.poll_timeout(), Some(now + 1_000));
        // Before the retry nothing is asked for.
        k.handle_tick(now + 500);
        assert!(drain(&mut k).is_empty());
        k.handle_tick(now + 1_000);
        let again = drain(&mut k);
        assert_eq!(again[0], first[0], "the same days are asked for again");
        assert!(matches!(again[1], HorizonAction::ExtendPlaylog { .. }));
        k.handle_build_failed("retro-one", now + 1_000);
        assert_eq!(k.poll_timeout(), Some(now + 3_000));
        k.handle_tick(now + 3_000);
        assert_eq!(drain(&mut k)[0], first[0]);
        k.handle_days_built("retro-one", NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        k.handle_playlog_extended("retro-one", now + 7 * 3_600_000);
        assert_eq!(k.behind("retro-one", now + 3_000), None);
        assert_eq!(
            k.stats(),
            &KeeperStats {
                store_failures: 2,
                retries: 2
            }
        );
        // A later failure starts the backoff from the beginning again.
        k.handle_publish_failed("retro-one", now + 3_600_000);
        assert_eq!(k.poll_timeout(), Some(now + 3_601_000));
    }

    #[test]
    fn a_rebuild_asks_for_the_days_again() {
        // contract: HORIZON-006
        let mut k = keeper();
        let now = parse_utc("2026-03-02T12:00:00Z").unwrap();
        k.handle_tick(now);
        drain(&mut k);
        k.handle_days_built("retro-one", NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        k.handle_rebuild("retro-one", NaiveDate::from_ymd_opt(2026, 3, 4).unwrap());
        k.handle_tick(now + 1);
        assert_eq!(
            drain(&mut k),
            vec![HorizonAction::BuildDays {
                channel: "retro-one".into(),
                from: NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(),
                days: 2
            }]
        );
    }

    #[test]
    fn the_known_horizon_runs_through_contiguous_days_and_stops_at_a_hole() {
        // contract: MACHINE-004
        use crate::model::ScheduleDay;
        let hour = 3_600_000;
        let day = |n: i64, start: i64, end: i64, plan: bool| ScheduleDay {
            channel: "c".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + chrono::Days::new(n as u64),
            plan: plan.then(|| "p".to_string()),
            window_start: start * hour,
            window_end: end * hour,
            effective_start: start * hour,
            covers_until: end * hour,
            items: Vec::new(),
            faults: Vec::new(),
        };
        // A day without a plan still counts: it is built, its gap is known.
        let days = vec![
            day(0, 0, 24, true),
            day(1, 24, 48, false),
            day(2, 48, 72, true),
        ];
        assert_eq!(known_until(&days, 5 * hour, i64::MAX), 72 * hour);
        assert_eq!(known_until(&days, 5 * hour, 30 * hour), 30 * hour);
        // A hole in the stored days ends the known horizon there.
        let holed = vec![day(0, 0, 24, true), day(2, 48, 72, true)];
        assert_eq!(known_until(&holed, 5 * hour, i64::MAX), 24 * hour);
        // Nothing covers now: nothing is known.
        assert_eq!(known_until(&holed, 30 * hour, i64::MAX), 30 * hour);
    }
}
