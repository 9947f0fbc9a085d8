//! The store's commands as a user runs them: the real `retrovue` binary against SQLite and
//! PostgreSQL, checking output and exit codes (0 ok, 1 runtime, 2 bad input).

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use retrovue_core::model::{EpgRow, PlaylogEvent};
use support::{raw_sql, TempDir, TestDb};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");

fn retrovue(db: &str, args: &[&str]) -> Output {
    let home = TempDir::new("rvhome-");
    Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_HOME", &home.path)
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn ok(db: &str, args: &[&str]) -> String {
    let output = retrovue(db, args);
    assert_eq!(
        code(&output),
        0,
        "retrovue {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn json(db: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(db, &all)).expect("--json prints JSON only")
}

// contract: MIGRATE-001
// contract: MIGRATE-002
// contract: MIGRATE-003
fn migrate_and_status(db: &str) {
    let pending = json(db, &["db", "status"]);
    assert_eq!(pending[0]["state"], "pending");
    assert_eq!(
        json(db, &["db", "status"]),
        pending,
        "status applies nothing"
    );
    // contract: CLI-082
    let migrated = json(db, &["db", "migrate"]);
    assert_eq!(migrated["dry_run"], false);
    let applied = migrated["migrations"].clone();
    assert_eq!(applied[0]["state"], "applied");
    assert_eq!(applied[0]["name"], "0001_init");
    assert_eq!(json(db, &["db", "status"]), applied);
    raw_sql(
        db,
        "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1",
    );
    for args in [
        &["db", "status"][..],
        &["db", "migrate"],
        &["lineup", "export"],
    ] {
        let output = retrovue(db, args);
        assert_eq!(code(&output), 1, "{args:?}");
        assert!(
            stderr(&output).contains("was changed after it was applied"),
            "{}",
            stderr(&output)
        );
    }
}

// contract: STORE-002
// contract: STORE-003
fn import_and_export(db: &str) {
    let broken = TempDir::new("rvbad-");
    let text = std::fs::read_to_string(DEMO).unwrap();
    let bad_file = broken.join("bad.toml");
    std::fs::write(
        &bad_file,
        text.replace("grid_block_minutes = 30", "grid_block_minutes = 45"),
    )
    .unwrap();
    let output = retrovue(db, &["lineup", "import", bad_file.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("grid_block_minutes"),
        "{}",
        stderr(&output)
    );
    let output = retrovue(db, &["lineup", "import", "/no/such/lineup.toml"]);
    assert_eq!(code(&output), 2);

    let summary = json(db, &["lineup", "import", DEMO]);
    assert_eq!(summary["channels"], 4);
    let first = ok(db, &["lineup", "export"]);
    let exported = broken.join("export.toml");
    std::fs::write(&exported, &first).unwrap();
    ok(db, &["lineup", "import", exported.to_str().unwrap()]);
    assert_eq!(ok(db, &["lineup", "export"]), first);
    // The failed import above wrote nothing, and neither does a dry run.
    assert!(!first.contains("grid_block_minutes = 45"));
}

// contract: STORE-010
fn build_show_epg_playlog(db: &str) {
    ok(db, &["lineup", "import", DEMO]);
    let built = json(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--days",
            "2",
        ],
    )["days"]
        .clone();
    assert_eq!(built.as_array().unwrap().len(), 2);
    assert_eq!(built[0]["outcome"], "built");
    let again = json(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--days",
            "2",
        ],
    )["days"]
        .clone();
    assert_eq!(again[0]["outcome"], "rebuilt");
    // While 2030-01-07 airs it is kept as it is.
    let during = json(
        db,
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--days",
            "2",
            "--now",
            "2030-01-07T20:00:00Z",
        ],
    )["days"]
        .clone();
    assert_eq!(during[0]["outcome"], "kept_locked");
    assert_eq!(during[0]["id"], again[0]["id"]);
    assert_eq!(during[1]["outcome"], "rebuilt");

    let shown = json(
        db,
        &[
            "schedule",
            "show",
            "--channel",
            "retro-one",
            "--date",
            "2030-01-07",
        ],
    );
    assert_eq!(shown["day"]["channel"], "retro-one");
    assert!(!shown["day"]["items"].as_array().unwrap().is_empty());
    let human = ok(
        db,
        &[
            "schedule",
            "show",
            "--channel",
            "retro-one",
            "--date",
            "2030-01-07",
        ],
    );
    assert!(human.starts_with("retro-one 2030-01-07"), "{human}");

    let rows: Vec<EpgRow> = serde_json::from_value(json(
        db,
        &[
            "epg",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--days",
            "2",
        ],
    ))
    .unwrap();
    assert!(rows.len() > 10);
    for pair in rows.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "guide rows abut");
    }

    let events: Vec<PlaylogEvent> = serde_json::from_value(json(
        db,
        &[
            "playlog",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07T18:00:00Z",
            "--hours",
            "2",
        ],
    ))
    .unwrap();
    let from = retrovue_core::time::parse_utc("2030-01-07T18:00:00Z").unwrap();
    assert!(events.first().unwrap().start <= from);
    assert!(events.last().unwrap().end >= from + 2 * 3_600_000);
    for pair in events.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "playlog events tile");
    }
}

