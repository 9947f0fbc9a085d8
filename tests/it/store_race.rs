//! Faults around `schedule build`: two real processes racing on the same channel and dates, and a
//! build killed with SIGKILL half-way. Either way the database holds whole days only.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use retrovue::store;
use support::TestDb;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");
const CHANNEL: &str = "retro-one";

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn command(db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_retrovue"));
    c.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RETROVUE_DATABASE_URL");
    c
}

fn prepare(db: &str) {
    let status = command(db, &["lineup", "import", DEMO])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every current day from `from` is whole: one record per date, its playlog tiles
/// `[effective_start, covers_until)`, its state is stored, and it is exactly what the core
/// builds. Returns how many consecutive days are stored.
fn assert_whole_days(db: &str, from: NaiveDate, max_days: u32) -> usize {
    let mut store = store::open(db).unwrap();
    let lineup = store.load_lineup().unwrap();
    let channel = lineup.channels.iter().find(|c| c.id == CHANNEL).unwrap();
    let last = from + chrono::Days::new(max_days as u64 - 1);
    let stored = store.current_days(CHANNEL, from, last).unwrap();
    let core = retrovue_core::build_fresh(&lineup.catalog, channel, from, stored.len() as u32, 0);
    for (i, s) in stored.iter().enumerate() {
        let expected = from + chrono::Days::new(i as u64);
        assert_eq!(
            s.day.date, expected,
            "stored days are consecutive from {from}"
        );
        assert_eq!(
            store.day_history(CHANNEL, expected).unwrap().len(),
            1,
            "one record per date"
        );
        assert_eq!(s.day, core.days[i]);
        let playlog = store.day_playlog(s.id).unwrap();
        assert!(!playlog.is_empty());
        assert_eq!(playlog.first().unwrap().start, s.day.effective_start);
        assert_eq!(playlog.last().unwrap().end, s.day.covers_until);
        for pair in playlog.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{} tiles", s.day.date);
        }
        let next = expected.succ_opt().unwrap();
        assert!(!store
            .state_before(CHANNEL, next)
            .unwrap()
            .rotation
            .cursors
            .is_empty());
    }
    // Nothing but whole days: every stored event belongs to a stored day.
    let all_events = store.playlog(CHANNEL, i64::MIN / 2, i64::MAX / 2).unwrap();
    let per_day: usize = stored
        .iter()
        .map(|s| store.day_playlog(s.id).unwrap().len())
        .sum();
    assert_eq!(all_events.len(), per_day);
    assert_eq!(store.rotation_state(CHANNEL).unwrap(), core.rotation);
    stored.len()
}

// contract: STORE-004
// contract: STORE-005
fn racing_builders(db: &str) {
    prepare(db);
    for round in 0..3 {
        let args = [
            "schedule",
            "build",
            "--channel",
            CHANNEL,
            "--from",
            "2030-01-07",
            "--days",
            "10",
        ];
        let children: Vec<_> = (0..2)
            .map(|_| {
                command(db, &args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut winners = 0;
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            match output.status.code() {
                Some(0) => winners += 1,
                Some(1) => assert!(stderr.contains("conflict"), "round {round}: {stderr}"),
                other => panic!("round {round}: exit {other:?}: {stderr}"),
            }
        }
        assert!(winners >= 1, "round {round}: one builder wins");
        assert_eq!(assert_whole_days(db, date("2030-01-07"), 10), 10);
    }
}

/// The stored chain of the channel tiles time: each day starts where the previous one's coverage
/// ends and its playlog tiles it.
fn assert_seams_whole(db: &str) -> usize {
    let mut store = store::open(db).unwrap();
    let days = store.all_current_days(CHANNEL).unwrap();
    for pair in days.windows(2) {
        assert_eq!(pair[0].day.date.succ_opt(), Some(pair[1].day.date));
        assert_eq!(
            pair[1].day.effective_start, pair[0].day.covers_until,
            "seam {} → {}",
            pair[0].day.date, pair[1].day.date
        );
    }
    for d in &days {
        let events = store.day_playlog(d.id).unwrap();
        assert!(retrovue_core::invariants::check_tiling(
            &events,
            d.day.effective_start,
            d.day.covers_until
        )
        .is_empty());
    }
    days.len()
}

// contract: STORE-013
fn racing_builders_with_different_seeds(db: &str) {
    prepare(db);
    let status = command(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            CHANNEL,
            "--from",
            "2030-01-07",
            "--days",
            "8",
        ],
    )
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert!(status.success());
    for round in 0..3u64 {
        let children: Vec<_> = (0..2u64)
            .map(|i| {
                let seed = (round * 2 + i + 1).to_string();
                let from = if i == 0 { "2030-01-08" } else { "2030-01-09" };
                command(
                    db,
                    &[
                        "schedule",
                        "build",
                        "--channel",
                        CHANNEL,
                        "--from",
                        from,
                        "--days",
                        "2",
                        "--seed",
                        &seed,
                    ],
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            match output.status.code() {
                Some(0) => {}
                Some(1) => assert!(stderr.contains("conflict"), "round {round}: {stderr}"),
                other => panic!("round {round}: exit {other:?}: {stderr}"),
            }
        }
        assert_eq!(assert_seams_whole(db), 8, "round {round}: one whole chain");
    }
}

// contract: STORE-011
fn killed_build(db: &str) {
    prepare(db);
    let days = 150;
    let mut child = command(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            CHANNEL,
            "--from",
            "2030-01-07",
            "--days",
            "150",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        let line = lines.next().expect("the build reports each day").unwrap();
        assert!(line.contains(" built "), "{line}");
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    child.wait().unwrap();
    let stored = assert_whole_days(db, date("2030-01-07"), days);
    assert!(stored >= 3, "the reported days are committed");
    assert!(
        stored < days as usize,
        "the build was killed before it finished"
    );

    // Running it again completes the range from where it stopped.
    let status = command(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            CHANNEL,
            "--from",
            "2030-01-07",
            "--days",
            "20",
        ],
    )
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert!(status.success());
    assert!(assert_whole_days(db, date("2030-01-07"), days) >= 20);
}

#[test]
fn sqlite_racing_builders() {
    racing_builders(TestDb::sqlite().url());
}

#[test]
fn postgres_racing_builders() {
    racing_builders(TestDb::postgres().url());
}

#[test]
fn sqlite_racing_builders_with_different_seeds() {
    racing_builders_with_different_seeds(TestDb::sqlite().url());
}

#[test]
fn postgres_racing_builders_with_different_seeds() {
    racing_builders_with_different_seeds(TestDb::postgres().url());
}

#[test]
fn sqlite_killed_build() {
    killed_build(TestDb::sqlite().url());
}

#[test]
fn postgres_killed_build() {
    killed_build(TestDb::postgres().url());
}
