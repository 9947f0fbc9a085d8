//! `--dry-run` guide previews of input changes (issue 13 item 2): `lineup import` and the
//! `plan|zone|program|channel` verbs print the guide changes a rebuild of the stored unaired
//! days would make, write nothing, and the real verb then does exactly that — the real binary
//! against SQLite and PostgreSQL.

use crate::support;
use crate::support_cli::Rv;

use support::{TempDir, TestDb};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");
const FROM: &str = "2030-01-07";

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
        FROM,
        "--days",
        "3",
    ]);
    assert_eq!(built["dry_run"], false);
    assert_eq!(built["days"].as_array().unwrap().len(), 3);
    (home, rv)
}

/// Every row of every table (a backup without its header), and an SQLite file's bytes.
fn snapshot(db: &TestDb, rv: &Rv, home: &TempDir, tag: &str) -> (Vec<String>, Vec<Vec<u8>>) {
    let file = home.join(&format!("snapshot-{tag}.jsonl"));
    rv.ok(&["db", "backup", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let rows: Vec<String> = text.lines().skip(1).map(String::from).collect();
    assert!(rows.len() > 10, "the backup holds rows: {}", rows.len());
    let mut bytes = Vec::new();
    if let TestDb::Sqlite { dir, .. } = db {
        for name in ["retrovue.db", "retrovue.db-wal"] {
            bytes.push(std::fs::read(dir.join(name)).unwrap_or_default());
        }
    }
    (rows, bytes)
}

fn build_args<'a>(from: &'a str, days: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        from,
        "--days",
        days,
    ];
    args.extend_from_slice(extra);
    args
}

/// CLI-075/076: preview `verb` (writing nothing), apply it, and check that rebuilding the
/// previewed days `from`..+`days` changes exactly the previewed rows. Returns the preview.
fn preview_then_apply(
    db: &TestDb,
    rv: &Rv,
    home: &TempDir,
    verb: &[&str],
    apply_extra: &[&str],
    preview_extra: &[&str],
    (from, days): (&str, &str),
) -> serde_json::Value {
    let before = snapshot(db, rv, home, "before");
    let mut dry: Vec<&str> = verb.to_vec();
    dry.push("--dry-run");
    dry.extend_from_slice(preview_extra);
    let preview = rv.json(&dry);
    assert_eq!(preview["dry_run"], true, "{verb:?}: {preview}");
    assert!(
        preview["refused"].as_array().unwrap().is_empty(),
        "{preview}"
    );
    let changes = preview["changes"].as_array().unwrap().clone();
    assert!(!changes.is_empty(), "{verb:?} changes the guide: {preview}");
    for c in &changes {
        assert_eq!(c["channel"], "retro-one");
        assert_eq!(c["stored"], true);
        let rows = ["removed", "added", "moved"]
            .iter()
            .map(|k| c[*k].as_array().unwrap().len())
            .sum::<usize>();
        assert!(rows > 0, "days without changes are left out: {c}");
    }
    // The human form names the same days.
    let text = rv.ok(&dry);
    assert!(text.starts_with("dry run: would have") || text.contains("valid"));
    for c in &changes {
        let day = format!("retro-one {}", c["date"].as_str().unwrap());
        assert!(text.contains(&day), "{day} in {text}");
    }
    assert_eq!(
        snapshot(db, rv, home, "after"),
        before,
        "{verb:?} --dry-run wrote nothing"
    );

    let mut real: Vec<&str> = verb.to_vec();
    real.extend_from_slice(apply_extra);
    rv.ok(&real);
    let now: Vec<&str> = preview_extra.to_vec();
    let rebuild = rv.json(&build_args(
        from,
        days,
        &[&["--dry-run"], &now[..]].concat(),
    ));
    assert_eq!(
        rebuild["changes"],
        serde_json::Value::Array(changes),
        "{verb:?}: the rebuild after the change does what the preview said"
    );
    rv.json(&build_args(from, days, &now));
    let again = rv.json(&build_args(
        from,
        days,
        &[&["--dry-run"], &now[..]].concat(),
    ));
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    preview
}

