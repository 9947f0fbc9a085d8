//! Backup and restore (STORE-040, STORE-041, CLI-060, CLI-061) across SQLite and PostgreSQL in
//! both directions, and a lineup export re-imported beside a re-ingested folder (STORE-042).

use crate::support;
use crate::support_cli;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use retrovue::store::{self, DayWrite};
use retrovue_core::model::{AsRunRecord, AsRunStatus, EventKind};
use support::{TempDir, TestDb};
use support_cli::{fake_video, Rv};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");

struct Filled {
    _home: TempDir,
    media: TempDir,
    rv: Rv,
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A database holding every kind of row: the demo lineup, an ingested folder (source,
/// collection, enricher, assets), three built days, an override and as-run records.
fn filled(db: &TestDb) -> Filled {
    let home = TempDir::new("rvhome-");
    let media = TempDir::new("rvmedia-");
    fake_video(
        &media.path,
        "Show/Season 01/Show - S01E01 - One.mkv",
        1_320_000,
    );
    fake_video(
        &media.path,
        "Show/Season 01/Show - S01E02 - Two.mkv",
        1_320_000,
    );
    fake_video(&media.path, "commercials/Spot.mp4", 30_000);
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", DEMO]);
    let root = media.path.to_str().unwrap();
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root,
        "--id",
        "tv",
    ]);
    rv.ok(&["source", "discover", "tv"]);
    rv.ok(&["enricher", "add", "ffprobe"]);
    rv.ok(&["collection", "ingest", "tv"]);
    rv.ok(&["asset", "approve", "--collection", "tv"]);
    rv.ok(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
        "--days",
        "3",
    ]);
    let mut s = store::open(db.url()).unwrap();
    let day = s
        .current_day("retro-one", date("2030-01-08"))
        .unwrap()
        .unwrap();
    let write = DayWrite {
        day: day.day.clone(),
        playlog: s.day_playlog(day.id).unwrap(),
        rotation: Default::default(),
        traffic: Default::default(),
        previous_slot_end: None,
    };
    s.override_day(day.id, &write, store::now_ms()).unwrap();
    let start = retrovue_core::time::parse_utc("2030-01-07T11:00:00Z").unwrap();
    for (i, status) in [AsRunStatus::Aired, AsRunStatus::Truncated]
        .into_iter()
        .enumerate()
    {
        s.record_as_run(
            &AsRunRecord {
                channel: "retro-one".into(),
                playlog_id: format!("e{i}"),
                start: start + i as i64 * 60_000,
                end: start + (i as i64 + 1) * 60_000,
                asset: None,
                kind: EventKind::Content,
                status,
                reason: Some("it's \"quoted\"\nand multi-line".into()),
            },
            "test-session-1",
        )
        .unwrap();
    }
    Filled {
        _home: home,
        media,
        rv,
    }
}

