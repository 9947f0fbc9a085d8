//! One-off edits and seeing before changing (issue 13): `schedule override`, `--dry-run` on
//! `schedule build` and `schedule override`, `schedule explain`, `schedule build --all` — the
//! real binary against SQLite and PostgreSQL.

use crate::support;
use crate::support_cli::Rv;

use support::{TempDir, TestDb};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");
const SLOT: &str = "2030-01-07T14:00:00Z";
const MOVIE: &str = "movie-the-glass-tower";

fn seeded(db: &TestDb) -> (TempDir, Rv) {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", DEMO]);
    let built = rv.json(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
        "--days",
        "3",
    ]);
    assert_eq!(built["dry_run"], false);
    assert_eq!(built["days"].as_array().unwrap().len(), 3);
    (home, rv)
}

fn show(rv: &Rv, date: &str) -> serde_json::Value {
    rv.json(&["schedule", "show", "--channel", "retro-one", "--date", date])
}

fn item_at(day: &serde_json::Value, start_ms: i64) -> Option<&serde_json::Value> {
    day["day"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["start"] == start_ms)
}

fn ms(text: &str) -> i64 {
    retrovue_core::time::parse_utc(text).unwrap()
}

fn override_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "schedule",
        "override",
        "--channel",
        "retro-one",
        "--at",
        SLOT,
        "--item",
        MOVIE,
    ];
    args.extend_from_slice(extra);
    args
}

