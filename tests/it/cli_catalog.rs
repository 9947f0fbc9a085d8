//! Contract tests of the catalog commands — source, collection, enricher, asset — on the real
//! binary: success, `--json`, `--dry-run` and bad input, plus idempotent re-ingest. Media trees
//! are empty files with sidecar durations (no probe needed).

use crate::support;
use crate::support_cli;

use support::{raw_sql, TempDir, TestDb};
use support_cli::{fake_video, Rv};

struct Fixture {
    _home: TempDir,
    media: TempDir,
    rv: Rv,
}

fn fixture(db: &TestDb) -> Fixture {
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
    Fixture {
        _home: home,
        media,
        rv,
    }
}

fn root(f: &Fixture) -> &str {
    f.media.path.to_str().unwrap()
}

fn add_and_discover(f: &Fixture) {
    f.rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root(f),
        "--id",
        "tv",
    ]);
    f.rv.ok(&["source", "discover", "tv"]);
}

fn count(value: &serde_json::Value) -> usize {
    value.as_array().unwrap().len()
}

fn asset_by_key(rv: &Rv, key: &str) -> serde_json::Value {
    let all = rv.json(&["asset", "list", "--include-deleted"]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["canonical_key"] == key)
        .unwrap_or_else(|| panic!("no asset with key {key}"))
        .clone()
}

// contract: CLI-010
// contract: CLI-001
// contract: CLI-003
// contract: CLI-002
fn sources(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    let dry = rv.json(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root(&f),
        "--id",
        "tv",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        count(&rv.json(&["source", "list"])),
        0,
        "dry run wrote nothing"
    );
    let text = rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root(&f),
        "--id",
        "tv",
        "--name",
        "TV",
    ]);
    assert_eq!(text.trim(), "added source tv (filesystem)");
    let list = rv.json(&["source", "list"]);
    assert_eq!(list[0]["id"], "tv");
    assert_eq!(list[0]["config"]["paths"][0], root(&f));
    assert!(rv
        .bad(&[
            "source",
            "add",
            "--kind",
            "filesystem",
            "--path",
            root(&f),
            "--id",
            "tv"
        ])
        .contains("already exists"));
    assert!(rv
        .bad(&[
            "source",
            "add",
            "--kind",
            "filesystem",
            "--path",
            "/no/such/dir"
        ])
        .contains("/no/such/dir does not exist"));
    assert!(rv
        .bad(&[
            "source",
            "add",
            "--kind",
            "ftp",
            "--path",
            root(&f),
            "--id",
            "x"
        ])
        .contains("unknown source kind \"ftp\""));
    assert!(rv
        .bad(&["source", "add", "--kind", "plex", "--url", "plex.local"])
        .contains("--url"));
    assert!(rv
        .bad(&[
            "source",
            "add",
            "--kind",
            "filesystem",
            "--path",
            root(&f),
            "--id",
            "Bad Id"
        ])
        .contains("not a slug"));
    rv.ok(&["source", "update", "tv", "--name", "Television"]);
    let shown = rv.json(&["source", "show", "tv"]);
    assert_eq!(shown["source"]["name"], "Television");
    assert!(rv
        .bad(&["source", "show", "nope"])
        .contains("unknown source \"nope\""));
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "plex",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--id",
        "plex",
    ]);
    // contract: CLI-004
    let refused = rv.bad(&["source", "delete", "plex"]);
    assert!(refused.contains("pass --yes"), "{refused}");
    assert_eq!(
        count(&rv.json(&["source", "list"])),
        2,
        "refusal changed nothing"
    );
    rv.ok(&["source", "delete", "plex", "--dry-run"]);
    assert_eq!(count(&rv.json(&["source", "list"])), 2);
    rv.ok(&["source", "delete", "plex", "--yes"]);
    assert_eq!(count(&rv.json(&["source", "list"])), 1);
}

