//! The simulator as ordinary tests: many seeds × one day with faults, determinism by digest,
//! failed seeds rerun, and proof that the invariant checks can fail.

use chrono::NaiveDate;
use retrovue_core::generate::generate_lineup;
use retrovue_core::horizon::HorizonConfig;
use retrovue_core::lineup::parse_lineup;
use retrovue_core::model::Lineup;
use retrovue_core::time::parse_utc;
use retrovue_sim::{report, run, FaultPlan, SimConfig, ViewerModel};

fn demo() -> Lineup {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/demo/lineup.toml");
    let text = std::fs::read_to_string(path).expect("demo lineup");
    parse_lineup(&text, path).expect("demo lineup parses")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ids(lineup: &Lineup) -> Vec<String> {
    lineup.channels.iter().map(|c| c.id.clone()).collect()
}

/// A fault mix for one day starting `start`, aimed at the lineup's first channels.
fn faults_for(lineup: &Lineup, start: &str, seed: u64) -> FaultPlan {
    let ch = ids(lineup);
    let pick = |k: usize| &ch[k % ch.len()];
    let spec = format!(
        "crash:rate=0.5,crash:{}@{start}T14:07:13Z,stall:{}@{start}T16:20:00Z,\
         slow-start:{}=2500,down:{}@{start}T18:00:00Z..{start}T18:00:03Z",
        pick(seed as usize),
        pick(seed as usize + 1),
        pick(seed as usize + 2),
        pick(seed as usize + 3),
    );
    FaultPlan::parse(&spec, &ch).unwrap()
}

fn assert_clean(outcome: &retrovue_sim::SimOutcome, what: &str) {
    let violations: Vec<String> = outcome
        .channels
        .iter()
        .flat_map(|c| {
            c.violations
                .iter()
                .map(move |v| format!("{} {} {}", c.channel.id, v.invariant, v.detail))
        })
        .take(5)
        .collect();
    assert!(violations.is_empty(), "{what}: {violations:#?}");
}

#[test]
fn many_seeds_one_day_with_faults_hold_every_invariant() {
    // contract: SIM-006
    // contract: SIM-007
    let lineup = demo();
    for seed in 0..24u64 {
        let start = format!("2026-03-{:02}", 1 + seed % 28);
        let mut config = SimConfig::new(seed, date(&start), 1);
        config.faults = faults_for(&lineup, &start, seed);
        let outcome = run(&lineup, &config);
        assert_clean(&outcome, &format!("demo seed {seed}"));
        assert!(outcome.stats.tune_ins > 0);
        assert!(
            outcome.stats.engine_crashes > 0,
            "seed {seed}: faults were injected"
        );
        assert!(
            outcome.stats.restarts > 0,
            "seed {seed}: crashes were survived by restarts"
        );
    }
    for seed in 0..8u64 {
        let lineup = generate_lineup(6, seed);
        let start = "2026-11-01"; // a DST change day in several zones
        let mut config = SimConfig::new(seed, date(start), 1);
        config.viewers = ViewerModel::Poisson {
            per_hour: 6.0,
            mean_minutes: 15.0,
        };
        config.faults = faults_for(&lineup, start, seed);
        assert_clean(&run(&lineup, &config), &format!("generated seed {seed}"));
    }
}

#[test]
fn one_seed_twice_gives_the_same_digest() {
    // contract: SIM-002
    // contract: SIM-003
    let lineup = demo();
    let mut config = SimConfig::new(42, date("2026-03-07"), 2);
    config.faults = faults_for(&lineup, "2026-03-07", 42);
    let first = report::to_json(&run(&lineup, &config));
    let second = report::to_json(&run(&lineup, &config));
    assert_eq!(first, second);
    assert_eq!(
        report::to_human(&run(&lineup, &config)),
        report::to_human(&run(&lineup, &config))
    );
    config.seed = 43;
    let other = report::to_json(&run(&lineup, &config));
    let digest = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    assert_ne!(digest(&first), digest(&other));
    assert!(first.starts_with("{\"seed\":42,"));
}

#[test]
fn json_digest_and_horizon_trim() {
    // contract: SIM-003
    let lineup = demo();
    let config = SimConfig::new(0, date("2026-03-02"), 1);
    let outcome = run(&lineup, &config);
    let text = report::to_json(&outcome);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let digest = doc["digest"].as_str().unwrap();
    let unsigned = text.replace(&format!("\"digest\":\"{digest}\""), "\"digest\":\"\"");
    assert_eq!(
        retrovue_core::stable::sha256_hex(unsigned.as_bytes()),
        digest
    );
    for (ch, json) in outcome
        .channels
        .iter()
        .zip(doc["channels"].as_array().unwrap())
    {
        let last_day = ch.days.last().unwrap();
        let horizon = last_day
            .window_end
            .max(last_day.last_slot_end().unwrap_or(0));
        let epg = json["epg"].as_array().unwrap();
        let playlog = json["playlog"].as_array().unwrap();
        let end_of = |v: &serde_json::Value| parse_utc(v["end"].as_str().unwrap()).unwrap();
        assert_eq!(end_of(epg.last().unwrap()), horizon, "{}", ch.channel.id);
        assert_eq!(
            end_of(playlog.last().unwrap()),
            horizon,
            "{}",
            ch.channel.id
        );
        // Playlog events tile: each ends where the next starts.
        for pair in playlog.windows(2) {
            assert_eq!(pair[0]["end"], pair[1]["start"]);
        }
    }
}

#[test]
fn failed_seeds_are_rerun() {
    // contract: SIM-009
    let text = include_str!("../failed-seeds.txt");
    let seeds: Vec<u64> = text
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().expect("a seed per line"))
        .collect();
    assert!(!seeds.is_empty());
    let lineup = demo();
    for seed in seeds {
        let mut config = SimConfig::new(seed, date("2026-03-02"), 1);
        config.faults = faults_for(&lineup, "2026-03-02", seed);
        assert_clean(&run(&lineup, &config), &format!("failed seed {seed}"));
    }
}