// contract: CLI-040
// contract: CLI-041
// contract: STORE-030
// contract: STORE-031
fn override_replaces_a_slot_and_carries_forward(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let before = show(&rv, "2030-01-07");
    let old_item = item_at(&before, ms(SLOT)).unwrap().clone();
    let done = rv.json(&override_args(&["--reason", "tribute"]));
    assert_eq!(done["dry_run"], false);
    let outcomes: Vec<&str> = done["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    // The movie is longer than the slot: later items are pushed, the change carries forward.
    assert_eq!(outcomes[0], "overridden");
    assert!(
        outcomes[1..].iter().all(|o| *o == "carried_forward"),
        "{outcomes:?}"
    );
    let after = show(&rv, "2030-01-07");
    assert_eq!(after["supersedes"], before["id"]);
    let new_item = item_at(&after, ms(SLOT)).unwrap();
    assert_eq!(new_item["asset"], MOVIE);
    assert!(new_item["slot_end"].as_i64().unwrap() > old_item["slot_end"].as_i64().unwrap());
    // The displaced episode is not lost: its program's rotation did not advance.
    assert!(after["day"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["asset"] == old_item["asset"]));
    rv.ok(&["schedule", "check", "--channel", "retro-one"]);
    // History kept: the superseded record is still stored.
    let list = rv.json(&["schedule", "override", "list", "--channel", "retro-one"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], after["id"]);
    assert_eq!(list[0]["pins"][0]["reason"], "tribute");
    assert_eq!(list[0]["pins"][0]["item"]["id"], MOVIE);

    // A later rebuild of the day re-applies the override (STORE-031).
    let rebuilt = rv.json(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
    ]);
    assert_eq!(rebuilt["days"][0]["outcome"], "rebuilt");
    let again = show(&rv, "2030-01-07");
    assert_eq!(item_at(&again, ms(SLOT)).unwrap()["asset"], MOVIE);
    assert_eq!(again["supersedes"], before["id"]);
    assert_eq!(
        rv.json(&["schedule", "override", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Delete restores the superseded record, carrying forward again.
    let id = again["id"].as_i64().unwrap().to_string();
    let removed = rv.json(&["schedule", "override", "delete", &id]);
    assert_eq!(removed["dry_run"], false);
    let removed = &removed["days"];
    assert_eq!(removed[0]["outcome"], "restored");
    assert_eq!(removed[0]["id"], before["id"]);
    let restored = show(&rv, "2030-01-07");
    assert_eq!(restored["id"], before["id"]);
    assert_eq!(restored["day"], before["day"]);
    rv.ok(&["schedule", "check", "--channel", "retro-one"]);
    assert_eq!(
        rv.json(&["schedule", "override", "list"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

// contract: CLI-042
fn override_refusals_store_nothing(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let before = show(&rv, "2030-01-07");
    // An aired day (window begun by --now): exit 2 naming the day.
    let line = rv.bad(&override_args(&["--now", "2030-01-07T12:00:00Z"]));
    assert!(
        line.contains("2030-01-07") && line.contains("aired"),
        "{line}"
    );
    // A later day that must change has aired: refused like a rebuild, naming that day.
    let line = rv.bad(&override_args(&["--now", "2030-01-08T12:00:00Z"]));
    assert!(line.contains("2030-01-07"), "{line}");
    // No slot starts there; unknown item; unknown override id.
    let mut off = override_args(&[]);
    off[5] = "2030-01-07T14:05:00Z";
    assert!(rv.bad(&off).contains("--at"));
    let mut unknown = override_args(&[]);
    unknown[7] = "no-such-asset";
    assert!(rv.bad(&unknown).contains("--item"));
    assert!(rv
        .bad(&["schedule", "override", "delete", "999999"])
        .contains("999999"));
    let plain = before["id"].as_i64().unwrap().to_string();
    assert!(rv
        .bad(&["schedule", "override", "delete", &plain])
        .contains("not an override"));
    assert_eq!(show(&rv, "2030-01-07"), before);
}

// contract: CLI-045
fn dry_run_prints_guide_changes_and_writes_nothing(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let day1 = show(&rv, "2030-01-07");
    let day2 = show(&rv, "2030-01-08");
    let dry = rv.json(&override_args(&["--dry-run"]));
    assert_eq!(dry["dry_run"], true);
    let changes = dry["changes"].as_array().unwrap();
    assert_eq!(changes[0]["channel"], "retro-one");
    assert_eq!(changes[0]["date"], "2030-01-07");
    let added = changes[0]["added"].as_array().unwrap();
    assert!(added
        .iter()
        .any(|r| r["asset"] == MOVIE && r["start"] == SLOT));
    assert!(!changes[0]["moved"].as_array().unwrap().is_empty());
    assert!(changes[0]["removed"].is_array());
    assert_eq!(show(&rv, "2030-01-07"), day1);
    assert_eq!(show(&rv, "2030-01-08"), day2);
    let text = rv.ok(&override_args(&["--dry-run"]));
    assert!(text.contains("retro-one 2030-01-07") && text.contains("nothing written"));
    assert_eq!(show(&rv, "2030-01-07"), day1);

    // A build that changes nothing shows no changes; a new day shows every row added.
    let same = rv.json(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
        "--days",
        "4",
        "--dry-run",
    ]);
    let changes = same["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{same}");
    assert_eq!(changes[0]["date"], "2030-01-10");
    assert_eq!(changes[0]["stored"], false);
    assert!(rv
        .bad(&[
            "schedule",
            "show",
            "--channel",
            "retro-one",
            "--date",
            "2030-01-10"
        ])
        .contains("no ScheduleDay"));
    // A different seed changes nothing on this lineup's sequential programs, but the guide
    // diff of the override is also what an override then does.
    rv.ok(&override_args(&[]));
    assert_eq!(
        item_at(&show(&rv, "2030-01-07"), ms(SLOT)).unwrap()["asset"],
        MOVIE
    );
}

// contract: CLI-050
fn explain_says_why(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let why = rv.json(&[
        "schedule",
        "explain",
        "--channel",
        "retro-one",
        "--at",
        "2030-01-07T19:10:00Z",
    ]);
    assert_eq!(why["recomputed_matches"], true);
    assert_eq!(why["why"]["plan"], "Weekdays");
    assert_eq!(why["why"]["zone"], "Daytime");
    assert_eq!(why["why"]["play_mode"], "sequential");
    assert_eq!(why["why"]["seed"], 0);
    assert_eq!(why["why"]["carry_in"], false);
    assert!(why["why"]["rotation_position"].is_u64());
    assert_eq!(why["item"]["asset"], why["why"]["item"]["asset"]);
    let text = rv.ok(&[
        "schedule",
        "explain",
        "--channel",
        "retro-one",
        "--at",
        "2030-01-07T19:10:00Z",
    ]);
    for needle in [
        "plan: Weekdays",
        "zone: Daytime",
        "play mode sequential",
        "seed: 0",
        "carry-in",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    rv.ok(&override_args(&["--reason", "tribute"]));
    let pinned = rv.json(&[
        "schedule",
        "explain",
        "--channel",
        "retro-one",
        "--at",
        "2030-01-07T15:00:00Z",
    ]);
    assert_eq!(pinned["why"]["pinned"], true);
    assert_eq!(pinned["override"]["reason"], "tribute");
    assert!(rv
        .bad(&[
            "schedule",
            "explain",
            "--channel",
            "retro-one",
            "--at",
            "2031-01-01T00:00:00Z"
        ])
        .contains("--at"));
}

// contract: CLI-046
fn build_all_builds_every_active_channel(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", DEMO]);
    // contract: CLI-082
    let report = rv.json(&["schedule", "build", "--all", "--from", "2030-01-07"]);
    assert_eq!(report["dry_run"], false);
    let built = &report["days"];
    let channels: Vec<&str> = built
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        channels,
        ["movie-one", "retro-one", "sitara-tv", "toon-town"]
    );
    let text = rv.ok(&["schedule", "build", "--all", "--from", "2030-01-08"]);
    assert_eq!(text.lines().count(), 4, "{text}");
    // A usage error (clap's own message): exit 2.
    let out = rv.run(&[
        "schedule",
        "build",
        "--all",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--channel"));
}

crate::on_each_backend!(
    override_replaces_a_slot_and_carries_forward,
    override_refusals_store_nothing,
    dry_run_prints_guide_changes_and_writes_nothing,
    explain_says_why,
    build_all_builds_every_active_channel,
);
