//! The papercuts of issue 13 (CLI-062..CLI-068), each on SQLite and PostgreSQL where the store
//! is involved.

use crate::support;
use crate::support_cli;

use support::{raw_sql, TempDir, TestDb};
use support_cli::Rv;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");

fn rv(db: &TestDb, home: &TempDir) -> Rv {
    Rv::new(db.url(), &home.path)
}

/// A lineup import that must fail: its exit code and stderr (one line per error, then a total).
fn refused_import(rv: &Rv, file: &std::path::Path) -> (Option<i32>, String) {
    let out = rv.run(&["lineup", "import", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stderr.contains("nothing imported"), "{stderr}");
    (out.status.code(), stderr)
}

// contract: CLI-062
fn lineup_verbs_speak_json(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let generated = rv.json(&["lineup", "generate", "--channels", "2", "--seed", "7"]);
    assert_eq!(generated["channels"], 2);
    assert_eq!(generated["seed"], 7);
    assert!(generated["file"].is_null());
    let toml = generated["toml"].as_str().unwrap().to_string();
    let file = home.join("lineup.toml");
    let path = file.to_str().unwrap();
    let written = rv.json(&[
        "lineup",
        "generate",
        "--channels",
        "2",
        "--seed",
        "7",
        "--out",
        path,
    ]);
    assert_eq!(written["file"], path);
    assert!(written.get("toml").is_none());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), toml);

    let dry = rv.json(&["lineup", "import", path, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["channels"], 2);
    assert_eq!(
        rv.json(&["lineup", "export"])["channels"],
        0,
        "a dry run imports nothing"
    );
    let imported = rv.json(&["lineup", "import", path]);
    assert_eq!(imported["dry_run"], false);
    assert_eq!(imported["channels"], 2);
    let exported = rv.json(&["lineup", "export"]);
    assert_eq!(exported["channels"], 2);
    assert!(exported["toml"].as_str().unwrap().contains("[[channel]]"));
    let out = home.join("export.toml");
    let to_file = rv.json(&["lineup", "export", "--output", out.to_str().unwrap()]);
    assert_eq!(to_file["file"], out.to_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        exported["toml"].as_str().unwrap()
    );
}

// contract: CLI-063
fn migrate_has_a_dry_run(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let dry = rv.json(&["db", "migrate", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        dry["would_apply"].as_array().unwrap().len(),
        shipped,
        "{dry}"
    );
    assert_eq!(rv.json(&["db", "status"])[0]["state"], "pending");
    assert!(rv
        .ok(&["db", "migrate", "--dry-run"])
        .contains(&format!("would apply {shipped} migration")));
    rv.ok(&["db", "migrate"]);
    let none = rv.json(&["db", "migrate", "--dry-run"]);
    assert_eq!(none["would_apply"], serde_json::json!([]));
}

// contract: CLI-064
fn ids_are_slugs_of_at_most_64_characters(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let long = "a".repeat(65);
    let max = "b".repeat(64);
    let add = |id: &str| {
        vec![
            "channel",
            "add",
            id,
            "--number",
            "2",
            "--name",
            "Retro",
            "--timezone",
            "UTC",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let args = add(&long);
    let refused = rv.bad(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(refused.contains("64"), "{refused}");
    let args = add(&max);
    rv.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let source = rv.bad(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        "/tmp",
        "--id",
        &long,
    ]);
    assert!(source.contains("64"), "{source}");
    let program = rv.bad(&["program", "add", &long, "--series", "Show"]);
    assert!(program.contains("64"), "{program}");
    let file = home.write(
        "long.toml",
        &format!(
            "[[asset]]\nid = \"{long}\"\nkind = \"movie\"\ntitle = \"T\"\nduration_ms = 1000\n"
        ),
    );
    let (code, stderr) = refused_import(&rv, &file);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("at most 64 characters"), "{stderr}");
}

// contract: CLI-065
fn nul_characters_are_refused(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let demo = std::fs::read_to_string(DEMO).unwrap();
    let poisoned = demo.replacen("title = \"", "title = \"nul\\u0000", 1);
    assert_ne!(poisoned, demo);
    let file = home.write("nul.toml", &poisoned);
    let refused = rv.bad(&["lineup", "import", file.to_str().unwrap()]);
    assert!(refused.contains("NUL"), "{refused}");
    assert_eq!(
        rv.json(&["lineup", "export"])["assets"],
        0,
        "nothing stored"
    );
    let mut store = retrovue::store::open(db.url()).unwrap();
    let mut lineup = retrovue_core::lineup::parse_lineup(&demo, "demo").unwrap();
    let asset = lineup.catalog.assets.values_mut().next().unwrap();
    asset.description = Some("a\0b".into());
    let error = store.import_lineup(&lineup).unwrap_err();
    assert_eq!(error.kind, retrovue::store::StoreErrorKind::BadInput);
    assert!(error.message.contains("NUL"), "{error}");
}

// contract: CLI-066
fn durations_and_timeouts_are_bounded(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    for timeout in ["-5s", "0", "99999999999999999m", "9223372036854775807s"] {
        let flag = format!("--timeout={timeout}");
        let refused = rv.bad(&["enricher", "add", "ffprobe", &flag]);
        assert!(refused.contains("--timeout"), "{timeout}: {refused}");
    }
    rv.ok(&["enricher", "add", "ffprobe", "--timeout", "90s"]);
    rv.ok(&["lineup", "import", DEMO]);
    for duration in ["-1", "0", "99999999999999:00:00", "999999999999999999999"] {
        let flag = format!("--duration={duration}");
        let refused = rv.bad(&["asset", "update", "maple-street-s01e01", &flag]);
        assert!(refused.contains("--duration"), "{duration}: {refused}");
    }
}

// contract: CLI-067
fn a_failed_migration_names_itself_not_its_sql(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    rv.ok(&["db", "migrate"]);
    raw_sql(db.url(), "DELETE FROM schema_migrations WHERE version = 3");
    let out = rv.run(&["db", "migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0003_output_profile"), "{stderr}");
    assert!(stderr.contains("output_profile"), "{stderr}");
    assert!(!stderr.contains("ALTER TABLE"), "{stderr}");
    assert!(!stderr.contains("RetroVue schema"), "{stderr}");
}

// contract: CLI-062
fn source_tokens_are_never_printed(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let secret = "s3cr3t-t0ken";
    let added = rv.json(&[
        "source",
        "add",
        "--kind",
        "plex",
        "--url",
        "http://plex.invalid:32400",
        "--token",
        secret,
        "--id",
        "plex",
    ]);
    assert!(!added.to_string().contains(secret), "{added}");
    assert_eq!(added["source"]["config"]["token"], "<redacted>");
    for args in [
        &["source", "list"][..],
        &["source", "show", "plex"],
        &["source", "update", "plex", "--name", "Plex"],
    ] {
        let out = rv.json(args);
        assert!(!out.to_string().contains(secret), "{args:?}: {out}");
        assert!(!rv.ok(args).contains(secret), "{args:?}");
    }
    // The token is still stored and used.
    let stored = retrovue::store::open(db.url())
        .unwrap()
        .sources(Some("plex"))
        .unwrap();
    assert_eq!(stored[0].config.token.as_deref(), Some(secret));
}

// contract: CLI-070
fn dates_are_limited_to_1970_to_9999(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = rv(db, &home);
    let demo = std::fs::read_to_string(DEMO).unwrap();
    let early = demo.replacen(
        "  name = \"Weekdays\"\n",
        "  name = \"Weekdays\"\n  start_date = \"1969-12-31\"\n",
        1,
    );
    assert_ne!(early, demo);
    let file = home.write("early.toml", &early);
    let (code, stderr) = refused_import(&rv, &file);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("\"1969-12-31\" is outside the years 1970–9999"),
        "{stderr}"
    );
    rv.ok(&["lineup", "import", DEMO]);
    for from in ["1969-12-31T23:00:00Z", "0001-01-01T00:00:00Z"] {
        let refused = rv.bad(&["playlog", "show", "--channel", "retro-one", "--from", from]);
        assert!(refused.contains("--from"), "{refused}");
    }
    let refused = rv.bad(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "1969-12-31",
    ]);
    assert!(refused.contains("1970"), "{refused}");
}