// contract: CLI-075
// contract: CLI-076
fn input_verbs_preview_their_guide_changes(db: &TestDb) {
    let (home, rv) = seeded(db);
    let all = (FROM, "3");
    // zone update
    let p = preview_then_apply(
        db,
        &rv,
        &home,
        &[
            "zone",
            "update",
            "--channel",
            "retro-one",
            "--plan",
            "Weekdays",
            "Morning Reruns",
            "--items",
            "dads-garage",
        ],
        &[],
        &[],
        all,
    );
    assert_eq!(p["updated"]["name"], "Morning Reruns");
    // plan update: Wednesday now follows the weekend plan (priority 10).
    let p = preview_then_apply(
        db,
        &rv,
        &home,
        &[
            "plan",
            "update",
            "--channel",
            "retro-one",
            "Weekend",
            "--days",
            "sat,sun,wed",
        ],
        &[],
        &[],
        all,
    );
    let dates: Vec<&str> = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates.first(), Some(&"2030-01-09"), "{p}");
    // plan delete: Wednesday goes back to the weekday plan.
    preview_then_apply(
        db,
        &rv,
        &home,
        &["plan", "delete", "--channel", "retro-one", "Weekend"],
        &["--yes"],
        &[],
        all,
    );
    // program update, with the first day aired: only later days are previewed.
    let p = preview_then_apply(
        db,
        &rv,
        &home,
        &["program", "update", "night-shift", "--play-mode", "shuffle"],
        &[],
        &["--now", "2030-01-07T13:00:00Z"],
        ("2030-01-08", "2"),
    );
    assert!(
        p["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["date"] != FROM),
        "an aired day is never previewed: {p}"
    );
    // lineup import of the demo with another play mode
    let text = std::fs::read_to_string(DEMO).unwrap().replacen(
        "play_mode = \"sequential\"\nseries = \"Maple Street\"",
        "play_mode = \"shuffle\"\nseries = \"Maple Street\"",
        1,
    );
    let changed = home.write("changed.toml", &text);
    let p = preview_then_apply(
        db,
        &rv,
        &home,
        &["lineup", "import", changed.to_str().unwrap()],
        &[],
        &[],
        all,
    );
    assert!(p["channels"].as_u64().unwrap() >= 2, "{p}");
    // zone delete, then zone add back with other items
    preview_then_apply(
        db,
        &rv,
        &home,
        &[
            "zone",
            "delete",
            "--channel",
            "retro-one",
            "--plan",
            "Weekdays",
            "Early Fringe",
        ],
        &["--yes"],
        &[],
        all,
    );
    preview_then_apply(
        db,
        &rv,
        &home,
        &[
            "zone",
            "add",
            "--channel",
            "retro-one",
            "--plan",
            "Weekdays",
            "Early Fringe",
            "--start",
            "17:00",
            "--end",
            "20:00",
            "--items",
            "roommates",
        ],
        &[],
        &[],
        all,
    );
    // channel update
    preview_then_apply(
        db,
        &rv,
        &home,
        &["channel", "update", "retro-one", "--offsets", "0"],
        &[],
        &[],
        all,
    );

    // A change that touches no stored day previews none; --seed/--now need --dry-run; a bad
    // --now is bad input naming it.
    let none = rv.json(&[
        "zone",
        "update",
        "--channel",
        "movie-one",
        "--plan",
        "Every Day",
        "Morning Matinee",
        "--enabled",
        "off",
        "--dry-run",
    ]);
    assert_eq!(none["changes"], serde_json::json!([]), "{none}");
    let added = rv.json(&[
        "program",
        "add",
        "unused",
        "--series",
        "Roommates",
        "--dry-run",
    ]);
    assert_eq!(added["changes"], serde_json::json!([]), "{added}");
    rv.ok(&["program", "add", "unused", "--series", "Roommates"]);
    let deleted = rv.json(&["program", "delete", "unused", "--dry-run"]);
    assert_eq!(deleted["dry_run"], true);
    assert_eq!(deleted["changes"], serde_json::json!([]), "{deleted}");
    // Without --dry-run there is no preview.
    let real = rv.json(&["program", "update", "unused", "--title", "U"]);
    assert!(real.get("changes").is_none(), "{real}");
    let out = rv.run(&["program", "update", "night-shift", "--seed", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dry-run"));
    assert!(rv
        .bad(&[
            "program",
            "update",
            "night-shift",
            "--title",
            "x",
            "--dry-run",
            "--now",
            "soon"
        ])
        .contains("--now"));
}

// contract: CLI-075
fn a_refused_rebuild_is_reported_not_fatal(db: &TestDb) {
    let (_home, rv) = seeded(db);
    // As-run records make 2030-01-08 aired although its window lies ahead: a change before it
    // cannot be carried through it.
    support::raw_sql(
        &rv.db,
        "INSERT INTO as_run (channel_id, playlog_id, start_ms, end_ms, kind, status) \
         SELECT channel_id, 'x', effective_start, effective_start + 1000, 'content', 'aired' \
         FROM schedule_day WHERE broadcast_date = '2030-01-08' AND is_current",
    );
    let p = rv.json(&[
        "zone",
        "update",
        "--channel",
        "retro-one",
        "--plan",
        "Weekdays",
        "Morning Reruns",
        "--items",
        "dads-garage",
        "--dry-run",
    ]);
    let refused = p["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{p}");
    assert_eq!(refused[0]["channel"], "retro-one");
    assert!(refused[0]["error"].as_str().unwrap().contains("2030-01-08"));
}

crate::on_each_backend!(
    input_verbs_preview_their_guide_changes,
    a_refused_rebuild_is_reported_not_fatal,
);
