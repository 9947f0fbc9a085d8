//! Breaks, traffic and the playlog (DOMAIN §5): PlaylogEvents that tile a day to the millisecond.

use crate::model::{
    Asset, BreakPolicy, Catalog, Channel, EventKind, PlaylogEvent, ScheduleDay, ScheduledItem,
    TrafficState, UtcMs, MS_PER_MINUTE,
};
use crate::stable::{stable_hash, SplitMix64};

/// The interstitials one channel may use, sorted by (duration, id) so "everything that fits in
/// the remaining time" is a prefix.
#[derive(Debug)]
pub struct TrafficPlanner<'a> {
    channel: &'a Channel,
    seed: u64,
    pool: Vec<&'a Asset>,
    cooldown_ms: i64,
}

/// One piece of an avail's fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    pub asset: Option<String>,
    pub kind: EventKind,
    pub duration_ms: i64,
}

impl<'a> TrafficPlanner<'a> {
    pub fn new(catalog: &'a Catalog, channel: &'a Channel, seed: u64) -> TrafficPlanner<'a> {
        let mut pool: Vec<&Asset> = catalog
            .assets
            .values()
            .filter(|a| a.is_schedulable() && channel.interstitials.contains(&a.kind))
            .collect();
        pool.sort_by(|a, b| (a.duration_ms, &a.id).cmp(&(b.duration_ms, &b.id)));
        TrafficPlanner {
            channel,
            seed,
            pool,
            cooldown_ms: channel.spot_cooldown_minutes as i64 * MS_PER_MINUTE,
        }
    }

    /// Fill the avail [start, start + length) with spots that fit and are out of cooldown; the
    /// remainder is one pad at the end. Spots + pad = length exactly.
    pub fn fill(&self, start: UtcMs, length: i64, state: &mut TrafficState) -> Vec<Spot> {
        let mut spots = Vec::new();
        let mut remaining = length;
        let mut t = start;
        let mut rng = SplitMix64::new(stable_hash(&[
            &self.seed.to_le_bytes(),
            self.channel.id.as_bytes(),
            &start.to_le_bytes(),
        ]));
        loop {
            let fits = self.pool.partition_point(|a| a.duration_ms <= remaining);
            if fits == 0 {
                break;
            }
            let first_pick = rng.below(fits as u64) as usize;
            let chosen = (0..fits)
                .map(|k| self.pool[(first_pick + k) % fits])
                .find(|a| {
                    state
                        .last_aired
                        .get(&a.id)
                        .is_none_or(|&last| t - last >= self.cooldown_ms)
                });
            let Some(asset) = chosen else { break };
            state.last_aired.insert(asset.id.clone(), t);
            spots.push(Spot {
                asset: Some(asset.id.clone()),
                kind: EventKind::for_interstitial(asset.kind),
                duration_ms: asset.duration_ms,
            });
            t += asset.duration_ms;
            remaining -= asset.duration_ms;
        }
        if remaining > 0 {
            spots.push(Spot {
                asset: None,
                kind: EventKind::Pad,
                duration_ms: remaining,
            });
        }
        // Forget spots whose cooldown has passed, so the state stays small and comparable.
        let horizon = t - self.cooldown_ms;
        state.last_aired.retain(|_, &mut last| last > horizon);
        spots
    }
}

/// Split `avail` into `breaks` parts as evenly as integer milliseconds allow (earlier breaks
/// take the extra milliseconds).
pub fn spread(avail: i64, breaks: usize) -> Vec<i64> {
    let n = breaks as i64;
    (0..n)
        .map(|i| avail / n + i64::from(i < avail % n))
        .collect()
}

/// One run of content or one avail inside an item's slot, before traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotPiece {
    Content {
        part: usize,
        in_point_ms: i64,
        duration_ms: i64,
    },
    Avail {
        duration_ms: i64,
    },
}