// contract: STORE-010
fn bad_input_exits_2(db: &str) {
    ok(db, &["lineup", "import", DEMO]);
    let cases: [&[&str]; 7] = [
        &[
            "schedule",
            "build",
            "--channel",
            "nope",
            "--from",
            "2030-01-07",
        ],
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-13-07",
        ],
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--days",
            "0",
        ],
        &[
            "schedule",
            "build",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
            "--now",
            "soon",
        ],
        &[
            "schedule",
            "show",
            "--channel",
            "retro-one",
            "--date",
            "2031-01-01",
        ],
        &[
            "epg",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2031-01-01",
        ],
        &["playlog", "show", "--channel", "nope"],
    ];
    for args in cases {
        let output = retrovue(db, args);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "one clear line: {message}");
        assert!(stdout(&output).is_empty());
    }
}

// contract: STORE-002
fn import_resolves_references_in_the_stored_catalog(db: &str) {
    let dir = TempDir::new("rvsplit-");
    let catalog = dir.join("catalog.toml");
    std::fs::write(
        &catalog,
        "[[asset]]\nid = \"pilot\"\nkind = \"episode\"\ntitle = \"Pilot\"\nseries = \"Show\"\n\
         season = 1\nepisode = 1\nduration_ms = 1320000\n\n[[program]]\nid = \"show\"\n\
         play_mode = \"sequential\"\nseries = \"Show\"\n",
    )
    .unwrap();
    let channels = dir.join("channels.toml");
    let channel = |item: &str| {
        format!(
            "[[channel]]\nid = \"split-one\"\nnumber = \"9\"\nname = \"Split One\"\n\
             timezone = \"UTC\"\ngrid_block_minutes = 30\nblock_start_offsets_minutes = [0, 30]\n\
             programming_day_start = \"06:00\"\nbreak_policy = \"end\"\n\n  [[channel.plan]]\n\
             name = \"Daily\"\n\n    [[channel.plan.zone]]\n    name = \"All\"\n\
             start = \"06:00\"\n    end = \"06:00\"\n    items = [\"{item}\"]\n"
        )
    };
    // Before the catalog is stored, the channel's reference resolves nowhere: exit 2.
    std::fs::write(&channels, channel("show")).unwrap();
    let output = retrovue(db, &["lineup", "import", channels.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("show"), "{}", stderr(&output));
    // With the catalog stored first, a channels-only lineup imports against it.
    ok(db, &["lineup", "import", catalog.to_str().unwrap()]);
    let summary = json(db, &["lineup", "import", channels.to_str().unwrap()]);
    assert_eq!(summary["channels"], 1);
    assert_eq!(summary["assets"], 0);
    // An id in neither the file nor the database still fails, naming it.
    std::fs::write(&channels, channel("nowhere")).unwrap();
    let output = retrovue(db, &["lineup", "import", channels.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("nowhere"), "{}", stderr(&output));
}

macro_rules! cli_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[test]
            fn migrate_and_status() {
                let db = $make;
                super::migrate_and_status(db.url());
            }

            #[test]
            fn import_and_export() {
                let db = $make;
                super::import_and_export(db.url());
            }

            #[test]
            fn build_show_epg_playlog() {
                let db = $make;
                super::build_show_epg_playlog(db.url());
            }

            #[test]
            fn import_resolves_references_in_the_stored_catalog() {
                let db = $make;
                super::import_resolves_references_in_the_stored_catalog(db.url());
            }

            #[test]
            fn bad_input_exits_2() {
                let db = $make;
                super::bad_input_exits_2(db.url());
            }
        }
    };
}

cli_suite!(sqlite, super::TestDb::sqlite());
cli_suite!(postgres, super::TestDb::postgres());

// contract: STORE-001
#[test]
fn default_database_lives_in_retrovue_home() {
    let home = TempDir::new("rvhome-");
    let nested = home.join("nested");
    let output = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["db", "migrate"])
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_HOME", &nested)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(Path::new(&nested).join("retrovue.db").is_file());

    let output = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["db", "status"])
        .env("RETROVUE_DATABASE_URL", "mysql://somewhere/db")
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("unsupported database URL"),
        "{}",
        stderr(&output)
    );
}
