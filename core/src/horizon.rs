//! The horizon keeper (DOMAIN §5): a sans-IO state machine deciding, on clock thresholds only,
//! which ScheduleDays and how much playlog to build ahead for every channel.

use std::collections::{BTreeMap, VecDeque};

use chrono::NaiveDate;

use crate::model::{UtcMs, MS_PER_MINUTE};
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
}

impl Default for HorizonConfig {
    fn default() -> HorizonConfig {
        HorizonConfig {
            days_ahead: 3,
            playlog_ahead_ms: 6 * 60 * MS_PER_MINUTE,
            refill_ms: 60 * MS_PER_MINUTE,
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
}

/// Keeps every channel's ScheduleDays `days_ahead` days and playlog `playlog_ahead_ms` ahead.
#[derive(Debug, Clone)]
pub struct HorizonKeeper {
    config: HorizonConfig,
    channels: BTreeMap<String, ChannelHorizon>,
    actions: VecDeque<HorizonAction>,
}

impl HorizonKeeper {
    /// A refill under one second is raised to one second, so ticks never come back-to-back.
    pub fn new(mut config: HorizonConfig) -> HorizonKeeper {
        config.refill_ms = config.refill_ms.max(1_000);
        HorizonKeeper {
            config,
            channels: BTreeMap::new(),
            actions: VecDeque::new(),
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
        }
    }

    pub fn poll_action(&mut self) -> Option<HorizonAction> {
        self.actions.pop_front()
    }

    /// The next instant a threshold is crossed for some channel.
    pub fn poll_timeout(&self) -> Option<UtcMs> {
        let mut next: Option<UtcMs> = None;
        for ch in self.channels.values() {
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
