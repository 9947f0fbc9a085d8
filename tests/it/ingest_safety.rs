//! Ingest that never loses a library, an asset or an edit: missing, unreadable or emptied roots
//! and unreadable folders delete nothing; moved files keep their asset (and the schedule its
//! place); operator edits survive re-ingest; a dry run reports what the real run does
//! (contracts INGEST-025..031, STORE-047/048, CLI-071..073). Through the real CLI on SQLite and
//! PostgreSQL, plus the reconcile itself where a real failure cannot be made (root reads every
//! folder).

use crate::support;
use crate::support_cli;
use crate::support_media;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::json;

use retrovue::ingest::filesystem::discover_root;
use retrovue::ingest::pipeline::{ingest_discovery, IngestOptions};
use retrovue::ingest::SkippedItem;
use retrovue::store::{self, AssetFilter, CatalogAsset, IngestWrite};
use support::{TempDir, TestDb};
use support_cli::Rv;
use support_media::make_clip;

/// A "video" of `bytes` bytes (never empty: moves are matched on size) with a sidecar duration.
fn video(root: &Path, relative: &str, bytes: usize, duration_ms: i64) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![b'v'; bytes]).unwrap();
    std::fs::write(
        sidecar(&path),
        format!("{{\"duration_ms\": {duration_ms}}}"),
    )
    .unwrap();
}

fn sidecar(path: &Path) -> std::path::PathBuf {
    let mut s = path.to_path_buf().into_os_string();
    s.push(".retrovue.json");
    s.into()
}

/// Moves a file and its sidecar (when it has one), creating folders.
fn mv(root: &Path, from: &str, to: &str) {
    let (from, to) = (root.join(from), root.join(to));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::rename(&from, &to).unwrap();
    if sidecar(&from).exists() {
        std::fs::rename(sidecar(&from), sidecar(&to)).unwrap();
    }
}

struct Fixture {
    _home: TempDir,
    media: TempDir,
    rv: Rv,
}

const E1: &str = "Show/Season 01/Show - S01E01 - One.mkv";
const E2: &str = "Show/Season 01/Show - S01E02 - Two.mkv";
const E3: &str = "Show/Season 01/Show - S01E03 - Three.mkv";
const SPOT: &str = "commercials/Spot.mp4";

/// A library `tv` (root `media/tv`) with three episodes and a spot, ingested and approved.
fn ingested(db: &TestDb) -> Fixture {
    let home = TempDir::new("rvhome-");
    let media = TempDir::new("rvmedia-");
    let root = media.join("tv");
    video(&root, E1, 101, 1_320_000);
    video(&root, E2, 102, 1_320_000);
    video(&root, E3, 103, 1_320_000);
    video(&root, SPOT, 30, 30_000);
    let rv = Rv::new(db.url(), &home.path);
    let f = Fixture {
        _home: home,
        media,
        rv,
    };
    let r = root.to_str().unwrap();
    f.rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        r,
        "--id",
        "tv",
    ]);
    f.rv.ok(&["source", "discover", "tv"]);
    let first = f.rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(first["inserted"], 4, "{first}");
    f.rv.ok(&["asset", "approve", "--collection", "tv"]);
    f
}

fn root(f: &Fixture) -> std::path::PathBuf {
    f.media.join("tv")
}

fn assets(rv: &Rv) -> serde_json::Value {
    rv.json(&["asset", "list", "--include-deleted"])
}

fn by_key(rv: &Rv, key: &str) -> serde_json::Value {
    assets(rv)
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["canonical_key"] == key)
        .unwrap_or_else(|| panic!("no asset with key {key}"))
        .clone()
}