// contract: CLI-011
// contract: CLI-012
fn collections(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root(&f),
        "--id",
        "tv",
    ]);
    let dry = rv.json(&["source", "discover", "tv", "--dry-run"]);
    assert_eq!(dry["collections"][0]["id"], "tv");
    assert_eq!(count(&rv.json(&["collection", "list"])), 0);
    rv.ok(&["source", "discover", "tv"]);
    let list = rv.json(&["collection", "list", "--source", "tv"]);
    assert_eq!(count(&list), 1);
    assert_eq!(list[0]["ingest_enabled"], true);
    rv.ok(&["collection", "update", "tv", "--ingest", "off", "--dry-run"]);
    assert_eq!(
        rv.json(&["collection", "show", "tv"])["collection"]["ingest_enabled"],
        true
    );
    rv.ok(&["collection", "update", "tv", "--ingest", "off"]);
    rv.ok(&["source", "discover", "tv"]);
    assert_eq!(
        rv.json(&["collection", "show", "tv"])["collection"]["ingest_enabled"],
        false,
        "discovering again keeps the flag"
    );
    assert_eq!(
        count(&rv.json(&["collection", "list"])),
        1,
        "and the collection"
    );
    assert!(rv
        .bad(&["collection", "update", "tv", "--ingest", "maybe"])
        .contains("--ingest"));
    assert!(rv
        .bad(&["collection", "show", "nope"])
        .contains("unknown collection"));
    // contract: CLI-013
    let off = rv.bad(&["collection", "ingest", "tv"]);
    assert!(off.contains("--ingest on"), "{off}");
    let none = rv.json(&["collection", "ingest", "--all"])["collections"].clone();
    assert_eq!(count(&none), 0, "--all skips collections with ingest off");
    rv.ok(&["collection", "update", "tv", "--ingest", "on"]);
    let all = rv.json(&["collection", "ingest", "--all"])["collections"].clone();
    assert_eq!(all[0]["inserted"], 3);
    let shown = rv.json(&["collection", "show", "tv"]);
    assert_eq!(shown["assets"], 3);
    assert_eq!(shown["ready"], 3);
    assert_eq!(shown["schedulable"], 0, "nothing approved yet");
    // contract: CLI-014
    rv.bad(&["collection", "wipe", "tv"]);
    let dry = rv.json(&["collection", "wipe", "tv", "--dry-run"]);
    assert_eq!(dry["assets"], 3);
    assert_eq!(count(&rv.json(&["asset", "list"])), 3);
    rv.ok(&["collection", "wipe", "tv", "--yes"]);
    assert_eq!(count(&rv.json(&["asset", "list", "--include-deleted"])), 0);
}

// contract: CLI-015
fn enrichers(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    assert_eq!(count(&rv.json(&["enricher", "list"])), 0);
    rv.ok(&[
        "enricher",
        "add",
        "ffprobe",
        "--timeout",
        "1500ms",
        "--dry-run",
    ]);
    assert_eq!(count(&rv.json(&["enricher", "list"])), 0);
    let added = rv.json(&["enricher", "add", "ffprobe", "--timeout", "1500ms"]);
    assert_eq!(added["enricher"]["timeout_ms"], 1500);
    assert!(rv
        .bad(&["enricher", "add", "ffprobe"])
        .contains("already exists"));
    assert!(rv
        .bad(&["enricher", "add", "mediainfo"])
        .contains("unknown enricher kind"));
    assert!(rv
        .bad(&[
            "enricher",
            "add",
            "ffprobe",
            "--id",
            "slow",
            "--timeout",
            "soon"
        ])
        .contains("--timeout"));
    rv.bad(&["enricher", "remove", "ffprobe"]);
    rv.ok(&["enricher", "remove", "ffprobe", "--yes"]);
    assert!(rv
        .bad(&["enricher", "remove", "ffprobe", "--yes"])
        .contains("unknown enricher"));
}

// contract: CLI-016
// contract: ASSET-006
// contract: ASSET-008
// contract: ASSET-009
fn assets(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    add_and_discover(&f);
    rv.ok(&["collection", "ingest", "tv"]);
    assert_eq!(
        count(&rv.json(&["asset", "list", "--kind", "commercial"])),
        1
    );
    assert_eq!(count(&rv.json(&["asset", "list", "--series", "Show"])), 2);
    assert_eq!(count(&rv.json(&["asset", "list", "--approved", "no"])), 3);
    assert_eq!(
        count(&rv.json(&["asset", "list", "--collection", "tv", "--state", "ready"])),
        3
    );
    assert!(rv
        .bad(&["asset", "list", "--kind", "sitcom"])
        .contains("unknown kind \"sitcom\""));
    let one = asset_by_key(rv, "Show/Season 01/Show - S01E01 - One.mkv");
    let id = one["id"].as_str().unwrap().to_string();
    let shown = rv.json(&["asset", "show", &id]);
    assert_eq!(shown["schedulable"], false);
    rv.ok(&["asset", "approve", &id, "--dry-run"]);
    assert_eq!(rv.json(&["asset", "show", &id])["asset"]["approved"], false);
    rv.ok(&["asset", "approve", &id]);
    assert_eq!(rv.json(&["asset", "show", &id])["schedulable"], true);
    assert!(rv.bad(&["asset", "approve"]).contains("name asset ids"));
    rv.ok(&[
        "asset",
        "update",
        &id,
        "--title",
        "The First",
        "--chapters",
        "400000,800000",
    ]);
    let updated = rv.json(&["asset", "show", &id]);
    assert_eq!(updated["asset"]["title"], "The First");
    assert_eq!(
        updated["asset"]["approved"], true,
        "editorial edits keep approval"
    );
    assert!(rv
        .bad(&["asset", "update", &id, "--state", "enriching"])
        .contains("ingest only"));
    assert!(rv
        .bad(&["asset", "update", &id, "--chapters", "9999999"])
        .contains("not strictly inside"));
    assert!(rv
        .bad(&["asset", "update", &id, "--duration", "soon"])
        .contains("--duration"));
    rv.ok(&["asset", "update", &id, "--duration", "00:22:30"]);
    let changed = rv.json(&["asset", "show", &id]);
    assert_eq!(changed["asset"]["duration_ms"], 1_350_000);
    assert_eq!(
        changed["asset"]["approved"], false,
        "a new runtime needs a new approval"
    );
    rv.ok(&["asset", "approve", &id]);
    rv.ok(&["asset", "retire", &id]);
    let retired = rv.json(&["asset", "show", &id]);
    assert_eq!(retired["asset"]["state"], "retired");
    assert_eq!(retired["schedulable"], false);
    assert!(rv.bad(&["asset", "approve", &id]).contains("retired"));
    rv.ok(&["collection", "ingest", "tv"]);
    assert_eq!(
        rv.json(&["asset", "show", &id])["asset"]["state"],
        "retired",
        "retirement outlives re-ingest"
    );
    assert!(rv
        .bad(&["asset", "show", "nope"])
        .contains("unknown asset \"nope\""));
}