/// The backup without its header (which names the backend and the time).
fn body(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

// contract: STORE-040
// contract: STORE-041
// contract: CLI-060
// contract: CLI-061
fn round_trip(from: &TestDb, to: &TestDb) {
    let f = filled(from);
    let dir = TempDir::new("rvbackup-");
    let file = dir.join("retrovue.backup");
    let summary = f.rv.json(&["db", "backup", path_arg(&file)]);
    assert_eq!(summary["format"], "retrovue-backup");
    assert_eq!(summary["version"], 1);
    assert_eq!(summary["schema"], migration_count() as u64);
    assert_eq!(summary["tables"]["schedule_day"], 4, "{summary}");
    assert_eq!(summary["tables"]["as_run"], 2);
    assert_eq!(summary["tables"]["source"], 1);
    assert!(summary["tables"]["playlog_event"].as_u64().unwrap() > 0);
    assert!(summary["bytes"].as_u64().unwrap() > 0);
    assert!(!PathBuf::from(format!("{}.tmp", file.display())).exists());
    let lines = std::fs::read_to_string(&file).unwrap();
    let header: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "retrovue-backup");
    assert!(lines.starts_with(&format!(
        "{{\"format\":\"retrovue-backup\",\"version\":1,\"schema\":{},",
        migration_count()
    )));
    assert_eq!(header["backend"], summary["backend"]);

    let home = TempDir::new("rvhome-");
    let target = Rv::new(to.url(), &home.path);
    let refused = target.bad(&["db", "restore", path_arg(&file)]);
    assert!(refused.contains("--yes"), "{refused}");
    let dry = target.json(&["db", "restore", path_arg(&file), "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["rows"], summary["rows"]);
    let empty = dir.join("empty.backup");
    assert_eq!(
        target.json(&["db", "backup", path_arg(&empty)])["rows"],
        0,
        "a dry run writes nothing"
    );
    let restored = target.json(&["db", "restore", path_arg(&file), "--yes"]);
    assert_eq!(restored["dry_run"], false);
    assert_eq!(restored["rows"], summary["rows"]);
    assert_eq!(restored["tables"], summary["tables"]);

    // Every row of every table is back, ids included.
    let again = dir.join("again.backup");
    target.ok(&["db", "backup", path_arg(&again)]);
    assert_eq!(body(&file), body(&again));
    assert_eq!(
        f.rv.ok(&["lineup", "export"]),
        target.ok(&["lineup", "export"])
    );
    let show = |rv: &Rv| {
        rv.json(&[
            "playlog",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-08T00:00:00Z",
            "--hours",
            "48",
        ])
    };
    assert_eq!(show(&f.rv), show(&target));

    // A second restore refuses the now non-empty database, naming it and a table.
    let full = target.bad(&["db", "restore", path_arg(&file), "--yes"]);
    assert!(
        full.contains("not empty") && full.contains("tables asset, "),
        "{full}"
    );
    let shown = store::postgres::redact(to.url());
    assert!(full.contains(&shown), "{full}");

    // Generated ids continue above the restored ones: builds, as-run and ingest work.
    let mut s = store::open(to.url()).unwrap();
    let as_run = s
        .record_as_run(
            &AsRunRecord {
                channel: "retro-one".into(),
                playlog_id: "after".into(),
                start: 1,
                end: 2,
                asset: None,
                kind: EventKind::Content,
                status: AsRunStatus::Aired,
                reason: None,
            },
            "test-session-1",
        )
        .unwrap();
    assert_eq!(as_run, 3);
    target.ok(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-10",
        "--days",
        "1",
    ]);
    let built = s
        .current_day("retro-one", date("2030-01-10"))
        .unwrap()
        .unwrap();
    assert_eq!(built.id, 5);
    fake_video(
        &f.media.path,
        "Show/Season 01/Show - S01E03 - Three.mkv",
        1_320_000,
    );
    let ingest = target.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(ingest["inserted"], 1, "{ingest}");
    assert_eq!(ingest["unchanged"], 3, "{ingest}");
}

// contract: STORE-041
// contract: CLI-061
fn bad_files_are_refused_naming_the_line(db: &TestDb) {
    let source = TestDb::sqlite();
    let f = filled(&source);
    let dir = TempDir::new("rvbackup-");
    let good = dir.join("good.backup");
    f.rv.ok(&["db", "backup", path_arg(&good)]);
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let home = TempDir::new("rvhome-");
    let target = Rv::new(db.url(), &home.path);
    let write = |name: &str, content: String| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let with = |n: usize, replacement: &str| -> String {
        let mut all: Vec<&str> = lines.clone();
        all[n] = replacement;
        all.join("\n") + "\n"
    };
    let asset_row = lines.iter().position(|l| l.starts_with('[')).unwrap();
    let row_line = format!("line {}", asset_row + 1);
    let end_line = format!("line {}", lines.len());
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (write("empty", String::new()), vec!["line 1", "empty"]),
        (write("text", "hello\n".into()), vec!["line 1", "not JSON"]),
        (
            write("foreign", with(0, r#"{"format":"other"}"#)),
            vec!["line 1", "not a RetroVue backup"],
        ),
        (
            write(
                "version",
                with(0, r#"{"format":"retrovue-backup","version":2,"schema":3}"#),
            ),
            vec!["line 1", "version 2"],
        ),
        (
            write(
                "newer",
                with(0, r#"{"format":"retrovue-backup","version":1,"schema":99}"#),
            ),
            vec!["line 1", "schema 99"],
        ),
        (
            write("table", with(1, r#"{"table":"nope","columns":[]}"#)),
            vec!["line 2", "unknown table"],
        ),
        (
            write("width", with(asset_row, "[1]")),
            vec![&row_line, "values"],
        ),
        (
            write(
                "type",
                with(
                    asset_row,
                    &format!(
                        "[123{}",
                        &lines[asset_row][lines[asset_row].find(',').unwrap()..]
                    ),
                ),
            ),
            vec![&row_line, "holds 123, not a string"],
        ),
        (
            write("truncated", lines[..lines.len() - 1].join("\n") + "\n"),
            vec!["truncated"],
        ),
        (
            write("count", with(lines.len() - 1, r#"{"end":true,"rows":1}"#)),
            vec![&end_line, "rows"],
        ),
    ];
    for (path, needles) in &cases {
        let message = target.bad(&["db", "restore", path_arg(path), "--yes"]);
        for needle in needles {
            assert!(message.contains(needle), "{path:?}: {message}");
        }
        assert!(message.contains(path_arg(path)), "{message}");
    }
    let unwritable = f.rv.bad(&["db", "backup", "/nonexistent-dir/x.backup"]);
    assert!(
        unwritable.contains("/nonexistent-dir/x.backup"),
        "{unwritable}"
    );
    let nothing = TestDb::sqlite();
    let unmigrated = Rv::new(nothing.url(), &home.path);
    let refused = unmigrated.bad(&["db", "backup", path_arg(&dir.join("nothing"))]);
    assert!(refused.contains("no schema"), "{refused}");
    assert!(!dir.join("nothing").exists() && !dir.join("nothing.tmp").exists());
    let missing = target.bad(&["db", "restore", path_arg(&dir.join("missing")), "--yes"]);
    assert!(missing.contains("missing"), "{missing}");
    // Nothing was written by any refused restore: the good file still restores.
    target.ok(&["db", "restore", path_arg(&good), "--yes"]);
}

// contract: STORE-042
fn an_export_reimports_beside_its_folder(db: &TestDb) {
    let source = TestDb::sqlite();
    let f = filled(&source);
    let dir = TempDir::new("rvexport-");
    let export = dir.join("lineup.toml");
    std::fs::write(&export, f.rv.ok(&["lineup", "export"])).unwrap();
    let before = f.rv.json(&["asset", "list", "--series", "Show"]);

    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", path_arg(&export)]);
    let root = f.media.path.to_str().unwrap();
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root,
        "--id",
        "tv",
    ]);
    rv.ok(&["source", "discover", "tv"]);
    let report = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(report["inserted"], 0, "{report}");
    let after = rv.json(&["asset", "list", "--series", "Show"]);
    let ids = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&before), ids(&after));
    for asset in after.as_array().unwrap() {
        assert_eq!(asset["approved"], true, "approval kept: {asset}");
        assert_eq!(
            asset["collection_id"], before[0]["collection_id"],
            "{asset}"
        );
    }
    let again = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(again["inserted"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    // The channels built from the import still build.
    rv.ok(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
        "--days",
        "1",
    ]);
}

// contract: STORE-040
/// Backups taken while a writer adds a program and an as-run record in one transaction each:
/// `program` is read near the start, `as_run` near the end, with 100 000 playlog rows between.
/// In every backup the two agree (a torn read would hold as-run records of programs it
/// missed), and every backup restores.
fn a_backup_is_one_snapshot_while_writers_run(db: &TestDb) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["db", "migrate"]);
    let rows = "SELECT 1, n, 'e', 0, 0, 'content', 0";
    let fill = match db {
        TestDb::Sqlite { .. } => format!(
            "INSERT INTO playlog_event (day_id, seq, event_id, start_ms, end_ms, kind, \
             in_point_ms) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g \
             WHERE n < 100000) {rows} FROM g"
        ),
        TestDb::Postgres(_) => format!(
            "INSERT INTO playlog_event (day_id, seq, event_id, start_ms, end_ms, kind, \
             in_point_ms) {rows} FROM generate_series(1, 100000) AS g(n)"
        ),
    };
    support::raw_sql(db.url(), &fill);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let url = db.url().to_string();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                support::raw_sql(
                    &url,
                    &format!(
                        "BEGIN; \
                         INSERT INTO program (id, title, play_mode) \
                         VALUES ('p{i}', 'P', 'sequential'); \
                         INSERT INTO as_run (channel_id, playlog_id, start_ms, end_ms, kind, \
                         status) VALUES ('c', 'p{i}', 0, 0, 'content', 'aired'); COMMIT;"
                    ),
                );
                i += 1;
            }
            i
        })
    };
    let dir = TempDir::new("rvbackup-");
    let mut counts = Vec::new();
    for n in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let file = dir.join(&format!("b{n}"));
        let summary = rv.json(&["db", "backup", path_arg(&file)]);
        let programs = summary["tables"]["program"].as_u64().unwrap();
        assert_eq!(summary["tables"]["as_run"], programs, "{summary}");
        assert_eq!(summary["tables"]["playlog_event"], 100_000);
        counts.push(programs);
        let target = TestDb::sqlite();
        let restore_home = TempDir::new("rvhome-");
        Rv::new(target.url(), &restore_home.path).ok(&["db", "restore", path_arg(&file), "--yes"]);
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
}

