//! Property tests over generated lineups: every scheduling invariant holds and building is
//! deterministic, across grids, offsets, day starts and DST-changing time zones.

mod common;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use common::*;
use proptest::prelude::*;
use retrovue_core::build_fresh;
use retrovue_core::invariants::{check_channel_days, Violation};
use retrovue_core::model::*;
use retrovue_core::playlog::{build_playlog, TrafficPlanner};
use retrovue_core::schedule::build_schedule_day;
use retrovue_core::schedule::SchedulingContext;
use retrovue_core::time::ChannelClock;
use retrovue_core::validate::{check_channel, zone_window};

const ZONES: [Tz; 7] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Pacific::Chatham,
    chrono_tz::America::Los_Angeles,
    chrono_tz::UTC,
];

/// Start dates just before DST changes in both hemispheres (2026), plus ordinary days.
const STARTS: [&str; 8] = [
    "2026-03-06",
    "2026-03-27",
    "2026-04-03",
    "2026-09-25",
    "2026-10-02",
    "2026-10-23",
    "2026-10-30",
    "2026-06-15",
];

#[derive(Debug, Clone)]
struct Case {
    catalog: Catalog,
    channel: Channel,
    start: NaiveDate,
    days: u32,
    seed: u64,
}

fn grid_and_offsets() -> impl Strategy<Value = (u32, Vec<u32>)> {
    prop_oneof![
        Just((15u32, vec![0u32, 15, 30, 45])),
        Just((15, vec![0, 30])),
        Just((30, vec![0, 30])),
        Just((30, vec![0])),
        Just((30, vec![30])),
        Just((60, vec![0])),
        Just((15, vec![15, 45])),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        grid_and_offsets(),
        0usize..ZONES.len(),
        0usize..STARTS.len(),
        0u32..24,
        prop::collection::vec((1i64..200 * 60, 0usize..4), 3..12), // runtimes in seconds, chapters
        prop::collection::vec(0u32..48, 1..6),                     // zone cut points (half hours)
        any::<u64>(),
        1u32..5,
        any::<bool>(),
        prop::collection::vec(5i64..90, 0..8), // spot lengths, seconds
        prop::option::of(0usize..7),           // a weekday with no plan (a fault day)
    )
        .prop_map(
            |(
                (grid, offsets),
                tz,
                start,
                day_start_hour,
                runtimes,
                cuts,
                seed,
                days,
                chapters,
                spots,
                off_day,
            )| {
                let day_start = day_start_hour * 60 + offsets[0];
                let mut catalog = Catalog::default();
                let mut ids = Vec::new();
                for (i, (secs, chapter_count)) in runtimes.iter().enumerate() {
                    let ms = secs * 1000 + i as i64; // odd milliseconds on purpose
                    let mut a = Asset::new(
                        &format!("a{i}"),
                        if ms > 60 * MIN {
                            AssetKind::Movie
                        } else {
                            AssetKind::Episode
                        },
                        "t",
                        ms,
                    );
                    a.series = Some(format!("S{}", i % 3));
                    a.season = Some(1);
                    a.episode = Some(i as u32);
                    a.chapters_ms = (1..=*chapter_count)
                        .map(|k| ms * k as i64 / (*chapter_count as i64 + 1))
                        .collect();
                    ids.push(a.id.clone());
                    catalog.assets.insert(a.id.clone(), a);
                }
                for (i, secs) in spots.iter().enumerate() {
                    let a = Asset::new(
                        &format!("spot{i}"),
                        AssetKind::Commercial,
                        "spot",
                        secs * 1000,
                    );
                    catalog.assets.insert(a.id.clone(), a);
                }
                for (s, mode) in [
                    ("S0", PlayMode::Sequential),
                    ("S1", PlayMode::Shuffle),
                    ("S2", PlayMode::Random),
                ] {
                    catalog
                        .programs
                        .insert(s.to_lowercase(), program(&s.to_lowercase(), s, mode));
                }
                // Zones: cut the programming day at the given half-hour marks (on the grid whatever
                // the offsets, by snapping each cut to an offset minute).
                let mut marks: Vec<u32> = cuts
                    .iter()
                    .map(|c| (c / 2) * 60 + offsets[(*c as usize) % offsets.len()] - offsets[0])
                    .collect();
                marks.push(0);
                marks.sort_unstable();
                marks.dedup();
                let mut zones = Vec::new();
                for (k, w) in marks.iter().enumerate() {
                    let end = marks.get(k + 1).copied().unwrap_or(1440);
                    if end <= *w {
                        continue;
                    }
                    let items: Vec<ItemRef> = match k % 4 {
                        0 => vec![
                            ItemRef::Program { id: "s0".into() },
                            ItemRef::Asset {
                                id: ids[k % ids.len()].clone(),
                            },
                        ],
                        1 => vec![ItemRef::Program { id: "s1".into() }],
                        2 => vec![
                            ItemRef::Program { id: "s2".into() },
                            ItemRef::Program { id: "s0".into() },
                        ],
                        _ => vec![ItemRef::Synthetic {
                            kind: "slate".into(),
                            duration_ms: 7 * MIN + 1,
                        }],
                    };
                    // Zone bounds are wall times relative to the programming-day start.
                    let abs = |m: u32| (day_start + m) % 1440;
                    zones.push(Zone {
                        name: format!("z{k}"),
                        start_minute: abs(*w),
                        end_minute: if end == 1440 { abs(0) } else { abs(end) },
                        items,
                        enabled: k % 5 != 4, // some disabled zones leave uncovered time
                    });
                }
                // Reverse declaration order: zones are taken in time order regardless.
                zones.reverse();
                let mut ch = channel(
                    ZONES[tz],
                    grid,
                    &offsets,
                    &retrovue_core::time::fmt_hhmm(day_start),
                    vec![plan("p", 0, zones)],
                );
                if let Some(off) = off_day {
                    ch.plans[0].days.remove(off);
                }
                ch.break_policy = if chapters {
                    BreakPolicy::Chapters
                } else {
                    BreakPolicy::End
                };
                ch.interstitials = vec![AssetKind::Commercial];
                Case {
                    catalog,
                    channel: ch,
                    start: date(STARTS[start]),
                    days,
                    seed,
                }
            },
        )
}