/// The shape of an item's slot under the channel's break policy: content cut only at chapter
/// markers, the avail (`slot − runtime`) spread over the breaks, or all at the end.
pub fn slot_pieces(item: &ScheduledItem, policy: BreakPolicy) -> Vec<SlotPiece> {
    let avail = item.avail_ms();
    // Break points as (part index, offset within that part).
    let breaks: Vec<(usize, i64)> = match policy {
        BreakPolicy::End => Vec::new(),
        BreakPolicy::Chapters => item
            .parts
            .iter()
            .enumerate()
            .flat_map(|(p, part)| part.chapters_ms.iter().map(move |&c| (p, c)))
            .collect(),
    };
    let mut pieces = Vec::new();
    let shares = if breaks.is_empty() || avail == 0 {
        Vec::new()
    } else {
        spread(avail, breaks.len())
    };
    let mut next_break = 0;
    for (p, part) in item.parts.iter().enumerate() {
        let mut in_point = 0;
        while next_break < breaks.len() && breaks[next_break].0 == p {
            let at = breaks[next_break].1;
            pieces.push(SlotPiece::Content {
                part: p,
                in_point_ms: in_point,
                duration_ms: at - in_point,
            });
            if let Some(&share) = shares.get(next_break) {
                if share > 0 {
                    pieces.push(SlotPiece::Avail { duration_ms: share });
                }
            }
            in_point = at;
            next_break += 1;
        }
        pieces.push(SlotPiece::Content {
            part: p,
            in_point_ms: in_point,
            duration_ms: part.duration_ms - in_point,
        });
    }
    if shares.is_empty() && avail > 0 {
        pieces.push(SlotPiece::Avail { duration_ms: avail });
    }
    pieces
}

/// Builds a day's events, numbering them `{channel}:{date}:{n}`.
struct EventSink<'a> {
    day: &'a ScheduleDay,
    events: Vec<PlaylogEvent>,
    at: UtcMs,
}

impl EventSink<'_> {
    fn push(
        &mut self,
        kind: EventKind,
        asset: Option<String>,
        in_point_ms: i64,
        duration: i64,
        item_start: Option<UtcMs>,
    ) {
        let id = format!(
            "{}:{}:{:05}",
            self.day.channel,
            self.day.date,
            self.events.len()
        );
        self.events.push(PlaylogEvent {
            id,
            channel: self.day.channel.clone(),
            start: self.at,
            end: self.at + duration,
            kind,
            asset,
            in_point_ms,
            item_start,
        });
        self.at += duration;
    }

    fn avail(
        &mut self,
        traffic: &TrafficPlanner,
        state: &mut TrafficState,
        length: i64,
        item_start: Option<UtcMs>,
    ) {
        if length <= 0 {
            return;
        }
        for spot in traffic.fill(self.at, length, state) {
            self.push(spot.kind, spot.asset, 0, spot.duration_ms, item_start);
        }
    }
}

/// The playlog of one ScheduleDay: events tiling [effective_start, covers_until) exactly.
pub fn build_playlog(
    day: &ScheduleDay,
    channel: &Channel,
    traffic: &TrafficPlanner,
    state: &mut TrafficState,
) -> Vec<PlaylogEvent> {
    let mut sink = EventSink {
        day,
        events: Vec::with_capacity(day.items.len() * 12 + 4),
        at: day.effective_start,
    };
    for item in &day.items {
        let gap = item.start - sink.at;
        sink.avail(traffic, state, gap, None);
        for piece in slot_pieces(item, channel.break_policy) {
            match piece {
                SlotPiece::Content {
                    part,
                    in_point_ms,
                    duration_ms,
                } => {
                    let part = &item.parts[part];
                    sink.push(
                        EventKind::Content,
                        part.asset.clone(),
                        in_point_ms,
                        duration_ms,
                        Some(item.start),
                    );
                }
                SlotPiece::Avail { duration_ms } => {
                    sink.avail(traffic, state, duration_ms, Some(item.start));
                }
            }
        }
    }
    let tail = day.covers_until - sink.at;
    sink.avail(traffic, state, tail, None);
    sink.events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_even_to_the_millisecond() {
        assert_eq!(spread(480_000, 3), vec![160_000, 160_000, 160_000]);
        assert_eq!(spread(10, 3), vec![4, 3, 3]);
        assert_eq!(spread(10, 3).iter().sum::<i64>(), 10);
    }
}