#[test]
fn snapshot_sqlite() {
    a_backup_is_one_snapshot_while_writers_run(&TestDb::sqlite());
}

#[test]
fn snapshot_postgres() {
    a_backup_is_one_snapshot_while_writers_run(&TestDb::postgres());
}

#[test]
fn sqlite_to_postgres() {
    round_trip(&TestDb::sqlite(), &TestDb::postgres());
}

#[test]
fn postgres_to_sqlite() {
    round_trip(&TestDb::postgres(), &TestDb::sqlite());
}

#[test]
fn bad_files_sqlite() {
    bad_files_are_refused_naming_the_line(&TestDb::sqlite());
}

#[test]
fn bad_files_postgres() {
    bad_files_are_refused_naming_the_line(&TestDb::postgres());
}

#[test]
fn reimport_sqlite() {
    an_export_reimports_beside_its_folder(&TestDb::sqlite());
}

#[test]
fn reimport_postgres() {
    an_export_reimports_beside_its_folder(&TestDb::postgres());
}

/// The latest migration the project ships (the backup's schema number): the highest version
/// among `migrations/sqlite/NNNN_*.sql` (versions may skip a number while branches merge).
fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".sql")?.get(..4)?.parse::<usize>().ok()
        })
        .max()
        .unwrap()
}
