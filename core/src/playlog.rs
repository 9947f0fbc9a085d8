//! Breaks, traffic and the playlog (BREAK-001, TRAFFIC-001, PLAYLOG-001): PlaylogEvents that tile a day to the millisecond.

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
    /// `pool[i].duration_ms`, contiguous: the "what fits" search reads only these.
    durations: Vec<i64>,
    /// Pool indices in id order, to find a stored spot's index by its id.
    by_id: Vec<usize>,
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
        let durations = pool.iter().map(|a| a.duration_ms).collect();
        let mut by_id: Vec<usize> = (0..pool.len()).collect();
        by_id.sort_by(|&a, &b| pool[a].id.cmp(&pool[b].id));
        TrafficPlanner {
            channel,
            seed,
            pool,
            durations,
            by_id,
            cooldown_ms: channel.spot_cooldown_minutes as i64 * MS_PER_MINUTE,
        }
    }

    /// When each pool spot last started, by pool index (`None`: not within the cooldown), from
    /// the explicit state.
    fn spot_clock(&self, state: &TrafficState) -> Vec<Option<UtcMs>> {
        // The state is small (spots within the cooldown); the pool may be large: look each
        // stored spot up in the pool rather than each pool spot in the state. Ids outside the
        // pool are ignored either way.
        let mut clock = vec![None; self.pool.len()];
        for (id, &last) in &state.last_aired {
            let found = self
                .by_id
                .binary_search_by(|&i| self.pool[i].id.as_str().cmp(id.as_str()));
            if let Ok(k) = found {
                clock[self.by_id[k]] = Some(last);
            }
        }
        clock
    }

    /// Write a spot clock back into the explicit state, forgetting spots whose cooldown has
    /// passed by `until` so the state stays small and comparable.
    fn store_spot_clock(&self, clock: &[Option<UtcMs>], until: UtcMs, state: &mut TrafficState) {
        state.last_aired.clear();
        for (asset, last) in self.pool.iter().zip(clock) {
            if let Some(last) = *last {
                if until - last < self.cooldown_ms {
                    state.last_aired.insert(asset.id.clone(), last);
                }
            }
        }
    }

    /// Fill the avail [start, start + length) with spots that fit and are out of cooldown; the
    /// remainder is one pad at the end. Spots + pad = length exactly.
    pub fn fill(&self, start: UtcMs, length: i64, state: &mut TrafficState) -> Vec<Spot> {
        let mut clock = self.spot_clock(state);
        let mut spots = Vec::new();
        self.fill_each(start, length, &mut clock, |asset, duration_ms| {
            spots.push(match asset {
                Some(asset) => Spot {
                    asset: Some(asset.id.clone()),
                    kind: EventKind::for_interstitial(asset.kind),
                    duration_ms,
                },
                None => Spot {
                    asset: None,
                    kind: EventKind::Pad,
                    duration_ms,
                },
            })
        });
        self.store_spot_clock(&clock, start + length, state);
        spots
    }

    /// The fill of [`TrafficPlanner::fill`], handed out piece by piece: `emit(Some(spot), ms)`
    /// for each spot in order, then `emit(None, remaining)` for the pad when one is needed.
    fn fill_each(
        &self,
        start: UtcMs,
        length: i64,
        clock: &mut [Option<UtcMs>],
        mut emit: impl FnMut(Option<&'a Asset>, i64),
    ) {
        let mut remaining = length;
        let mut t = start;
        let mut rng = SplitMix64::new(stable_hash(&[
            &self.seed.to_le_bytes(),
            self.channel.id.as_bytes(),
            &start.to_le_bytes(),
        ]));
        let cooldown = self.cooldown_ms;
        let usable = |last: &Option<UtcMs>, t: UtcMs| last.is_none_or(|last| t - last >= cooldown);
        // The pool prefix that fits only shrinks as the avail fills up.
        let mut fits = self.pool.len();
        loop {
            fits = self.durations[..fits].partition_point(|&d| d <= remaining);
            if fits == 0 {
                break;
            }
            // The first usable spot from a random pick, wrapping around the prefix.
            let first_pick = rng.below(fits as u64) as usize;
            let chosen = match clock[first_pick..fits].iter().position(|l| usable(l, t)) {
                Some(k) => Some(first_pick + k),
                None => clock[..first_pick].iter().position(|l| usable(l, t)),
            };
            let Some(index) = chosen else { break };
            let duration = self.durations[index];
            clock[index] = Some(t);
            emit(Some(self.pool[index]), duration);
            t += duration;
            remaining -= duration;
        }
        if remaining > 0 {
            emit(None, remaining);
        }
    }

    /// A generous guess of how many spots fill `avail_ms` (for pre-sizing the playlog), capped
    /// so a pool of tiny spots held back by their cooldown cannot reserve a huge vector.
    fn spots_estimate(&self, avail_ms: i64) -> usize {
        if self.pool.is_empty() || avail_ms <= 0 {
            return 1;
        }
        let total: i64 = self.durations.iter().sum();
        let mean = (total / self.durations.len() as i64).max(1);
        ((avail_ms / mean) as usize * 5 / 4 + 2).min(4096)
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
    let mut pieces = Vec::new();
    slot_pieces_into(item, policy, &mut pieces);
    pieces
}

/// [`slot_pieces`], appended to `pieces`.
fn slot_pieces_into(item: &ScheduledItem, policy: BreakPolicy, pieces: &mut Vec<SlotPiece>) {
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
}

/// Builds a day's events, numbering them `{channel}:{date}:{n}`.
struct EventSink<'a> {
    day: &'a ScheduleDay,
    events: &'a mut Vec<PlaylogEvent>,
    /// Index in `events` of the day's first event (the sequence numbers count from it).
    first: usize,
    at: UtcMs,
    /// `{channel}:{date}:`, formatted once per day (ids are hot: hundreds per day).
    id_prefix: String,
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
        let mut id = String::with_capacity(self.id_prefix.len() + 6);
        id.push_str(&self.id_prefix);
        push_sequence(&mut id, self.events.len() - self.first);
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
        clock: &mut [Option<UtcMs>],
        length: i64,
        item_start: Option<UtcMs>,
    ) {
        if length <= 0 {
            return;
        }
        traffic.fill_each(self.at, length, clock, |asset, duration_ms| match asset {
            Some(asset) => self.push(
                EventKind::for_interstitial(asset.kind),
                Some(asset.id.clone()),
                0,
                duration_ms,
                item_start,
            ),
            None => self.push(EventKind::Pad, None, 0, duration_ms, item_start),
        });
    }
}