// contract: ASSET-002
// contract: ASSET-003
// contract: ASSET-004
// contract: ASSET-007
fn reingest(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    fake_video(&f.media.path, "Movies/Heat (1995).mkv", 6_000_000);
    fake_video(&f.media.path, "movies/Heat (1995).mkv", 6_000_000);
    add_and_discover(&f);
    let dry = rv.json(&["collection", "ingest", "tv", "--dry-run"])["collections"].clone();
    assert_eq!(dry[0]["inserted"], 5);
    assert_eq!(
        count(&rv.json(&["asset", "list"])),
        0,
        "dry run wrote nothing"
    );
    let first = rv.json(&["collection", "ingest", "tv"])["collections"].clone();
    assert_eq!(first[0]["inserted"], 5);
    let upper = asset_by_key(rv, "Movies/Heat (1995).mkv");
    let lower = asset_by_key(rv, "movies/Heat (1995).mkv");
    assert_ne!(
        upper["id"], lower["id"],
        "keys differing in case are two assets"
    );
    rv.ok(&["asset", "approve", "--collection", "tv"]);
    let before = rv.json(&["asset", "list"]);

    let again = rv.json(&["collection", "ingest", "tv"])["collections"].clone();
    assert_eq!(
        (
            again[0]["inserted"].as_i64(),
            again[0]["updated"].as_i64(),
            again[0]["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(5))
    );
    let after = rv.json(&["asset", "list"]);
    assert_eq!(before, after, "a no-change re-ingest changes nothing");

    // Media change: new size and duration → same id, approval reset.
    let two = "Show/Season 01/Show - S01E02 - Two.mkv";
    let two_before = asset_by_key(rv, two);
    std::fs::write(f.media.join(two), b"longer content now").unwrap();
    std::fs::write(
        f.media.join(&format!("{two}.retrovue.json")),
        "{\"duration_ms\": 1330000}",
    )
    .unwrap();
    // Editorial change only: the sidecar retitles the spot, its file is untouched.
    let spot = "commercials/Spot.mp4";
    std::fs::write(
        f.media.join(&format!("{spot}.retrovue.json")),
        "{\"duration_ms\": 30000, \"title\": \"Cola\"}",
    )
    .unwrap();
    // Vanished file.
    let one = "Show/Season 01/Show - S01E01 - One.mkv";
    std::fs::remove_file(f.media.join(one)).unwrap();
    let changed = rv.json(&["collection", "ingest", "tv"])["collections"].clone();
    assert_eq!(changed[0]["updated"], 2, "{changed}");
    assert_eq!(changed[0]["vanished"], 1);
    assert_eq!(changed[0]["inserted"], 0);
    let two_after = asset_by_key(rv, two);
    assert_eq!(two_after["id"], two_before["id"]);
    assert_eq!(two_after["duration_ms"], 1_330_000);
    assert_eq!(two_after["approved"], false, "changed media loses approval");
    let spot_after = asset_by_key(rv, spot);
    assert_eq!(spot_after["title"], "Cola");
    assert_eq!(spot_after["approved"], true, "a retitle keeps approval");
    let gone = asset_by_key(rv, one);
    assert_eq!(gone["deleted"], true);
    assert!(gone["deleted_at_ms"].as_i64().unwrap() > 0);
    assert!(
        rv.json(&["asset", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["canonical_key"] != one),
        "deleted hidden by default"
    );
    assert!(rv
        .bad(&["asset", "approve", gone["id"].as_str().unwrap()])
        .contains("vanished"));
    assert_eq!(
        count(&rv.json(&["asset", "list", "--include-deleted"])),
        5,
        "nothing duplicated"
    );
    // The file comes back.
    fake_video(&f.media.path, one, 1_320_000);
    let back = rv.json(&["collection", "ingest", "tv"])["collections"].clone();
    assert_eq!(back[0]["inserted"], 0);
    assert_eq!(asset_by_key(rv, one)["deleted"], false);
    assert_eq!(count(&rv.json(&["asset", "list", "--include-deleted"])), 5);
}

// contract: ASSET-005
fn without_enricher(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    std::fs::write(
        f.media.join("Show/Season 01/Show - S01E03 - Three.mkv"),
        b"",
    )
    .unwrap();
    add_and_discover(&f);
    let report = rv.json(&["collection", "ingest", "tv"])["collections"].clone();
    assert_eq!(report[0]["not_ready"][0]["reason"], "duration unknown and no ingest enricher is configured (add one: retrovue enricher add ffprobe)");
    let new = rv.json(&["asset", "list", "--state", "new"]);
    assert_eq!(count(&new), 1);
    assert_eq!(new[0]["duration_ms"], 0);
    assert!(rv
        .bad(&[
            "asset",
            "update",
            new[0]["id"].as_str().unwrap(),
            "--state",
            "ready"
        ])
        .contains("duration is unknown"));
}

// contract: CLI-005
fn refusals_over_history(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    add_and_discover(&f);
    rv.ok(&["collection", "ingest", "tv"]);
    let spot = asset_by_key(rv, "commercials/Spot.mp4");
    raw_sql(&rv.db, &format!(
        "INSERT INTO channel (id, number, name, timezone, grid_block_minutes, block_start_offsets_json, \
         programming_day_start_minute, break_policy, interstitials_json, active, spot_cooldown_minutes) \
         VALUES ('c', '1', 'C', 'UTC', 30, '[0,30]', 360, 'end', '[]', TRUE, 30); \
         INSERT INTO as_run (channel_id, playlog_id, start_ms, end_ms, asset_id, kind, status) \
         VALUES ('c', 'e1', 0, 30000, '{}', 'commercial', 'aired');",
        spot["id"].as_str().unwrap()
    ));
    let wipe = rv.bad(&["collection", "wipe", "tv", "--yes"]);
    assert!(wipe.contains("history"), "{wipe}");
    assert!(rv
        .bad(&["source", "delete", "tv", "--yes"])
        .contains("history"));
    assert_eq!(count(&rv.json(&["asset", "list"])), 3, "nothing deleted");
}

// contract: CLI-006
fn no_progress_when_piped(db: &TestDb) {
    let f = fixture(db);
    for i in 0..210 {
        fake_video(&f.media.path, &format!("filler/Clip {i:03}.mp4"), 10_000);
    }
    add_and_discover(&f);
    let out = f.rv.run(&["collection", "ingest", "tv"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !out.stderr.contains(&b'\r'),
        "no progress bar without a terminal"
    );
    assert!(!out.stdout.contains(&b'\r'));
    assert!(String::from_utf8_lossy(&out.stdout).contains("213 discovered, 213 new"));
}

#[test]
fn sqlite_sources() {
    sources(&TestDb::sqlite());
}
#[test]
fn sqlite_collections() {
    collections(&TestDb::sqlite());
}
#[test]
fn sqlite_enrichers() {
    enrichers(&TestDb::sqlite());
}
#[test]
fn sqlite_assets() {
    assets(&TestDb::sqlite());
}
#[test]
fn sqlite_reingest() {
    reingest(&TestDb::sqlite());
}
#[test]
fn sqlite_without_enricher() {
    without_enricher(&TestDb::sqlite());
}
#[test]
fn sqlite_refusals_over_history() {
    refusals_over_history(&TestDb::sqlite());
}
#[test]
fn sqlite_no_progress_when_piped() {
    no_progress_when_piped(&TestDb::sqlite());
}
#[test]
fn postgres_collections() {
    collections(&TestDb::postgres());
}
#[test]
fn postgres_assets() {
    assets(&TestDb::postgres());
}
#[test]
fn postgres_reingest() {
    reingest(&TestDb::postgres());
}
#[test]
fn postgres_refusals_over_history() {
    refusals_over_history(&TestDb::postgres());
}