#[test]
fn a_short_playlog_horizon_is_reported() {
    // contract: SIM-007
    // The checks must be able to fail: a keeper that keeps only 10 s of playlog ahead cannot
    // let the manager feed 30 s ahead.
    let lineup = demo();
    let mut config = SimConfig::new(1, date("2026-03-02"), 1);
    config.viewers = ViewerModel::Constant(1);
    config.horizon = HorizonConfig {
        retry_initial_ms: 1_000,
        retry_max_ms: 60_000,
        days_ahead: 0,
        playlog_ahead_ms: 10_000,
        refill_ms: 60_000,
    };
    let outcome = run(&lineup, &config);
    assert!(outcome.violation_count() > 0);
    assert!(outcome
        .channels
        .iter()
        .flat_map(|c| &c.violations)
        .any(|v| v.invariant == "horizon_short"));
    assert!(report::to_human(&outcome).lines().last().unwrap() != "violations: 0");
}

#[test]
fn missing_asset_answers_500_and_airs_as_error() {
    // contract: SIM-006
    let lineup = demo();
    let asset = lineup
        .catalog
        .assets
        .values()
        .find(|a| a.kind.is_interstitial())
        .unwrap()
        .id
        .clone();
    let mut config = SimConfig::new(3, date("2026-03-02"), 1);
    config.viewers = ViewerModel::Poisson {
        per_hour: 30.0,
        mean_minutes: 10.0,
    };
    config.faults = FaultPlan::parse(&format!("missing-asset:{asset}"), &ids(&lineup)).unwrap();
    let outcome = run(&lineup, &config);
    assert_clean(&outcome, "missing asset");
    let errored = outcome
        .channels
        .iter()
        .flat_map(|c| &c.asrun)
        .filter(|r| r.asset.as_deref() == Some(asset.as_str()))
        .all(|r| r.status == retrovue_core::model::AsRunStatus::Error);
    assert!(errored);
}

#[test]
fn human_report_starts_with_the_seed() {
    // contract: SIM-008
    let lineup = demo();
    let outcome = run(&lineup, &SimConfig::new(9, date("2026-03-02"), 1));
    let text = report::to_human(&outcome);
    assert_eq!(text.lines().next(), Some("seed 9"));
    for ch in &lineup.channels {
        assert!(text.contains(&format!("({}, ", ch.id)));
    }
    assert!(text.contains("guide, first 6 hours"));
    assert_eq!(text.lines().last(), Some("violations: 0"));
}

#[test]
fn a_crash_records_what_aired_until_it() {
    // contract: ASRUN-001
    let lineup = demo();
    let channel = ids(&lineup)[0].clone();
    let mut config = SimConfig::new(5, date("2026-03-02"), 1);
    config.viewers = ViewerModel::Constant(1);
    config.faults = FaultPlan::parse(
        &format!("crash:{channel}@2026-03-02T14:07:13Z"),
        &ids(&lineup),
    )
    .unwrap();
    let outcome = run(&lineup, &config);
    assert_clean(&outcome, "crash");
    let crash = parse_utc("2026-03-02T14:07:13Z").unwrap();
    let asrun = &outcome.channels[0].asrun;
    let cut = asrun
        .iter()
        .find(|r| r.end == crash)
        .expect("a record ends at the crash");
    assert_eq!(cut.status, retrovue_core::model::AsRunStatus::Truncated);
    assert!(
        cut.reason
            .as_deref()
            .unwrap_or("")
            .starts_with("engine exited"),
        "{cut:?}"
    );
    // Every instant up to the crash is accounted for: records abut up to it.
    let before: Vec<_> = asrun.iter().filter(|r| r.end <= crash).collect();
    for pair in before.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{:?} / {:?}", pair[0], pair[1]);
    }
}

#[test]
fn a_day_without_a_plan_is_off_the_air_and_reported() {
    // contract: SIM-011
    let mut lineup = demo();
    // The first channel has no plan on Tuesdays: 2026-03-03 is a fault day.
    for plan in &mut lineup.channels[0].plans {
        plan.days.retain(|d| *d != chrono::Weekday::Tue);
    }
    let mut config = SimConfig::new(11, date("2026-03-02"), 3);
    config.viewers = ViewerModel::Poisson {
        per_hour: 6.0,
        mean_minutes: 45.0,
    };
    let outcome = run(&lineup, &config);
    assert_clean(&outcome, "fault day");
    let ch = &outcome.channels[0];
    let tuesday = ch
        .days
        .iter()
        .find(|d| d.date == date("2026-03-03"))
        .unwrap();
    assert_eq!(tuesday.faults[0].code, "no_plan");
    let (from, to) = (tuesday.effective_start, tuesday.covers_until);
    assert!(ch.playlog.iter().all(|e| e.end <= from || e.start >= to));
    assert!(
        ch.asrun.iter().all(|r| r.end <= from || r.start >= to),
        "nothing airs in the gap"
    );
    assert!(
        outcome.stats.answered_503 > 0,
        "tune-ins during the gap are refused"
    );
    assert!(
        ch.asrun.iter().any(|r| r.start >= to),
        "the channel comes back after the gap"
    );
    let json = report::to_json(&outcome);
    assert!(json.contains("no_plan"), "the fault is in the report");
}