/// Runs and asserts exit 1 (runtime refusal); stderr.
fn refused(rv: &Rv, args: &[&str]) -> String {
    let out = rv.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "retrovue {args:?} should exit 1: {stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

// contract: INGEST-025
// contract: INGEST-026
// contract: CLI-071
fn roots_that_delete_nothing(db: &TestDb) {
    let f = ingested(db);
    let rv = &f.rv;
    let root = root(&f);
    let r = root.display().to_string();
    let before = assets(rv);
    let shown = rv.json(&["collection", "show", "tv"]);

    // Unmounted: the folder is there, its files are not.
    let away = f.media.join("away");
    std::fs::rename(&root, &away).unwrap();
    std::fs::create_dir(&root).unwrap();
    for args in [
        &["collection", "ingest", "tv"][..],
        &["collection", "ingest", "tv", "--dry-run"],
        &["collection", "ingest", "--all"],
    ] {
        let err = refused(rv, args);
        assert!(
            err.contains(&format!("root {r} is empty while 4 assets are stored")),
            "{err}"
        );
        assert!(err.contains("--allow-empty"), "{err}");
    }
    // Missing root, and a root that is a file.
    std::fs::remove_dir(&root).unwrap();
    let err = refused(rv, &["collection", "ingest", "tv"]);
    assert!(err.contains(&format!("root {r} is missing")), "{err}");
    std::fs::write(&root, b"not a folder").unwrap();
    let err = refused(rv, &["collection", "ingest", "tv", "--dry-run"]);
    assert!(err.contains(&format!("root {r} is not a folder")), "{err}");
    assert_eq!(assets(rv), before, "a refused ingest changes nothing");
    assert_eq!(
        rv.json(&["collection", "show", "tv"]),
        shown,
        "not even the last ingest time"
    );

    // Back in place: nothing was lost, a re-ingest is a no-change run, approval intact.
    std::fs::remove_file(&root).unwrap();
    std::fs::rename(&away, &root).unwrap();
    let again = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(
        (again["unchanged"].as_i64(), again["vanished"].as_i64()),
        (Some(4), Some(0))
    );
    assert!(assets(rv)
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["approved"] == true && a["deleted"] == false));

    // The operator confirms: an emptied library is marked deleted (a dry run shows it first).
    std::fs::rename(&root, &away).unwrap();
    std::fs::create_dir(&root).unwrap();
    let dry = rv.json(&["collection", "ingest", "tv", "--allow-empty", "--dry-run"]);
    assert_eq!(dry["collections"][0]["vanished"], 4, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(assets(rv), before, "the dry run wrote nothing");
    let gone = rv.json(&["collection", "ingest", "tv", "--allow-empty"]);
    assert_eq!(gone["collections"][0]["vanished"], 4);
    assert!(assets(rv)
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["deleted"] == true));
    // Once everything is deleted, an empty root is no surprise any more.
    rv.ok(&["collection", "ingest", "tv"]);
    // A missing root confirmed likewise.
    std::fs::remove_dir(&root).unwrap();
    rv.ok(&["collection", "ingest", "tv", "--allow-empty"]);
}

/// The reconcile of `tv` for a discovery of its root in which the folder `Show` could not be
/// read, as the walker reports it (running as root, no folder can be made unreadable).
fn discovery_without_show(root: &Path) -> retrovue::ingest::Discovery {
    let mut discovery = discover_root(root).unwrap();
    discovery
        .items
        .retain(|i| !i.canonical_key.starts_with("Show/"));
    discovery.skipped.push(SkippedItem {
        location: root.join("Show").display().to_string(),
        reason: "cannot read folder: Permission denied (os error 13)".into(),
    });
    discovery
}