/// The playlog of one ScheduleDay: events tiling [effective_start, covers_until) exactly. A day
/// with no plan is a fault: it has no events, so its time is a schedule gap (SCHED-001).
pub fn build_playlog(
    day: &ScheduleDay,
    channel: &Channel,
    traffic: &TrafficPlanner,
    state: &mut TrafficState,
) -> Vec<PlaylogEvent> {
    let mut events = Vec::new();
    build_playlog_into(day, channel, traffic, state, &mut events);
    events
}

/// [`build_playlog`], appending the day's events to `events` (sequence numbers still count
/// from 0 within the day).
pub fn build_playlog_into(
    day: &ScheduleDay,
    channel: &Channel,
    traffic: &TrafficPlanner,
    state: &mut TrafficState,
    events: &mut Vec<PlaylogEvent>,
) {
    if day.plan.is_none() {
        return;
    }
    // Pre-size: content pieces and breaks are counted, spots estimated from the pool.
    let mut pieces = 2usize;
    let mut avail = day.covers_until - day.effective_start;
    for item in &day.items {
        pieces += 2;
        for part in &item.parts {
            pieces += 2 * part.chapters_ms.len() + 1;
            avail -= part.duration_ms;
        }
    }
    events.reserve(pieces + traffic.spots_estimate(avail));
    let first = events.len();
    let mut sink = EventSink {
        day,
        events,
        first,
        at: day.effective_start,
        id_prefix: format!("{}:{}:", day.channel, day.date),
    };
    let mut clock = traffic.spot_clock(state);
    let mut pieces = Vec::new();
    for item in &day.items {
        let gap = item.start - sink.at;
        sink.avail(traffic, &mut clock, gap, None);
        pieces.clear();
        slot_pieces_into(item, channel.break_policy, &mut pieces);
        for piece in &pieces {
            match *piece {
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
                    sink.avail(traffic, &mut clock, duration_ms, Some(item.start));
                }
            }
        }
    }
    let tail = day.covers_until - sink.at;
    sink.avail(traffic, &mut clock, tail, None);
    traffic.store_spot_clock(&clock, day.covers_until, state);
}

/// Append a sequence number, zero-padded to at least five digits.
fn push_sequence(id: &mut String, n: usize) {
    // Digits written right to left into a stack buffer: no allocation per event.
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = at.min(buf.len() - 5);
    id.extend(buf[start..].iter().map(|&b| char::from(b)));
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

    #[test]
    fn sequence_numbers_are_padded() {
        let mut id = String::from("c:");
        push_sequence(&mut id, 42);
        assert_eq!(id, "c:00042");
        let mut id = String::new();
        push_sequence(&mut id, 123_456);
        assert_eq!(id, "123456");
    }
}
