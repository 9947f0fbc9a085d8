//! Building ScheduleDays (SCHED-001..008) and choosing what airs in each slot (SELECT-001).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use serde::{Deserialize, Serialize};

use crate::model::{
    Asset, AssetKind, Catalog, Channel, ItemPart, ItemRef, PlayMode, RotationState, ScheduleDay,
    ScheduleFault, SchedulePlan, ScheduledItem, UtcMs,
};
use crate::stable::{permutation, stable_hash};
use crate::time::ChannelClock;
use crate::validate::zone_window;

/// Catalog lookups prepared once for many builds: candidate lists per program, sorted.
#[derive(Debug)]
pub struct SchedulingContext<'a> {
    pub catalog: &'a Catalog,
    pub seed: u64,
    candidates: BTreeMap<&'a str, Vec<&'a Asset>>,
}

/// Sort key for series-derived candidate lists: series, season, episode, then id.
fn episode_order(a: &&Asset, b: &&Asset) -> std::cmp::Ordering {
    (&a.series, a.season, a.episode, &a.id).cmp(&(&b.series, b.season, b.episode, &b.id))
}

impl<'a> SchedulingContext<'a> {
    pub fn new(catalog: &'a Catalog, seed: u64) -> SchedulingContext<'a> {
        let mut by_series: BTreeMap<&str, Vec<&Asset>> = BTreeMap::new();
        for asset in catalog.assets.values().filter(|a| a.is_schedulable()) {
            if let Some(series) = &asset.series {
                by_series.entry(series.as_str()).or_default().push(asset);
            }
        }
        let mut candidates = BTreeMap::new();
        for program in catalog.programs.values() {
            let list: Vec<&Asset> = if program.assets.is_empty() {
                let mut list = program
                    .series
                    .as_deref()
                    .and_then(|s| by_series.get(s))
                    .cloned()
                    .unwrap_or_default();
                list.sort_by(episode_order);
                list
            } else {
                // An explicit list keeps the operator's order: it is how `manual` is steered.
                program
                    .assets
                    .iter()
                    .filter_map(|id| catalog.assets.get(id))
                    .filter(|a| a.is_schedulable())
                    .collect()
            };
            candidates.insert(program.id.as_str(), list);
        }
        SchedulingContext {
            catalog,
            seed,
            candidates,
        }
    }

    /// The schedulable candidates of a program, in choice order.
    pub fn candidates(&self, program: &str) -> &[&'a Asset] {
        self.candidates
            .get(program)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// A zone entry resolved to what would air, before it is known to fit.
#[derive(Debug, Clone)]
struct Choice {
    item: ScheduledItem,
    /// The program whose cursor advances if the item is placed.
    advances: Option<String>,
}

fn part_of(asset: &Asset) -> ItemPart {
    ItemPart {
        asset: Some(asset.id.clone()),
        kind: asset.kind,
        duration_ms: asset.duration_ms,
        chapters_ms: asset.break_points(),
    }
}

fn describe(item: &mut ScheduledItem, asset: &Asset, program_title: Option<&str>) {
    let is_episode = asset.kind == AssetKind::Episode;
    item.title = match (program_title, &asset.series) {
        (Some(title), _) if is_episode => title.to_string(),
        (_, Some(series)) if is_episode => series.clone(),
        _ => asset.title.clone(),
    };
    item.episode_title = is_episode.then(|| asset.title.clone());
    item.season = asset.season;
    item.episode = asset.episode;
    item.description = asset.description.clone();
    item.rating = asset.rating.clone();
    item.category = asset
        .genres
        .first()
        .cloned()
        .or_else(|| Some(asset.kind.as_str().to_string()));
}

fn blank_item(asset: String, zone: &str) -> ScheduledItem {
    ScheduledItem {
        start: 0,
        blocks: 0,
        slot_end: 0,
        runtime_ms: 0,
        asset,
        program: None,
        zone: zone.to_string(),
        title: String::new(),
        episode_title: None,
        season: None,
        episode: None,
        description: None,
        rating: None,
        category: None,
        parts: Vec::new(),
    }
}

/// Resolve one zone entry at `slot_start` to a concrete item (SELECT-001), without advancing any
/// cursor. `Err` is a fault message (empty candidates, unknown or unschedulable reference).
fn choose(
    ctx: &SchedulingContext,
    channel: &Channel,
    date: NaiveDate,
    zone: &str,
    entry: &ItemRef,
    slot_start: UtcMs,
    rotation: &RotationState,
) -> Result<Choice, String> {
    let catalog = ctx.catalog;
    match entry {
        ItemRef::Program { id } => {
            let program = catalog
                .programs
                .get(id)
                .ok_or_else(|| format!("program {id:?} does not exist"))?;
            let candidates = ctx.candidates(id);
            if candidates.is_empty() {
                return Err(format!("program {id:?} has no schedulable candidates"));
            }
            let n = candidates.len() as u64;
            let placed = rotation.cursors.get(id).copied().unwrap_or(0);
            let index = match program.play_mode {
                PlayMode::Sequential => placed % n,
                PlayMode::Manual => 0,
                PlayMode::Shuffle => {
                    let cycle = placed / n;
                    let seed = stable_hash(&[
                        &ctx.seed.to_le_bytes(),
                        channel.id.as_bytes(),
                        id.as_bytes(),
                        &cycle.to_le_bytes(),
                    ]);
                    permutation(n as usize, seed)[(placed % n) as usize] as u64
                }
                PlayMode::Random => {
                    stable_hash(&[
                        &ctx.seed.to_le_bytes(),
                        channel.id.as_bytes(),
                        id.as_bytes(),
                        date.to_string().as_bytes(),
                        &slot_start.to_le_bytes(),
                    ]) % n
                }
            };
            let asset = candidates[index as usize];
            let mut item = blank_item(asset.id.clone(), zone);
            item.runtime_ms = asset.duration_ms;
            item.program = Some(id.clone());
            item.parts = vec![part_of(asset)];
            describe(&mut item, asset, Some(&program.title));
            let advances = matches!(program.play_mode, PlayMode::Sequential | PlayMode::Shuffle)
                .then(|| id.clone());
            Ok(Choice { item, advances })
        }
        ItemRef::Asset { id } => {
            let asset = catalog
                .assets
                .get(id)
                .ok_or_else(|| format!("asset {id:?} does not exist"))?;
            if !asset.is_schedulable() {
                return Err(format!("asset {id:?} is not schedulable"));
            }
            let mut item = blank_item(asset.id.clone(), zone);
            item.runtime_ms = asset.duration_ms;
            item.parts = vec![part_of(asset)];
            describe(&mut item, asset, None);
            Ok(Choice {
                item,
                advances: None,
            })
        }
        ItemRef::Virtual { id } => {
            let virtual_asset = catalog
                .virtual_assets
                .get(id)
                .ok_or_else(|| format!("virtual asset {id:?} does not exist"))?;
            let mut parts = Vec::new();
            for part in &virtual_asset.parts {
                let asset = catalog
                    .assets
                    .get(part)
                    .filter(|a| a.is_schedulable())
                    .ok_or_else(|| {
                        format!("virtual asset {id:?} part {part:?} is missing or not schedulable")
                    })?;
                parts.push(asset);
            }
            if parts.is_empty() {
                return Err(format!("virtual asset {id:?} has no parts"));
            }
            let mut item = blank_item(virtual_asset.id.clone(), zone);
            item.runtime_ms = parts.iter().map(|a| a.duration_ms).sum();
            item.parts = parts.iter().map(|a| part_of(a)).collect();
            // The guide describes the longest part (the feature), titled as the composite.
            let main = parts
                .iter()
                .max_by_key(|a| (a.duration_ms, std::cmp::Reverse(a.id.clone())))
                .expect("non-empty");
            describe(&mut item, main, None);
            item.title = virtual_asset.title.clone();
            item.episode_title = None;
            Ok(Choice {
                item,
                advances: None,
            })
        }
        ItemRef::Synthetic { kind, duration_ms } => {
            if *duration_ms <= 0 {
                return Err(format!("synthetic {kind} has no duration"));
            }
            let mut item = blank_item(entry.reference(), zone);
            item.runtime_ms = *duration_ms;
            item.title = synthetic_title(kind);
            item.category = Some("filler".to_string());
            // The part names the synthetic reference itself: engines render it, no file needed.
            item.parts = vec![ItemPart {
                asset: Some(entry.reference()),
                kind: AssetKind::Filler,
                duration_ms: *duration_ms,
                chapters_ms: Vec::new(),
            }];
            Ok(Choice {
                item,
                advances: None,
            })
        }
    }
}

fn synthetic_title(kind: &str) -> String {
    match kind {
        "slate" => "Slate".to_string(),
        "bars" | "color_bars" => "Color Bars".to_string(),
        "offair" | "off_air" => "Off Air".to_string(),
        other => other.to_string(),
    }
}

/// SCHED-001: the active plan for `date` with the highest priority; ties go to the first
/// declared.
pub fn choose_plan(channel: &Channel, date: NaiveDate) -> Option<&SchedulePlan> {
    let mut best: Option<&SchedulePlan> = None;
    for plan in channel.plans.iter().filter(|p| p.applies_on(date)) {
        if best.is_none_or(|b| plan.priority > b.priority) {
            best = Some(plan);
        }
    }
    best
}

/// An operator override (CLI-040): the slot starting at `at` airs `item` instead of its zone's
/// entry. The zone's entry is consumed (the next slot takes the next entry) but no rotation
/// cursor advances for it; the slot's blocks follow the item's runtime, and a pinned item is
/// always placed, even past its zone's end (later items are pushed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pin {
    pub at: UtcMs,
    pub item: ItemRef,
}

/// Why an item airs where it does (CLI-050): what the build decided at that slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub plan: String,
    pub plan_priority: u32,
    /// Other plans that apply on the date but lost on priority (or declaration order).
    pub plans_passed_over: Vec<String>,
    pub zone: String,
    pub zone_start: UtcMs,
    pub zone_end: UtcMs,
    /// The zone entry's position (0-based) and reference.
    pub entry_index: usize,
    pub entry: ItemRef,
    /// The entry's program and its play mode, when the entry is a program.
    pub program: Option<String>,
    pub play_mode: Option<PlayMode>,
    /// The program's rotation cursor before this slot (items placed so far) and the candidate
    /// chosen out of how many.
    pub rotation_position: Option<u64>,
    pub candidate_index: Option<u64>,
    pub candidates: Option<u64>,
    pub seed: u64,
    /// The day started later than its window because the previous day's last slot ran over.
    pub carry_in: bool,
    pub window_start: UtcMs,
    pub effective_start: UtcMs,
    /// An operator override placed this item.
    pub pinned: bool,
    pub item: ScheduledItem,
}

/// Build channel `channel`'s ScheduleDay for broadcast date `date`.
///
/// `previous_slot_end` is the end of the previous day's last slot (for carry-in); `rotation`
/// is read and advanced for every placed item. Faults are reported in the day, never panics.
pub fn build_schedule_day(
    ctx: &SchedulingContext,
    channel: &Channel,
    date: NaiveDate,
    previous_slot_end: Option<UtcMs>,
    rotation: &mut RotationState,
) -> ScheduleDay {
    build_schedule_day_traced(ctx, channel, date, previous_slot_end, rotation, &[], None)
}

/// [`build_schedule_day`] with operator overrides (`pins`, see [`Pin`]; a pin that no slot of
/// the day starts at is reported as an `override_unplaced` fault) and, when `trace` is given,
/// the provenance of every placed item, in order.
pub fn build_schedule_day_traced(
    ctx: &SchedulingContext,
    channel: &Channel,
    date: NaiveDate,
    previous_slot_end: Option<UtcMs>,
    rotation: &mut RotationState,
    pins: &[Pin],
    mut trace: Option<&mut Vec<Provenance>>,
) -> ScheduleDay {
    let clock = ChannelClock::of(channel);
    let grid_ms = clock.grid_ms();
    let (window_start, window_end) = clock.day_window(date);
    let effective_start = match previous_slot_end {
        Some(end) if end > window_start => clock.snap(end),
        _ => window_start,
    };
    let mut day = ScheduleDay {
        channel: channel.id.clone(),
        date,
        plan: None,
        window_start,
        window_end,
        effective_start,
        covers_until: window_end.max(effective_start),
        items: Vec::new(),
        faults: Vec::new(),
    };
    let Some(plan) = choose_plan(channel, date) else {
        day.faults.push(ScheduleFault {
            code: "no_plan".to_string(),
            at: window_start,
            detail: format!("no active plan of channel {} applies on {date}", channel.id),
        });
        return day;
    };
    day.plan = Some(plan.name.clone());

    let mut zones: Vec<(u32, u32, usize)> = plan
        .zones
        .iter()
        .enumerate()
        .filter(|(_, z)| z.enabled)
        .filter_map(|(i, z)| {
            zone_window(z, channel.programming_day_start_minute)
                .ok()
                .map(|(s, e)| (s, e, i))
        })
        .collect();
    zones.sort_unstable();

    let mut scheduled_end = effective_start;
    for (rel_start, rel_end, index) in zones {
        let zone = &plan.zones[index];
        let zone_start = clock.programming_day_anchor(date, rel_start);
        let zone_end = clock.programming_day_anchor(date, rel_end);
        let mut cursor = clock.snap(zone_start.max(scheduled_end));
        if cursor >= zone_end || zone.items.is_empty() {
            continue;
        }
        let mut entry_index = 0usize;
        let mut first = true;
        while cursor < zone_end {
            let entry = &zone.items[entry_index % zone.items.len()];
            let pin = pins.iter().find(|p| p.at == cursor);
            let chosen_ref = pin.map(|p| &p.item).unwrap_or(entry);
            let choice = choose(ctx, channel, date, &zone.name, chosen_ref, cursor, rotation).map(
                |mut c| {
                    if pin.is_some() {
                        c.advances = None;
                    }
                    c
                },
            );
            let choice = match choice {
                Ok(choice) => choice,
                Err(detail) => {
                    day.faults.push(ScheduleFault {
                        code: "empty_candidates".to_string(),
                        at: cursor,
                        detail: format!("zone {:?}: {detail}", zone.name),
                    });
                    break;
                }
            };
            let mut item = choice.item;
            let blocks = clock.blocks_for(item.runtime_ms);
            let slot_end = cursor + blocks as i64 * grid_ms;
            if !first && pin.is_none() && slot_end > zone_end {
                break; // zones do not auto-extend (an operator's pinned item always airs)
            }
            item.start = cursor;
            item.blocks = blocks;
            item.slot_end = slot_end;
            if let Some(trace) = trace.as_deref_mut() {
                trace.push(provenance(
                    ctx,
                    channel,
                    plan,
                    date,
                    (zone, zone_start, zone_end),
                    (entry_index % zone.items.len(), chosen_ref),
                    rotation,
                    &day,
                    pin.is_some(),
                    &item,
                ));
            }
            if let Some(program) = choice.advances {
                *rotation.cursors.entry(program).or_insert(0) += 1;
            }
            day.items.push(item);
            scheduled_end = slot_end;
            cursor = clock.snap(slot_end);
            first = false;
            entry_index += 1;
        }
    }
    if let Some(last) = day.last_slot_end() {
        if last > window_end {
            day.covers_until = clock.snap(last);
        }
    }
    for pin in pins {
        if !day.items.iter().any(|i| i.start == pin.at) {
            day.faults.push(ScheduleFault {
                code: "override_unplaced".to_string(),
                at: pin.at,
                detail: format!(
                    "the override of {} at this instant has no slot starting there",
                    pin.item.reference()
                ),
            });
        }
    }
    day
}

/// The provenance of one placed item (see [`Provenance`]).
#[allow(clippy::too_many_arguments)]
fn provenance(
    ctx: &SchedulingContext,
    channel: &Channel,
    plan: &SchedulePlan,
    date: NaiveDate,
    (zone, zone_start, zone_end): (&crate::model::Zone, UtcMs, UtcMs),
    (entry_index, entry): (usize, &ItemRef),
    rotation: &RotationState,
    day: &ScheduleDay,
    pinned: bool,
    item: &ScheduledItem,
) -> Provenance {
    let (mut program, mut play_mode, mut position, mut index, mut count) =
        (None, None, None, None, None);
    if let ItemRef::Program { id } = entry {
        if let Some(p) = ctx.catalog.programs.get(id) {
            let candidates = ctx.candidates(id);
            program = Some(id.clone());
            play_mode = Some(p.play_mode);
            position = Some(rotation.cursors.get(id).copied().unwrap_or(0));
            count = Some(candidates.len() as u64);
            index = candidates
                .iter()
                .position(|a| a.id == item.asset)
                .map(|i| i as u64);
        }
    }
    Provenance {
        plan: plan.name.clone(),
        plan_priority: plan.priority,
        plans_passed_over: channel
            .plans
            .iter()
            .filter(|p| p.applies_on(date) && p.name != plan.name)
            .map(|p| p.name.clone())
            .collect(),
        zone: zone.name.clone(),
        zone_start,
        zone_end,
        entry_index,
        entry: entry.clone(),
        program,
        play_mode,
        rotation_position: position,
        candidate_index: index,
        candidates: count,
        seed: ctx.seed,
        carry_in: day.effective_start > day.window_start,
        window_start: day.window_start,
        effective_start: day.effective_start,
        pinned,
        item: item.clone(),
    }
}