// contract: INGEST-027
fn unreadable_folder_keeps_its_assets(db: &TestDb) {
    let f = ingested(db);
    let root = root(&f);
    let mut store = store::open(f.rv.db.as_str()).unwrap();
    let collection = store.collections(None, Some("tv")).unwrap().pop().unwrap();
    let before = store.catalog_assets(&AssetFilter::default()).unwrap();
    let options = |dry_run| IngestOptions {
        now: 4_000_000_000_000,
        dry_run,
        ..IngestOptions::default()
    };
    // Without the skipped folder, the same discovery would delete the three episodes: the
    // folder's entry is what keeps them.
    let mut plain = discover_root(&root).unwrap();
    plain
        .items
        .retain(|i| !i.canonical_key.starts_with("Show/"));
    let would = ingest_discovery(
        store.as_mut(),
        &collection,
        plain,
        &[],
        options(true),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(would.vanished, 3);

    let report = ingest_discovery(
        store.as_mut(),
        &collection,
        discovery_without_show(&root),
        &[],
        options(false),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(report.vanished, 0, "{report:?}");
    assert_eq!(report.unchanged, 1);
    let kept: Vec<&str> = report
        .unreadable
        .iter()
        .map(|u| u.location.as_str())
        .collect();
    assert_eq!(kept, [E1, E2, E3]);
    assert!(
        report.unreadable[0]
            .reason
            .contains("Show: cannot read folder"),
        "{:?}",
        report.unreadable
    );
    let after = store.catalog_assets(&AssetFilter::default()).unwrap();
    assert_eq!(after, before, "kept as they were");
    drop(store);
    // Readable again: the next run reconciles as usual.
    let again = f.rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(again["unchanged"], 4);
    assert_eq!(again["unreadable"], serde_json::json!([]));
}

fn build(rv: &Rv, date: &str) {
    rv.ok(&[
        "schedule",
        "build",
        "--channel",
        "retro",
        "--from",
        date,
        "--now",
        "2030-01-01T00:00:00Z",
    ]);
}

/// `(start, asset)` of each guide row of a day.
fn guide(rv: &Rv, date: &str) -> Vec<(i64, String)> {
    rv.json(&["epg", "show", "--channel", "retro", "--from", date])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["start"].as_i64().unwrap(),
                r["asset"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

// contract: INGEST-028
// contract: CLI-073
fn moves_keep_the_asset(db: &TestDb) {
    let f = ingested(db);
    let rv = &f.rv;
    let root = root(&f);
    // A real clip, probed: its move is matched by size and mtime, without probing again.
    make_clip(&root.join("Movies/Heat.mkv"), 1);
    rv.ok(&["enricher", "add", "ffprobe", "--timeout", "20s"]);
    let probed = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(
        (probed["inserted"].as_i64(), probed["enriched"].as_i64()),
        (Some(1), Some(1))
    );
    rv.ok(&["asset", "approve", "--collection", "tv"]);
    let heat = by_key(rv, "Movies/Heat.mkv");
    let two = by_key(rv, E2);
    rv.ok(&["asset", "retire", by_key(rv, E3)["id"].as_str().unwrap()]);

    rv.ok(&[
        "program", "add", "show", "--series", "Show", "--title", "The Show",
    ]);
    rv.ok(&[
        "channel",
        "add",
        "retro",
        "--number",
        "2",
        "--name",
        "Retro",
        "--timezone",
        "UTC",
    ]);
    rv.ok(&["plan", "add", "--channel", "retro", "Daily"]);
    rv.ok(&[
        "zone",
        "add",
        "--channel",
        "retro",
        "--plan",
        "Daily",
        "All day",
        "--start",
        "06:00",
        "--end",
        "06:00",
        "--items",
        "show",
    ]);
    build(rv, "2030-01-07");
    build(rv, "2030-01-08");
    let next_day = guide(rv, "2030-01-08");
    assert!(
        next_day
            .iter()
            .any(|(_, a)| a == two["id"].as_str().unwrap()),
        "the episode airs on the next day: {next_day:?}"
    );

    // Renamed in place, moved to another folder, and a retired one moved too.
    mv(&root, E2, "Show/Season 01/Show - S01E02 - Two (1982).mkv");
    mv(&root, "Movies/Heat.mkv", "Films/Heat (1995).mkv");
    mv(&root, E3, "Show/Specials/Show - S01E03 - Three.mkv");
    let dry = rv.json(&["collection", "ingest", "tv", "--dry-run"])["collections"][0].clone();
    let report = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    let mut undry = dry.clone();
    undry["dry_run"] = serde_json::json!(false);
    assert_eq!(undry, report, "the dry run said what the run did");
    assert_eq!(report["inserted"], 0, "{report}");
    assert_eq!(report["vanished"], 0, "{report}");
    assert_eq!(report["enriched"], 0, "a moved file is not probed again");
    assert_eq!(report["updated"], 3);
    let moved: Vec<(String, String)> = report["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap().into(),
                m["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(moved.len(), 3, "{report}");
    assert!(moved.contains(&("Movies/Heat.mkv".into(), "Films/Heat (1995).mkv".into())));

    let two_after = by_key(rv, "Show/Season 01/Show - S01E02 - Two (1982).mkv");
    assert_eq!(two_after["id"], two["id"]);
    assert_eq!(two_after["approved"], true);
    assert!(two_after["path"]
        .as_str()
        .unwrap()
        .ends_with("Two (1982).mkv"));
    let heat_after = by_key(rv, "Films/Heat (1995).mkv");
    assert_eq!(heat_after["id"], heat["id"]);
    assert_eq!(heat_after["approved"], true);
    assert_eq!(heat_after["probe_json"], heat["probe_json"]);
    let three = by_key(rv, "Show/Specials/Show - S01E03 - Three.mkv");
    assert_eq!(three["state"], "retired", "retirement follows the file");
    assert_eq!(
        assets(rv).as_array().unwrap().len(),
        5,
        "nothing duplicated"
    );

    // The schedule keeps its place: the next day is built the same.
    build(rv, "2030-01-08");
    assert_eq!(guide(rv, "2030-01-08"), next_day);
    let text = rv.ok(&["collection", "ingest", "tv"]);
    assert!(text.contains("0 updated (0 moved)"), "{text}");

    // Not the same media: a new file of another size is a new asset, the old one is deleted.
    std::fs::remove_file(root.join(E1)).unwrap();
    std::fs::remove_file(sidecar(&root.join(E1))).unwrap();
    video(
        &root,
        "Show/Season 01/Show - S01E01 - One (recut).mkv",
        999,
        1_320_000,
    );
    let text = rv.ok(&["collection", "ingest", "tv"]);
    assert!(text.contains("1 new, 0 updated (0 moved)"), "{text}");
    assert!(text.contains("1 vanished"), "{text}");
    // Two candidates alike in all but name: the closer name wins, the other is deleted.
    video(
        &root,
        "Show/Season 02/Show - S02E01 - Alpha.mkv",
        500,
        1_320_000,
    );
    video(
        &root,
        "Show/Season 02/Show - S02E02 - Beta.mkv",
        500,
        1_320_000,
    );
    rv.ok(&["collection", "ingest", "tv"]);
    let beta = by_key(rv, "Show/Season 02/Show - S02E02 - Beta.mkv");
    std::fs::remove_file(root.join("Show/Season 02/Show - S02E01 - Alpha.mkv")).unwrap();
    mv(
        &root,
        "Show/Season 02/Show - S02E02 - Beta.mkv",
        "Show/Season 02/Beta.mkv",
    );
    let report = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(report["moved"][0]["id"], beta["id"], "{report}");
    assert_eq!(report["vanished"], 1);
    assert_eq!(report["inserted"], 0);

    // contract: INGEST-032
    // A copy (another mtime, no sidecar) is probed before matching: its duration vouches for it.
    let heat_now = by_key(rv, "Films/Heat (1995).mkv");
    let copy = root.join("Archive/Heat.mkv");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(root.join("Films/Heat (1995).mkv"), &copy).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3_600);
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(later)
        .unwrap();
    std::fs::remove_file(root.join("Films/Heat (1995).mkv")).unwrap();
    let dry = rv.json(&["collection", "ingest", "tv", "--dry-run"])["collections"][0].clone();
    let report = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    let mut undry = dry.clone();
    undry["dry_run"] = serde_json::json!(false);
    assert_eq!(undry, report, "the dry run said what the run did");
    assert_eq!(report["moved"][0]["id"], heat_now["id"], "{report}");
    assert_eq!(report["moved"][0]["to"], "Archive/Heat.mkv", "{report}");
    assert_eq!(report["probed"], 1, "the copy is probed once: {report}");
    assert_eq!(report["inserted"], 0, "{report}");
    assert_eq!(report["vanished"], 0, "{report}");
    let copied = by_key(rv, "Archive/Heat.mkv");
    assert_eq!(copied["id"], heat_now["id"]);
    assert_eq!(copied["approved"], true);
    // Without the early probe the copy would be a new, unapproved asset (size alone is no proof).
    let twin = root.join("Archive/Other.mkv");
    make_clip(&twin, 2);
    rv.ok(&["collection", "ingest", "tv"]);
    assert_eq!(by_key(rv, "Archive/Other.mkv")["approved"], false);
}

// contract: INGEST-030
// contract: STORE-047
// contract: CLI-072
fn edits_stick(db: &TestDb) {
    let f = ingested(db);
    let rv = &f.rv;
    let root = root(&f);
    let id = by_key(rv, E1)["id"].as_str().unwrap().to_string();
    assert_eq!(by_key(rv, E1)["edited_fields"], serde_json::json!([]));
    rv.ok(&[
        "asset",
        "update",
        &id,
        "--title",
        "The One",
        "--description",
        "Where it starts",
        "--rating",
        "TV-PG",
        "--genres",
        "Comedy,Drama",
        "--chapters",
        "600000",
    ]);
    let edited = rv.json(&["asset", "show", &id])["asset"].clone();
    assert_eq!(
        edited["edited_fields"],
        serde_json::json!(["chapters_ms", "description", "genres", "rating", "title"])
    );
    assert!(rv
        .ok(&["asset", "show", &id])
        .contains("chapters_ms, description, genres, rating, title"));
    // The sidecar now says other things, including fields the operator never touched.
    std::fs::write(
        sidecar(&root.join(E1)),
        r#"{"duration_ms": 1320000, "title": "Sidecar title", "description": "Sidecar text",
            "rating": "TV-14", "genres": ["Horror"], "year": 1982, "chapters_ms": [100000]}"#,
    )
    .unwrap();
    let report = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(report["updated"], 1, "{report}");
    let after = by_key(rv, E1);
    assert_eq!(after["title"], "The One");
    assert_eq!(after["description"], "Where it starts");
    assert_eq!(after["rating"], "TV-PG");
    assert_eq!(after["genres"], serde_json::json!(["Comedy", "Drama"]));
    assert_eq!(after["chapters_ms"], serde_json::json!([600000]));
    assert_eq!(after["year"], 1982, "an unedited field follows the ingest");
    assert_eq!(after["approved"], true);
    // A second run changes nothing more.
    let again = rv.json(&["collection", "ingest", "tv"])["collections"][0].clone();
    assert_eq!(again["unchanged"], 4, "{again}");

    // Forget the title edit: the sidecar's title returns, the other edits stay.
    let dry = rv.json(&[
        "asset",
        "update",
        &id,
        "--reset-edits",
        "title",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(by_key(rv, E1)["edited_fields"].as_array().unwrap().len(), 5);
    rv.ok(&["asset", "update", &id, "--reset-edits", "title"]);
    rv.ok(&["collection", "ingest", "tv"]);
    let reset = by_key(rv, E1);
    assert_eq!(reset["title"], "Sidecar title");
    assert_eq!(reset["rating"], "TV-PG");
    rv.ok(&["asset", "update", &id, "--reset-edits", "all"]);
    rv.ok(&["collection", "ingest", "tv"]);
    let all = by_key(rv, E1);
    assert_eq!(all["rating"], "TV-14");
    assert_eq!(all["chapters_ms"], serde_json::json!([100000]));
    assert_eq!(all["edited_fields"], serde_json::json!([]));
    let bad = rv.bad(&["asset", "update", &id, "--reset-edits", "duration"]);
    assert!(bad.contains("unknown field \"duration\""), "{bad}");
}

// contract: INGEST-031
fn dry_run_tells_the_truth(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let media = TempDir::new("rvmedia-");
    let root = media.join("lib");
    make_clip(&root.join("Show/Season 01/Show - S01E01 - Pilot.mkv"), 2);
    make_clip(&root.join("commercials/Spot.mp4"), 1);
    std::fs::write(
        root.join("Show/Season 01/Show - S01E02 - Broken.mkv"),
        b"not a video",
    )
    .unwrap();
    video(&root, "bumpers/Bump.mp4", 10, 5_000);
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root.to_str().unwrap(),
        "--id",
        "lib",
    ]);
    rv.ok(&["source", "discover", "lib"]);
    rv.ok(&["enricher", "add", "ffprobe", "--timeout", "20s"]);

    let compare = |label: &str| {
        let dry = rv.json(&["collection", "ingest", "lib", "--dry-run"]);
        assert_eq!(dry["dry_run"], true);
        let real = rv.json(&["collection", "ingest", "lib"]);
        assert_eq!(real["dry_run"], false);
        let strip = |doc: &serde_json::Value| {
            let mut c = doc["collections"].clone();
            for r in c.as_array_mut().unwrap() {
                r.as_object_mut().unwrap().remove("dry_run");
            }
            c
        };
        assert_eq!(strip(&dry), strip(&real), "{label}: dry run and run differ");
        let keys = |doc: &serde_json::Value| {
            doc["collections"][0]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&dry), keys(&real));
        real["collections"][0].clone()
    };
    let first = compare("first ingest");
    assert_eq!(first["inserted"], 4);
    assert_eq!(first["ready"], 3, "{first}");
    assert_eq!(first["not_ready"].as_array().unwrap().len(), 1);
    assert!(
        !first.to_string().contains("duration is 0"),
        "new files are probed in a dry run too: {first}"
    );
    // A new clip, a changed one, a vanished one.
    make_clip(&root.join("Show/Season 01/Show - S01E03 - Third.mkv"), 1);
    make_clip(&root.join("commercials/Spot.mp4"), 2);
    std::fs::remove_file(root.join("bumpers/Bump.mp4")).unwrap();
    let second = compare("changes");
    assert_eq!(
        (
            second["inserted"].as_i64(),
            second["updated"].as_i64(),
            second["vanished"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{second}"
    );
    assert_eq!(second["ready"], 3);
    compare("no change");
}

// contract: STORE-048
fn reconcile_is_one_transaction(db: &TestDb) {
    let f = ingested(db);
    let mut store = store::open(f.rv.db.as_str()).unwrap();
    let all = store.catalog_assets(&AssetFilter::default()).unwrap();
    let find = |key: &str| -> CatalogAsset {
        all.iter()
            .find(|a| a.canonical_key.as_deref() == Some(key))
            .unwrap()
            .clone()
    };
    // A move (new key and path), a deletion, then an update onto a key another asset holds.
    let mut moved = find(E1);
    moved.canonical_key = Some("Show/Moved.mkv".into());
    moved.asset.path = Some("/elsewhere/Moved.mkv".into());
    let mut clash = find(E2);
    clash.canonical_key = Some(E3.into());
    let write = IngestWrite {
        collection_id: "tv".into(),
        updates: vec![moved, clash],
        vanished: vec![find(SPOT).asset.id],
        now: 4_000_000_000_000,
        ..IngestWrite::default()
    };
    let err = store.apply_ingest(&write).unwrap_err().to_string();
    assert!(err.contains(&find(E2).asset.id), "{err}");
    assert_eq!(
        store.catalog_assets(&AssetFilter::default()).unwrap(),
        all,
        "nothing of the failed reconcile was written"
    );
    // Without the clash, the same write goes through whole.
    let mut ok = write.clone();
    ok.updates.pop();
    store.apply_ingest(&ok).unwrap();
    let after = store
        .catalog_assets(&AssetFilter {
            include_deleted: true,
            ..AssetFilter::default()
        })
        .unwrap();
    let moved = after
        .iter()
        .find(|a| a.asset.id == find(E1).asset.id)
        .unwrap();
    assert_eq!(moved.canonical_key.as_deref(), Some("Show/Moved.mkv"));
    assert!(after
        .iter()
        .any(|a| a.asset.id == find(SPOT).asset.id && a.asset.deleted));
}

/// A Plex-shaped server whose one section lists `items` (ratingKey, server file path) as they
/// are at each request; stops when dropped.
struct FakePlex {
    server: Arc<tiny_http::Server>,
    items: Arc<Mutex<Vec<(&'static str, &'static str)>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl FakePlex {
    fn start(items: Vec<(&'static str, &'static str)>) -> FakePlex {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let items = Arc::new(Mutex::new(items));
        let worker = {
            let (server, items) = (server.clone(), items.clone());
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    let path = request.url().split('?').next().unwrap().to_string();
                    let body = match path.as_str() {
                        "/library/sections" => json!({"MediaContainer": {"size": 1, "Directory": [
                            {"key": "1", "title": "TV", "type": "show",
                             "Location": [{"id": 1, "path": "/data/tv"}]}]}}),
                        "/library/sections/1/all" => {
                            let list: Vec<serde_json::Value> = items
                                .lock()
                                .unwrap()
                                .iter()
                                .enumerate()
                                .map(|(n, (key, file))| json!({
                                    "ratingKey": key, "type": "episode", "title": format!("Ep {key}"),
                                    "grandparentTitle": "Cheers", "parentIndex": 1, "index": n + 1,
                                    "duration": 1_320_000,
                                    "Media": [{"Part": [{"file": file, "size": 10}]}]}))
                                .collect();
                            json!({"MediaContainer": {"size": list.len(), "totalSize": list.len(),
                                "offset": 0, "Metadata": list}})
                        }
                        _ => json!({}),
                    };
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let _ = request.respond(
                        tiny_http::Response::from_string(body.to_string()).with_header(header),
                    );
                }
            })
        };
        FakePlex {
            server,
            items,
            worker: Some(worker),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }
}

impl Drop for FakePlex {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

// contract: INGEST-026
// contract: INGEST-028
fn plex_moves_and_empty_sections(db: &TestDb) {
    let plex = FakePlex::start(vec![
        ("101", "/data/tv/Cheers/S01E01.mkv"),
        ("102", "/data/tv/Cheers/S01E02.mkv"),
    ]);
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "plex",
        "--id",
        "plex",
        "--url",
        &plex.url(),
        "--token",
        "t",
    ]);
    rv.ok(&["source", "discover", "plex"]);
    rv.ok(&["collection", "update", "plex-tv", "--ingest", "on"]);
    rv.ok(&["collection", "ingest", "plex-tv"]);
    rv.ok(&["asset", "approve", "--collection", "plex-tv"]);
    let before = by_key(&rv, "101");
    // Moved on the server: same ratingKey, new path.
    *plex.items.lock().unwrap() = vec![
        ("101", "/data/tv/Cheers/Season 1/S01E01.mkv"),
        ("102", "/data/tv/Cheers/S01E02.mkv"),
    ];
    let report = rv.json(&["collection", "ingest", "plex-tv"])["collections"][0].clone();
    assert_eq!(
        (report["updated"].as_i64(), report["inserted"].as_i64()),
        (Some(1), Some(0))
    );
    let after = by_key(&rv, "101");
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["approved"], true);
    assert_eq!(after["path"], "/data/tv/Cheers/Season 1/S01E01.mkv");
    // The section answers empty: refused, nothing changed.
    let all = assets(&rv);
    plex.items.lock().unwrap().clear();
    let err = refused(&rv, &["collection", "ingest", "plex-tv"]);
    assert!(
        err.contains("root /data/tv is empty while 2 assets are stored"),
        "{err}"
    );
    assert_eq!(assets(&rv), all);
    let gone = rv.json(&["collection", "ingest", "plex-tv", "--allow-empty"]);
    assert_eq!(gone["collections"][0]["vanished"], 2);
}

#[test]
fn sqlite_roots_that_delete_nothing() {
    roots_that_delete_nothing(&TestDb::sqlite());
}
#[test]
fn postgres_roots_that_delete_nothing() {
    roots_that_delete_nothing(&TestDb::postgres());
}
#[test]
fn sqlite_unreadable_folder_keeps_its_assets() {
    unreadable_folder_keeps_its_assets(&TestDb::sqlite());
}
#[test]
fn postgres_unreadable_folder_keeps_its_assets() {
    unreadable_folder_keeps_its_assets(&TestDb::postgres());
}
#[test]
fn sqlite_moves_keep_the_asset() {
    moves_keep_the_asset(&TestDb::sqlite());
}
#[test]
fn postgres_moves_keep_the_asset() {
    moves_keep_the_asset(&TestDb::postgres());
}
#[test]
fn sqlite_edits_stick() {
    edits_stick(&TestDb::sqlite());
}
#[test]
fn postgres_edits_stick() {
    edits_stick(&TestDb::postgres());
}
#[test]
fn sqlite_dry_run_tells_the_truth() {
    dry_run_tells_the_truth(&TestDb::sqlite());
}
#[test]
fn postgres_dry_run_tells_the_truth() {
    dry_run_tells_the_truth(&TestDb::postgres());
}
#[test]
fn sqlite_reconcile_is_one_transaction() {
    reconcile_is_one_transaction(&TestDb::sqlite());
}
#[test]
fn postgres_reconcile_is_one_transaction() {
    reconcile_is_one_transaction(&TestDb::postgres());
}
#[test]
fn sqlite_plex_moves_and_empty_sections() {
    plex_moves_and_empty_sections(&TestDb::sqlite());
}
#[test]
fn postgres_plex_moves_and_empty_sections() {
    plex_moves_and_empty_sections(&TestDb::postgres());
}
