//! Contract tests of the scheduling commands — program, channel, plan, zone, epg export, asrun —
//! and of help, on the real binary against SQLite (and PostgreSQL for a subset).

use crate::support;
use crate::support_cli;

use retrovue::store;
use retrovue_core::model::{AsRunRecord, AsRunStatus, EventKind};
use support::{TempDir, TestDb};
use support_cli::{fake_video, Rv};

struct Fixture {
    _home: TempDir,
    _media: TempDir,
    rv: Rv,
    episode: String,
}

/// A database with an ingested, approved series "Show" (two episodes) and a spot.
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
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        media.path.to_str().unwrap(),
        "--id",
        "tv",
    ]);
    rv.ok(&["source", "discover", "tv"]);
    rv.ok(&["collection", "ingest", "tv"]);
    rv.ok(&["asset", "approve", "--collection", "tv"]);
    let episode = rv.json(&["asset", "list", "--series", "Show"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    Fixture {
        _home: home,
        _media: media,
        rv,
        episode,
    }
}

fn channel(rv: &Rv) {
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
}

// contract: CLI-017
fn programs(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    let dry = rv.json(&["program", "add", "show", "--series", "Show", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(rv.json(&["program", "list"]).as_array().unwrap().len(), 0);
    rv.ok(&["program", "add", "show", "--series", "Show"]);
    let shown = rv.json(&["program", "show", "show"]);
    assert_eq!(shown["program"]["title"], "Show");
    assert_eq!(shown["candidates"], 2);
    assert_eq!(shown["schedulable"], 2);
    assert!(rv
        .bad(&["program", "add", "show", "--series", "Show"])
        .contains("already exists"));
    let mode = rv.bad(&[
        "program",
        "add",
        "p2",
        "--series",
        "Show",
        "--play-mode",
        "loop",
    ]);
    assert!(
        mode.contains("unknown play_mode \"loop\" (allowed: sequential, shuffle, random, manual)"),
        "{mode}"
    );
    assert!(rv
        .bad(&["program", "add", "p3", "--assets", "nope"])
        .contains("\"nope\" is not an asset id"));
    assert!(rv
        .bad(&["program", "add", "p4"])
        .contains("series, or an assets list"));
    rv.ok(&[
        "program",
        "add",
        "pick",
        "--assets",
        &f.episode,
        "--play-mode",
        "manual",
        "--title",
        "Pick",
    ]);
    rv.ok(&["program", "update", "pick", "--play-mode", "shuffle"]);
    assert_eq!(
        rv.json(&["program", "show", "pick"])["program"]["play_mode"],
        "shuffle"
    );
    rv.bad(&["program", "delete", "pick"]);
    rv.ok(&["program", "delete", "pick", "--yes"]);
    assert!(rv
        .bad(&["program", "show", "pick"])
        .contains("unknown program"));
}

// contract: CLI-018
// contract: CLI-004
fn channels(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    let grid = rv.bad(&[
        "channel",
        "add",
        "retro",
        "--number",
        "2",
        "--name",
        "Retro",
        "--timezone",
        "UTC",
        "--grid",
        "20",
    ]);
    assert_eq!(grid, "error: channel \"retro\": grid_block_minutes: grid_block_minutes must be 15, 30 or 60, got 20");
    let two = rv.bad(&[
        "channel",
        "add",
        "retro",
        "--number",
        "2",
        "--name",
        "Retro",
        "--timezone",
        "UTC",
        "--offsets",
        "0,15",
        "--day-start",
        "06:20",
    ]);
    assert_eq!(
        two,
        "error: channel \"retro\": block_start_offsets_minutes: offset 15 is not a multiple of the \
         30-minute grid; programming_day_start: programming_day_start 06:20 is not on a grid \
         boundary (offsets [0, 15])"
    );
    let tz = rv.bad(&[
        "channel",
        "add",
        "retro",
        "--number",
        "2",
        "--name",
        "Retro",
        "--timezone",
        "Mars/Base",
    ]);
    assert!(
        tz.contains("\"Mars/Base\" is not an IANA time zone name"),
        "{tz}"
    );
    let slug = rv.bad(&[
        "channel",
        "add",
        "Retro One",
        "--number",
        "2",
        "--name",
        "Retro",
        "--timezone",
        "UTC",
    ]);
    assert!(
        slug.contains("id: channel id \"Retro One\" is not a slug"),
        "{slug}"
    );
    let day_start = rv.bad(&[
        "channel",
        "add",
        "retro",
        "--number",
        "2",
        "--name",
        "R",
        "--timezone",
        "UTC",
        "--day-start",
        "06:15",
    ]);
    assert!(
        day_start.contains("programming_day_start 06:15 is not on a grid boundary"),
        "{day_start}"
    );
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
        "--dry-run",
    ]);
    assert_eq!(rv.json(&["channel", "list"]).as_array().unwrap().len(), 0);
    channel(rv);
    let shown = rv.json(&["channel", "show", "retro"]);
    assert_eq!(shown["grid_block_minutes"], 30);
    assert_eq!(
        shown["block_start_offsets_minutes"],
        serde_json::json!([0, 30])
    );
    assert_eq!(shown["programming_day_start_minute"], 360);
    rv.ok(&[
        "channel", "update", "retro", "--name", "Retro TV", "--group", "Classics",
    ]);
    assert_eq!(rv.json(&["channel", "show", "retro"])["name"], "Retro TV");
    assert!(rv
        .bad(&["channel", "update", "retro", "--offsets", "0,15"])
        .contains("offset 15 is not a multiple of the 30-minute grid"));
    assert!(rv
        .bad(&[
            "channel",
            "add",
            "retro",
            "--number",
            "2",
            "--name",
            "R",
            "--timezone",
            "UTC"
        ])
        .contains("already exists"));
    let refused = rv.bad(&["channel", "delete", "retro"]);
    assert!(refused.contains("pass --yes"), "{refused}");
    rv.ok(&["channel", "delete", "retro", "--yes"]);
    assert!(rv
        .bad(&["channel", "show", "retro"])
        .contains("unknown channel"));
}

// contract: CLI-019
// contract: CLI-020
// contract: CLI-021
fn plans_and_zones(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    channel(rv);
    rv.ok(&["program", "add", "show", "--series", "Show"]);
    rv.ok(&[
        "plan",
        "add",
        "--channel",
        "retro",
        "Weekdays",
        "--days",
        "mon,tue,wed,thu,fri",
        "--priority",
        "5",
    ]);
    rv.ok(&["plan", "add", "--channel", "retro", "Daily", "--dry-run"]);
    assert_eq!(
        rv.json(&["plan", "list", "--channel", "retro"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(rv
        .bad(&["plan", "add", "--channel", "retro", "Weekdays"])
        .contains("duplicate plan name"));
    assert!(rv
        .bad(&["plan", "add", "--channel", "retro", "X", "--days", "funday"])
        .contains("\"funday\" is not a weekday"));
    let dates = rv.bad(&[
        "plan",
        "add",
        "--channel",
        "retro",
        "X",
        "--start-date",
        "2030-02-01",
        "--end-date",
        "2030-01-01",
    ]);
    assert!(
        dates.contains("plan[1].end_date: end_date 2030-01-01 is before start_date 2030-02-01"),
        "{dates}"
    );
    rv.ok(&[
        "plan",
        "update",
        "--channel",
        "retro",
        "Weekdays",
        "--days",
        "saturday,sun",
    ]);
    assert_eq!(
        rv.json(&["plan", "show", "--channel", "retro", "Weekdays"])["days"],
        serde_json::json!(["Sat", "Sun"])
    );
    assert!(rv
        .bad(&["plan", "show", "--channel", "retro", "Nope"])
        .contains("has no plan \"Nope\""));

    let zone = |name: &str, start: &str, end: &str, items: &str| {
        vec![
            "zone",
            "add",
            "--channel",
            "retro",
            "--plan",
            "Weekdays",
            name,
            "--start",
            start,
            "--end",
            end,
            "--items",
            items,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let a = zone("Morning", "06:00", "08:00", "show");
    rv.ok(&args(&a));
    let overlap = zone("B", "07:00", "09:00", "show");
    let message = rv.bad(&args(&overlap));
    assert!(message.contains("plan[0].zone[1]: zone \"B\" (07:00–09:00) overlaps zone \"Morning\" (06:00–08:00) in plan \"Weekdays\""), "{message}");
    let off_grid = zone("C", "08:15", "09:00", "show");
    assert!(rv
        .bad(&args(&off_grid))
        .contains("zone \"C\" start 08:15 is not on a grid boundary"));
    let unknown = zone("D", "08:00", "09:00", "nothing");
    assert!(rv
        .bad(&args(&unknown))
        .contains("\"nothing\" is not a program, asset or virtual_asset id"));
    let mut dry = zone(
        "Rest",
        "08:00",
        "06:00",
        &format!("{},synthetic:slate:60000", f.episode),
    );
    dry.push("--dry-run".into());
    rv.ok(&args(&dry));
    assert_eq!(
        rv.json(&["zone", "list", "--channel", "retro"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    dry.pop();
    rv.ok(&args(&dry));
    let zones = rv.json(&["zone", "list", "--channel", "retro", "--plan", "Weekdays"]);
    assert_eq!(zones.as_array().unwrap().len(), 2);
    assert_eq!(
        zones[1]["zone"]["items"][1],
        serde_json::json!({"type": "synthetic", "kind": "slate", "duration_ms": 60000})
    );
    rv.ok(&[
        "zone",
        "update",
        "--channel",
        "retro",
        "--plan",
        "Weekdays",
        "Morning",
        "--end",
        "07:00",
    ]);
    let validate = rv.json(&["channel", "validate", "retro"]);
    assert_eq!(validate["valid"], true);
    assert!(
        validate["warnings"][0]
            .as_str()
            .unwrap()
            .contains("07:00–08:00 is covered by no zone"),
        "{validate}"
    );
    rv.ok(&[
        "zone",
        "update",
        "--channel",
        "retro",
        "--plan",
        "Weekdays",
        "Morning",
        "--end",
        "08:00",
    ]);
    assert_eq!(
        rv.json(&[
            "zone",
            "show",
            "--channel",
            "retro",
            "--plan",
            "Weekdays",
            "Morning"
        ])["end_minute"],
        480
    );
    // A program a zone uses is not deleted (CLI-005).
    assert!(rv
        .bad(&["program", "delete", "show", "--yes"])
        .contains("is used by channel \"retro\" plan \"Weekdays\" zone \"Morning\""));
    rv.bad(&[
        "zone",
        "delete",
        "--channel",
        "retro",
        "--plan",
        "Weekdays",
        "Rest",
    ]);
    rv.ok(&[
        "zone",
        "delete",
        "--channel",
        "retro",
        "--plan",
        "Weekdays",
        "Rest",
        "--yes",
    ]);
    rv.ok(&["plan", "delete", "--channel", "retro", "Weekdays", "--yes"]);
    assert_eq!(
        rv.json(&["plan", "list", "--channel", "retro"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    rv.ok(&["program", "delete", "show", "--yes"]);
}

// contract: CLI-022
// contract: CLI-023
// contract: CLI-005
fn guide_export_and_as_run(db: &TestDb) {
    let f = fixture(db);
    let rv = &f.rv;
    channel(rv);
    rv.ok(&["program", "add", "show", "--series", "Show"]);
    rv.ok(&["plan", "add", "--channel", "retro", "Daily"]);
    rv.ok(&[
        "zone",
        "add",
        "--channel",
        "retro",
        "--plan",
        "Daily",
        "All",
        "--start",
        "06:00",
        "--end",
        "06:00",
        "--items",
        "show",
    ]);
    rv.ok(&[
        "schedule",
        "build",
        "--channel",
        "retro",
        "--from",
        "2030-01-07",
        "--now",
        "2030-01-01T00:00:00Z",
    ]);
    let xml = rv.ok(&["epg", "export", "--format", "xmltv", "--from", "2030-01-07"]);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<channel id=\"retro\">"));
    assert_eq!(xml.matches("<programme ").count(), 48);
    let wrapped = rv.json(&[
        "epg",
        "export",
        "--channel",
        "retro",
        "--from",
        "2030-01-07",
    ]);
    assert_eq!(wrapped["rows"], 48);
    assert!(wrapped["document"].as_str().unwrap().contains("<tv"));
    let out = TempDir::new("rvxml-");
    let file = out.join("guide.xml");
    rv.ok(&[
        "epg",
        "export",
        "--channel",
        "retro",
        "--from",
        "2030-01-07",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), xml);
    assert!(rv
        .bad(&["epg", "export", "--format", "csv"])
        .contains("unknown format \"csv\""));

    assert_eq!(
        rv.json(&[
            "asrun",
            "show",
            "--channel",
            "retro",
            "--date",
            "2030-01-07"
        ]),
        serde_json::json!([])
    );
    let mut db_store = store::open(&rv.db).unwrap();
    let start = retrovue_core::time::parse_utc("2030-01-07T11:00:00Z").unwrap();
    for (i, status) in [AsRunStatus::Aired, AsRunStatus::Truncated]
        .into_iter()
        .enumerate()
    {
        db_store
            .record_as_run(
                &AsRunRecord {
                    channel: "retro".into(),
                    playlog_id: format!("e{i}"),
                    start: start + i as i64 * 60_000,
                    end: start + (i as i64 + 1) * 60_000,
                    asset: Some(f.episode.clone()),
                    kind: EventKind::Content,
                    status,
                    reason: None,
                },
                "test-session-1",
            )
            .unwrap();
    }
    let aired = rv.json(&[
        "asrun",
        "show",
        "--channel",
        "retro",
        "--date",
        "2030-01-07",
    ]);
    assert_eq!(aired.as_array().unwrap().len(), 2);
    assert_eq!(aired[1]["status"], "truncated");
    assert_eq!(
        rv.json(&[
            "asrun",
            "show",
            "--channel",
            "retro",
            "--date",
            "2030-01-08"
        ]),
        serde_json::json!([])
    );
    let text = rv.ok(&[
        "asrun",
        "show",
        "--channel",
        "retro",
        "--date",
        "2030-01-07",
    ]);
    assert!(
        text.contains("2030-01-07T11:00:00Z") && text.contains("aired"),
        "{text}"
    );
    assert!(rv
        .bad(&["asrun", "show", "--channel", "retro", "--date", "7/1/2030"])
        .contains("--date"));
    // History: the channel is not deleted, and stays.
    let refused = rv.bad(&["channel", "delete", "retro", "--yes"]);
    assert!(
        refused.contains("history") && refused.contains("--active false"),
        "{refused}"
    );
    assert!(rv
        .bad(&["program", "delete", "show", "--yes"])
        .contains("is used by"));
    rv.ok(&["channel", "show", "retro"]);
}

/// A channel whose 04:00 film (shuffled, three lengths) crosses 06:00 into the next day.
const LATE_LINEUP: &str = r#"
[[asset]]
id = "ep-1"
kind = "episode"
title = "One"
series = "Show"
season = 1
episode = 1
duration_ms = 1320000

[[asset]]
id = "spot-1"
kind = "commercial"
title = "Spot 1"
duration_ms = 30000

[[asset]]
id = "spot-2"
kind = "commercial"
title = "Spot 2"
duration_ms = 15000

[[asset]]
id = "film-a"
kind = "movie"
title = "Film A"
duration_ms = 9000000

[[asset]]
id = "film-b"
kind = "movie"
title = "Film B"
duration_ms = 10200000

[[asset]]
id = "film-c"
kind = "movie"
title = "Film C"
duration_ms = 11400000

[[program]]
id = "show"
title = "Show"
play_mode = "sequential"
series = "Show"

[[program]]
id = "films"
title = "Films"
play_mode = "shuffle"
assets = ["film-a", "film-b", "film-c"]

[[channel]]
id = "late"
number = "3"
name = "Late"
timezone = "America/New_York"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = ["commercial"]
spot_cooldown_minutes = 30

  [[channel.plan]]
  name = "Every day"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "04:00"
    items = ["show"]

    [[channel.plan.zone]]
    name = "Late"
    start = "04:00"
    end = "06:00"
    items = ["films"]
"#;

// contract: STORE-012
// contract: STORE-014
// contract: STORE-015
// contract: SCHED-008
fn chain_check_and_refusal(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    let file = home.join("late.toml");
    std::fs::write(&file, LATE_LINEUP).unwrap();
    rv.ok(&["lineup", "import", file.to_str().unwrap()]);
    rv.ok(&[
        "schedule",
        "build",
        "--channel",
        "late",
        "--from",
        "2030-01-07",
        "--days",
        "4",
    ]);
    let report = rv.json(&["schedule", "check"]);
    assert_eq!(report["whole"], true, "{report}");
    assert_eq!(report["days"], 4);
    assert!(rv
        .ok(&["schedule", "check", "--channel", "late"])
        .contains("whole"));
    assert!(rv
        .bad(&["schedule", "check", "--channel", "nope"])
        .contains("nope"));

    // 2030-01-09 has aired (as-run records exist).
    let mut store = store::open(&rv.db).unwrap();
    let nine = store
        .current_day("late", "2030-01-09".parse().unwrap())
        .unwrap()
        .unwrap();
    store
        .record_as_run(
            &AsRunRecord {
                channel: "late".into(),
                playlog_id: "late:2030-01-09:00000".into(),
                start: nine.day.effective_start,
                end: nine.day.effective_start + 60_000,
                asset: None,
                kind: EventKind::Content,
                status: AsRunStatus::Aired,
                reason: None,
            },
            "test-session-1",
        )
        .unwrap();
    // A seed whose 2030-01-08 hands 2030-01-09 a different state must be refused: exit 2 naming
    // the days, nothing stored.
    let lineup = store.load_lineup().unwrap();
    let channel = &lineup.channels[0];
    let before = store
        .state_before("late", "2030-01-08".parse().unwrap())
        .unwrap();
    let base = retrovue_core::chain::DayChain::new(&lineup.catalog, channel, 0)
        .build_day("2030-01-08".parse().unwrap(), &before)
        .after;
    let seed = (1..200u64)
        .find(|&s| {
            retrovue_core::chain::DayChain::new(&lineup.catalog, channel, s)
                .build_day("2030-01-08".parse().unwrap(), &before)
                .after
                != base
        })
        .unwrap();
    let eight_before = store
        .current_day("late", "2030-01-08".parse().unwrap())
        .unwrap()
        .unwrap();
    let refused = rv.bad(&[
        "schedule",
        "build",
        "--channel",
        "late",
        "--from",
        "2030-01-08",
        "--seed",
        &seed.to_string(),
    ]);
    assert!(
        refused.contains("2030-01-08") && refused.contains("2030-01-09"),
        "{refused}"
    );
    let eight_after = store
        .current_day("late", "2030-01-08".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(eight_after, eight_before, "nothing stored");
    assert_eq!(rv.json(&["schedule", "check"])["whole"], true);

    // A seam broken behind the store's back is named: channel, dates, instants; exit 1.
    support::raw_sql(
        &rv.db,
        "UPDATE schedule_day SET effective_start = effective_start + 1800000 \
         WHERE channel_id = 'late' AND broadcast_date = '2030-01-10'",
    );
    let out = rv.run(&["--json", "schedule", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["whole"], false);
    let broken = report["broken"].as_array().unwrap();
    assert!(
        broken.iter().any(|b| b["channel"] == "late"
            && b["date"] == "2030-01-10"
            && b["previous_date"] == "2030-01-09"
            && b["detail"].as_str().unwrap().contains("gap")),
        "{report}"
    );
    let out = rv.run(&["schedule", "check", "--channel", "late"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("late: broken seam 2030-01-09 → 2030-01-10 at 2030-01-"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken seam"));

    // SCHED-008 through the CLI: a duration above 7 days names the asset, exit 2.
    let error = rv.bad(&["asset", "update", "ep-1", "--duration", "604800001"]);
    assert!(
        error.contains("ep-1") && error.contains("7 days"),
        "{error}"
    );
    assert!(rv
        .bad(&["asset", "update", "ep-1", "--duration=-5"])
        .contains("--duration"));
}

#[test]
fn sqlite_chain_check_and_refusal() {
    chain_check_and_refusal(&TestDb::sqlite());
}

#[test]
fn postgres_chain_check_and_refusal() {
    chain_check_and_refusal(&TestDb::postgres());
}

// contract: CLI-007
#[test]
fn help_reads_well() {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new("sqlite:///nonexistent/never-opened.db", &home.path);
    let top = rv.ok(&["--help"]);
    for noun in [
        "source",
        "collection",
        "enricher",
        "asset",
        "program",
        "channel",
        "plan",
        "zone",
        "schedule",
        "epg",
        "playlog",
        "asrun",
        "db",
        "lineup",
        "sim",
    ] {
        let line = top
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{noun} ")))
            .unwrap_or_else(|| panic!("--help lacks {noun}: {top}"));
        assert!(
            line.trim().len() > noun.len() + 10,
            "{noun} has a description: {line}"
        );
    }
    let verbs: [(&str, &[&str]); 9] = [
        (
            "source",
            &["add", "list", "show", "update", "delete", "discover"],
        ),
        ("collection", &["list", "show", "update", "ingest", "wipe"]),
        ("enricher", &["list", "add", "remove"]),
        ("asset", &["list", "show", "update", "approve", "retire"]),
        ("program", &["add", "list", "show", "update", "delete"]),
        (
            "channel",
            &["add", "list", "show", "update", "delete", "validate"],
        ),
        ("plan", &["add", "list", "show", "update", "delete"]),
        ("zone", &["add", "list", "show", "update", "delete"]),
        ("epg", &["show", "export"]),
    ];
    for (noun, list) in verbs {
        let help = rv.ok(&[noun, "--help"]);
        for verb in list {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{verb} ")) && l.len() > 20),
                "{noun} --help lacks {verb}: {help}"
            );
        }
    }
}

#[test]
fn sqlite_programs() {
    programs(&TestDb::sqlite());
}
#[test]
fn sqlite_channels() {
    channels(&TestDb::sqlite());
}
#[test]
fn sqlite_plans_and_zones() {
    plans_and_zones(&TestDb::sqlite());
}
#[test]
fn sqlite_guide_export_and_as_run() {
    guide_export_and_as_run(&TestDb::sqlite());
}
#[test]
fn postgres_plans_and_zones() {
    plans_and_zones(&TestDb::postgres());
}
#[test]
fn postgres_guide_export_and_as_run() {
    guide_export_and_as_run(&TestDb::postgres());
}
