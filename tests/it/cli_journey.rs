//! The user journey with the CLI only (CLI-024): an empty database, a folder of tiny real clips
//! made with ffmpeg, ingest with ffprobe, approval, a program, a channel with a plan and a zone,
//! a built day and its guide. Run on SQLite and PostgreSQL.

use crate::support;
use crate::support_cli;
use crate::support_media;

use support::{TempDir, TestDb};
use support_cli::Rv;
use support_media::{make_clip, make_clip_with_chapters};

fn journey(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let media = TempDir::new("rvmedia-");
    let root = media.join("My TV");
    make_clip_with_chapters(
        &root.join("Show/Season 01/Show - S01E01 - Pilot.mkv"),
        3,
        &[0, 1000, 2000],
    );
    make_clip(&root.join("Show/Season 01/Show - S01E02 - Second.mkv"), 2);
    make_clip(&root.join("commercials/Spot.mp4"), 1);
    std::fs::write(
        root.join("Show/Season 01/Show - S01E03 - Broken.mkv"),
        b"not a video",
    )
    .unwrap();
    let rv = Rv::new(db.url(), &home.path);
    let root_arg = root.to_str().unwrap();

    let source = rv.json(&["source", "add", "--kind", "filesystem", "--path", root_arg]);
    assert_eq!(source["source"]["id"], "my-tv");
    let discovered = rv.json(&["source", "discover", "my-tv"]);
    assert_eq!(discovered["collections"][0]["id"], "my-tv");
    assert_eq!(discovered["collections"][0]["ingest_enabled"], true);
    rv.ok(&["enricher", "add", "ffprobe", "--timeout", "20s"]);

    // contract: ASSET-001
    // contract: ASSET-005
    let report = rv.json(&["collection", "ingest", "my-tv"])["collections"].clone();
    assert_eq!(report[0]["inserted"], 4, "{report}");
    assert_eq!(report[0]["enriched"], 4);
    let not_ready = report[0]["not_ready"].as_array().unwrap();
    assert_eq!(not_ready.len(), 1);
    assert_eq!(
        not_ready[0]["location"],
        "Show/Season 01/Show - S01E03 - Broken.mkv"
    );
    let broken = rv.json(&["asset", "list", "--state", "new"]);
    assert_eq!(broken.as_array().unwrap().len(), 1);
    let reason = broken[0]["state_reason"].as_str().unwrap();
    assert!(reason.starts_with("ffprobe: "), "{reason}");
    assert!(!reason.contains('\n'));

    let episodes = rv.json(&["asset", "list", "--series", "Show", "--state", "ready"]);
    let episodes = episodes.as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    let pilot = &episodes[0];
    assert_eq!(pilot["title"], "Pilot");
    assert!((pilot["duration_ms"].as_i64().unwrap() - 3000).abs() <= 50);
    assert_eq!(pilot["chapters_ms"], serde_json::json!([1000, 2000]));
    assert_eq!(pilot["approved"], false);
    assert_eq!(pilot["provider"], "filesystem");
    assert!(pilot["probe_json"].as_str().unwrap().contains("mpeg4"));

    // contract: ASSET-003
    let again = rv.json(&["collection", "ingest", "my-tv"])["collections"].clone();
    assert_eq!(again[0]["inserted"], 0);
    assert_eq!(again[0]["updated"], 0);
    assert_eq!(again[0]["unchanged"], 4);
    assert_eq!(
        again[0]["enriched"], 0,
        "unchanged files are not probed again"
    );
    let reprobe = rv.json(&["collection", "ingest", "my-tv", "--reprobe"])["collections"].clone();
    assert_eq!(
        reprobe[0]["enriched"], 1,
        "only the broken file is probed again"
    );
    assert_eq!(reprobe[0]["unchanged"], 4);

    // contract: ASSET-008
    let approved = rv.json(&["asset", "approve", "--collection", "my-tv"]);
    assert_eq!(
        approved["approved"].as_array().unwrap().len(),
        3,
        "ready ones only"
    );
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
        "America/New_York",
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
    rv.ok(&["channel", "validate", "retro"]);
    let built = rv.json(&[
        "schedule",
        "build",
        "--channel",
        "retro",
        "--from",
        "2030-01-07",
        "--now",
        "2030-01-01T00:00:00Z",
    ]);
    assert!(built.to_string().contains("built"), "{built}");

    // contract: CLI-024
    let guide = rv.json(&["epg", "show", "--channel", "retro", "--from", "2030-01-07"]);
    let rows = guide.as_array().unwrap();
    assert_eq!(rows.len(), 48, "a 30-minute grid over one day");
    assert_eq!(rows[0]["title"], "The Show");
    assert_eq!(rows[0]["episode_title"], "Pilot");
    assert_eq!(rows[1]["episode_title"], "Second");
    let text = rv.ok(&["epg", "show", "--channel", "retro", "--from", "2030-01-07"]);
    assert!(text.contains("The Show — Pilot"), "{text}");
}

#[test]
fn journey_on_sqlite() {
    journey(&TestDb::sqlite());
}

#[test]
fn journey_on_postgres() {
    journey(&TestDb::postgres());
}