macro_rules! papercuts {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn lineup_json() {
                lineup_verbs_speak_json(&$make);
            }

            #[test]
            fn migrate_dry_run() {
                migrate_has_a_dry_run(&$make);
            }

            #[test]
            fn slug_ids() {
                ids_are_slugs_of_at_most_64_characters(&$make);
            }

            #[test]
            fn nul() {
                nul_characters_are_refused(&$make);
            }

            #[test]
            fn durations() {
                durations_and_timeouts_are_bounded(&$make);
            }

            #[test]
            fn failed_migration() {
                a_failed_migration_names_itself_not_its_sql(&$make);
            }

            #[test]
            fn dates() {
                dates_are_limited_to_1970_to_9999(&$make);
            }

            #[test]
            fn tokens() {
                source_tokens_are_never_printed(&$make);
            }
        }
    };
}

papercuts!(sqlite, TestDb::sqlite());
papercuts!(postgres, TestDb::postgres());

// contract: CLI-069
#[test]
fn a_missing_postgres_database_is_named_as_such() {
    let db = TestDb::postgres();
    let url = db.url();
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/rv_no_such_database");
    let home = TempDir::new("rvhome-");
    let out = Rv::new(&missing, &home.path).run(&["db", "status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database \"rv_no_such_database\" does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

// contract: CLI-068
#[test]
fn serve_does_not_import_the_demo_over_media() {
    let home = TempDir::new("rv-serve");
    let db = format!("sqlite://{}", home.join("retrovue.db").display());
    let cli = Rv::new(&db, &home.path);
    let media = home.write(
        "media.toml",
        "[[asset]]\nid = \"my-movie\"\nkind = \"movie\"\ntitle = \"Mine\"\nduration_ms = 5400000\n",
    );
    cli.ok(&["lineup", "import", media.to_str().unwrap()]);
    let mut daemon = support::daemon::Daemon::start_in(home, &["--no-build"]);
    let (status, m3u) = daemon.get("/channellist.m3u");
    assert_eq!(status, 200);
    assert!(!m3u.contains("Retro One"), "{m3u}");
    assert_eq!(daemon.log_count("serving no channels (not the demo)"), 1);
    daemon.sigterm();
    let home = daemon.kill();
    let lineup = retrovue::store::open(&format!("sqlite://{}", home.join("retrovue.db").display()))
        .unwrap()
        .load_lineup()
        .unwrap();
    assert!(lineup.channels.is_empty());
    assert_eq!(
        lineup.catalog.assets.len(),
        1,
        "the demo's assets were not imported"
    );
}