/// Zone rules the generic checkers cannot see: items start at or after their zone's start (or
/// the in-flight end), and every item but a zone's first ends by the zone end.
fn check_zone_rules(case: &Case, days: &[ScheduleDay]) -> Vec<Violation> {
    let clock = ChannelClock::of(&case.channel);
    let plan = &case.channel.plans[0];
    let mut out = Vec::new();
    for day in days {
        for zone in plan.zones.iter().filter(|z| z.enabled) {
            let (s, e) = zone_window(zone, case.channel.programming_day_start_minute).unwrap();
            let (zs, ze) = (
                clock.programming_day_anchor(day.date, s),
                clock.programming_day_anchor(day.date, e),
            );
            let items: Vec<&ScheduledItem> =
                day.items.iter().filter(|i| i.zone == zone.name).collect();
            for (k, item) in items.iter().enumerate() {
                if item.start < zs || item.start >= ze {
                    out.push(Violation::new(
                        "zone_window",
                        item.start,
                        format!("{} outside zone {}", item.asset, zone.name),
                    ));
                }
                if k > 0 && item.slot_end > ze {
                    out.push(Violation::new(
                        "zone_no_auto_extend",
                        item.start,
                        format!("{} overruns zone {}", item.asset, zone.name),
                    ));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn every_invariant_holds(case in case()) {
        // contract: INV-001
        // contract: GRID-001
        // contract: ZONE-001
        prop_assert!(check_channel(&case.channel).is_empty(), "{:?}", check_channel(&case.channel));
        let s = build_fresh(&case.catalog, &case.channel, case.start, case.days, case.seed);
        let mut violations = check_channel_days(&case.channel, &s.days, &s.playlog, &s.epg);
        violations.extend(check_zone_rules(&case, &s.days));
        prop_assert!(violations.is_empty(), "{:#?}", violations);
        // Day windows are 23, 24 or 25 hours (Lord Howe: 23.5 / 24.5).
        for day in &s.days {
            let hours = (day.window_end - day.window_start) as f64 / 3_600_000.0;
            prop_assert!((23.0..=25.0).contains(&hours), "day {} is {hours} h", day.date);
        }
    }

    #[test]
    fn building_is_deterministic(case in case()) {
        // contract: SCHED-006
        let a = build_fresh(&case.catalog, &case.channel, case.start, case.days, case.seed);
        let b = build_fresh(&case.catalog, &case.channel, case.start, case.days, case.seed);
        prop_assert_eq!(&a, &b);
        // Building one day at a time, threading carry-in, rotation and traffic state explicitly
        // (as the store does between stored days), equals building the run at once.
        let ctx = SchedulingContext::new(&case.catalog, case.seed);
        let planner = TrafficPlanner::new(&case.catalog, &case.channel, case.seed);
        let mut rotation = RotationState::default();
        let mut traffic = TrafficState::default();
        let mut days: Vec<ScheduleDay> = Vec::new();
        let mut playlog = Vec::new();
        for k in 0..case.days {
            let d = case.start + Duration::days(k as i64);
            let previous = days.last().and_then(ScheduleDay::last_slot_end);
            let day = build_schedule_day(&ctx, &case.channel, d, previous, &mut rotation);
            playlog.extend(build_playlog(&day, &case.channel, &planner, &mut traffic));
            days.push(day);
        }
        prop_assert_eq!(&a.days, &days);
        prop_assert_eq!(&a.playlog, &playlog);
        prop_assert_eq!(&a.rotation, &rotation);
        prop_assert_eq!(&a.traffic, &traffic);
    }
}

#[test]
fn checkers_fire_on_broken_schedules() {
    // contract: INV-001
    let cat = catalog(vec![
        asset("a", AssetKind::Episode, 22.0),
        asset("m", AssetKind::Movie, 100.0),
    ]);
    let mut ch = ny_channel(vec![
        zone("Day", "06:00", "18:00", &["a"]),
        zone("Night", "18:00", "06:00", &["m"]),
    ]);
    ch.break_policy = BreakPolicy::End;
    let s = build_fresh(&cat, &ch, date("2026-02-19"), 2, 0);
    assert!(check_channel_days(&ch, &s.days, &s.playlog, &s.epg).is_empty());
    let fires = |days: &[ScheduleDay], events: &[PlaylogEvent], rows: &[EpgRow], name: &str| {
        let v = check_channel_days(&ch, days, events, rows);
        assert!(
            v.iter().any(|v| v.invariant == name),
            "{name} did not fire: {v:#?}"
        );
    };
    // Off-grid item.
    let mut days = s.days.clone();
    days[0].items[0].start += MIN;
    fires(&days, &s.playlog, &s.epg, "grid_alignment");
    // A gap in the playlog.
    let mut events = s.playlog.clone();
    events.remove(3);
    fires(&s.days, &events, &s.epg, "playlog_tiling");
    // Content cut short (longform cut).
    let mut events = s.playlog.clone();
    let i = events
        .iter()
        .position(|e| e.asset.as_deref() == Some("m"))
        .unwrap();
    events[i].end -= 1000;
    events[i + 1].start -= 1000;
    fires(&s.days, &events, &s.epg, "longform_uncut");
    // Spots not adding up to the avail: a pad turned into content.
    let mut events = s.playlog.clone();
    let i = events
        .iter()
        .position(|e| e.kind == EventKind::Pad && e.item_start.is_some())
        .unwrap();
    events[i].kind = EventKind::Content;
    fires(&s.days, &events, &s.epg, "spots_plus_pads_equal_avail");
    // Broken carry-in.
    let mut days = s.days.clone();
    days[1].effective_start += 30 * MIN;
    fires(&days, &s.playlog, &s.epg, "carry_in_continuity");
    // EPG with an interstitial row and with a hole.
    let mut rows = s.epg.clone();
    let mut spot = rows[0].clone();
    spot.end = spot.start + 30_000;
    rows[0].start = spot.end;
    rows.insert(0, spot);
    fires(&s.days, &s.playlog, &rows, "epg_hides_interstitials");
    let mut rows = s.epg.clone();
    rows.remove(1);
    fires(&s.days, &s.playlog, &rows, "epg_abuts");
}
