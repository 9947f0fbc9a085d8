//! The day chain (SCHED-007): content longer than a day, and `DayChain` as the one place the
//! chain is threaded.

mod common;

use common::*;
use retrovue_core::build_fresh;
use retrovue_core::chain::{ChainState, DayChain};
use retrovue_core::epg::epg_rows;
use retrovue_core::invariants::{check_carry_in, check_channel_days, check_tiling};
use retrovue_core::model::*;

/// Local New York wall time on a date → UTC instant.
fn ny(date_s: &str, hhmm: &str) -> UtcMs {
    let clock = retrovue_core::time::ChannelClock::of(&ny_channel(vec![]));
    clock.anchor(date(date_s), retrovue_core::time::parse_hhmm(hhmm).unwrap())
}

/// A 50-hour asset first, then 30-minute episodes, in one all-day zone.
fn marathon() -> (Catalog, Channel) {
    let cat = catalog(vec![
        asset("marathon", AssetKind::Movie, 50.0 * 60.0),
        asset("ep", AssetKind::Episode, 22.0),
    ]);
    let ch = ny_channel(vec![zone("All", "06:00", "06:00", &["marathon", "ep"])]);
    (cat, ch)
}

#[test]
fn an_asset_longer_than_a_day_carries_over_the_days_it_covers() {
    // contract: SCHED-007
    let (cat, ch) = marathon();
    let s = build_fresh(&cat, &ch, date("2026-02-18"), 4, 0);
    let [d1, d2, d3, d4] = [&s.days[0], &s.days[1], &s.days[2], &s.days[3]];
    // Day 1 places the 50-hour item at 06:00 Wednesday; it ends 08:00 Friday.
    assert_eq!(d1.items[0].asset, "marathon");
    assert_eq!(d1.items[0].start, ny("2026-02-18", "06:00"));
    assert_eq!(d1.items[0].slot_end, ny("2026-02-20", "08:00"));
    assert_eq!(d1.items.len(), 1);
    assert_eq!(d1.covers_until, ny("2026-02-20", "08:00"));
    // Thursday is entirely covered: no items of its own, it starts (and ends) after the item.
    assert!(d2.items.is_empty(), "{:?}", d2.items);
    assert_eq!(d2.effective_start, ny("2026-02-20", "08:00"));
    assert_eq!(d2.covers_until, d2.effective_start);
    // Friday starts after the item too, not at its own window start.
    assert_eq!(d3.effective_start, ny("2026-02-20", "08:00"));
    assert!(d3.items[0].start >= d3.effective_start);
    assert_eq!(d4.effective_start, d3.covers_until);
    // Guide rows abut, the playlog tiles, every invariant holds over the four days.
    for pair in s.epg.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
    }
    assert_eq!(s.epg.first().unwrap().start, d1.effective_start);
    assert_eq!(s.epg.last().unwrap().end, d4.covers_until);
    assert!(check_tiling(&s.playlog, d1.effective_start, d4.covers_until).is_empty());
    let violations = check_channel_days(&ch, &s.days, &s.playlog, &s.epg);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_carry_in_checker_sees_a_day_that_ignores_a_long_carry_in() {
    // contract: SCHED-007
    let (cat, ch) = marathon();
    let s = build_fresh(&cat, &ch, date("2026-02-18"), 3, 0);
    // Building Friday from Thursday's own (empty) last slot instead of the chain restarts the
    // day at its window start, inside the item: the checker names it.
    let chain = DayChain::new(&cat, &ch, 0);
    let broken = chain.build_day(date("2026-02-20"), &ChainState::default());
    let days = vec![s.days[0].clone(), s.days[1].clone(), broken.day];
    let violations = check_carry_in(&ch, &days);
    assert!(
        violations
            .iter()
            .any(|v| v.invariant == "carry_in_continuity"),
        "{violations:#?}"
    );
}

#[test]
fn a_covered_day_passes_the_carry_in_through_unchanged() {
    // contract: SCHED-007
    let (cat, ch) = marathon();
    let chain = DayChain::new(&cat, &ch, 0);
    let d1 = chain.build_day(date("2026-02-18"), &ChainState::default());
    assert_eq!(d1.after.previous_slot_end, Some(ny("2026-02-20", "08:00")));
    let d2 = chain.build_day(date("2026-02-19"), &d1.after);
    assert!(d2.playlog.is_empty());
    assert_eq!(d2.after.previous_slot_end, d1.after.previous_slot_end);
    let d3 = chain.build_day(date("2026-02-20"), &d2.after);
    assert_eq!(d3.day.effective_start, ny("2026-02-20", "08:00"));
    assert!(d3.after.previous_slot_end > d2.after.previous_slot_end);
    // The chain is the same whether built a day at a time or as a run.
    let run = chain.build_days(date("2026-02-18"), 3, &ChainState::default());
    assert_eq!(run[2].day, d3.day);
    assert_eq!(run[2].after, d3.after);
    let rows = epg_rows(&ch, &[d1.day, d2.day, d3.day]);
    for pair in rows.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
}

#[test]
fn day_chain_matches_the_channel_schedule() {
    // contract: SCHED-007
    let cat = catalog(vec![asset("a", AssetKind::Episode, 22.0)]);
    let ch = ny_channel(vec![zone("All", "06:00", "06:00", &["a"])]);
    let s = build_fresh(&cat, &ch, date("2026-02-18"), 2, 7);
    let run = DayChain::new(&cat, &ch, 7).build_days(date("2026-02-18"), 2, &ChainState::default());
    assert_eq!(s.days, vec![run[0].day.clone(), run[1].day.clone()]);
    assert_eq!(s.rotation, run[1].after.rotation);
    assert_eq!(s.traffic, run[1].after.traffic);
    assert_eq!(run[1].after.previous_slot_end, run[1].day.last_slot_end());
}
