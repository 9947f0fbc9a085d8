//! The papercuts of issue 13 still open after the first round (CLI-025, CLI-070, CLI-077..081,
//! STORE-053): the real binary, on SQLite and PostgreSQL where the store is involved.

use std::process::{Command, Stdio};

use crate::support;
use crate::support_cli::Rv;

use support::{TempDir, TestDb};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retrovue"));
    cmd.env_remove("RETROVUE_DATABASE_URL");
    cmd
}

fn seeded(db: &TestDb) -> (TempDir, Rv) {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", DEMO]);
    rv.json(&[
        "schedule",
        "build",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
    ]);
    (home, rv)
}

// contract: CLI-025
#[test]
fn unwritable_stdout_exits_1_with_a_message() {
    // A full disk.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        &["lineup", "generate", "--channels", "2"][..],
        &["--json", "lineup", "generate", "--channels", "2"],
        &["--help"],
        &["lineup", "generate", "--help"],
    ] {
        let out = bin()
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write the output to stdout")
                && stderr.contains("No space left"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A reader that hung up (`| head -c1`): the pipe is closed before the command writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bin()
        .args(["lineup", "generate", "--channels", "40"])
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the output to stdout") && stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

// contract: CLI-077
fn out_is_the_one_spelling_and_names_are_bounded(db: &TestDb) {
    let (home, rv) = seeded(db);
    for (i, flag) in ["--out", "-o", "--output"].iter().enumerate() {
        let file = home.join(&format!("export-{i}.toml"));
        let path = file.to_str().unwrap();
        let report = rv.json(&["lineup", "export", flag, path]);
        assert_eq!(report["file"], path);
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("retro-one"));
        let guide = home.join(&format!("guide-{i}.xml"));
        rv.ok(&[
            "epg",
            "export",
            "--from",
            "2030-01-07",
            flag,
            guide.to_str().unwrap(),
        ]);
        assert!(std::fs::read_to_string(&guide)
            .unwrap()
            .starts_with("<?xml"));
        let generated = home.join(&format!("gen-{i}.toml"));
        rv.ok(&[
            "lineup",
            "generate",
            "--channels",
            "1",
            flag,
            generated.to_str().unwrap(),
        ]);
        assert!(generated.exists());
    }
    for noun in [
        &["lineup", "export"][..],
        &["epg", "export"],
        &["lineup", "generate"],
    ] {
        let help = rv.ok(&[noun, &["--help"]].concat());
        assert!(help.contains("--out"), "{help}");
        assert!(
            !help.contains("--output"),
            "the old spelling is hidden: {help}"
        );
    }

    let long = "p".repeat(65);
    let line = rv.bad(&["plan", "add", "--channel", "retro-one", &long]);
    assert!(
        line.contains("65 characters") && line.contains("at most 64"),
        "{line}"
    );
    let line = rv.bad(&[
        "zone",
        "add",
        "--channel",
        "retro-one",
        "--plan",
        "Weekdays",
        &"z".repeat(2000),
        "--start",
        "06:00",
        "--end",
        "07:00",
        "--items",
        "maple-street",
    ]);
    assert!(line.contains("at most 64"), "{line}");
    let line = rv.bad(&[
        "plan",
        "update",
        "--channel",
        "retro-one",
        "Weekdays",
        "--rename",
        "  ",
    ]);
    assert!(
        line.contains("--rename") && line.contains("empty"),
        "{line}"
    );
    assert!(rv
        .bad(&["plan", "add", "--channel", "retro-one", "tab\there"])
        .contains("control character"));
    // 64 characters is fine.
    rv.ok(&[
        "plan",
        "add",
        "--channel",
        "retro-one",
        &"p".repeat(64),
        "--dry-run",
    ]);
    let plans = rv.json(&["plan", "list", "--channel", "retro-one"]);
    assert_eq!(plans.as_array().unwrap().len(), 2, "a dry run adds nothing");
}

// contract: CLI-070
fn date_flags_are_limited_to_1970_to_9999(db: &TestDb) {
    let (_home, rv) = seeded(db);
    for (args, flag) in [
        (
            &[
                "schedule",
                "show",
                "--channel",
                "retro-one",
                "--date",
                "1969-12-31",
            ][..],
            "--date",
        ),
        (
            &[
                "epg",
                "show",
                "--channel",
                "retro-one",
                "--from",
                "0001-01-01",
            ],
            "--from",
        ),
        (
            &[
                "plan",
                "update",
                "--channel",
                "retro-one",
                "Weekdays",
                "--end-date",
                "1900-01-01",
            ],
            "--end-date",
        ),
    ] {
        let line = rv.bad(args);
        assert!(
            line.contains(flag) && line.contains("1970–9999"),
            "{args:?}: {line}"
        );
    }
}

// contract: CLI-078
fn the_guide_is_in_the_channels_local_time(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let show = |extra: &[&str]| {
        let mut args = vec![
            "epg",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07",
        ];
        args.extend_from_slice(extra);
        let out = bin()
            .args(["--db", &rv.db])
            .args(&args)
            .env("TZ", "Asia/Tokyo")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    // retro-one is America/New_York: its programming day starts at 06:00 EST = 11:00 UTC.
    let channel = show(&[]);
    assert!(
        channel.starts_with("2030-01-07 06:00–06:30 EST  "),
        "{channel}"
    );
    assert_eq!(show(&["--tz", "channel"]), channel);
    let utc = show(&["--tz", "UTC"]);
    assert!(utc.starts_with("2030-01-07 11:00–11:30 UTC  "), "{utc}");
    let local = show(&["--tz", "local"]);
    assert!(
        local.starts_with("2030-01-07 20:00–20:30 +09:00  "),
        "{local}"
    );
    assert_eq!(
        channel.split_once("  ").unwrap().1,
        utc.split_once("  ").unwrap().1
    );
    assert!(rv
        .bad(&["epg", "show", "--channel", "retro-one", "--tz", "Mars"])
        .contains("--tz"));
    let rows = rv.json(&[
        "epg",
        "show",
        "--channel",
        "retro-one",
        "--from",
        "2030-01-07",
    ]);
    assert!(rows[0]["start"].is_i64(), "--json keeps UTC milliseconds");
}

// contract: CLI-083
fn schedule_playlog_and_asrun_take_tz(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let schedule = |tz: &[&str]| {
        let mut args = vec![
            "schedule",
            "show",
            "--channel",
            "retro-one",
            "--date",
            "2030-01-07",
        ];
        args.extend_from_slice(tz);
        rv.ok(&args)
    };
    // retro-one is America/New_York: its programming day starts at 06:00 EST = 11:00 UTC.
    let utc = schedule(&[]);
    assert!(utc.contains("window 2030-01-07T11:00:00Z"), "{utc}");
    assert_eq!(schedule(&["--tz", "UTC"]), utc);
    let local = schedule(&["--tz", "channel"]);
    assert!(
        local.contains("window 2030-01-07T06:00:00-05:00"),
        "{local}"
    );
    assert!(
        local.contains("  2030-01-07T06:00:00-05:00 – "),
        "items too: {local}"
    );
    let playlog = |tz: &[&str]| {
        let mut args = vec![
            "playlog",
            "show",
            "--channel",
            "retro-one",
            "--from",
            "2030-01-07T11:00:00Z",
            "--hours",
            "1",
        ];
        args.extend_from_slice(tz);
        rv.ok(&args)
    };
    assert!(playlog(&[]).starts_with("2030-01-07T11:00:00Z – "));
    assert!(playlog(&["--tz", "channel"]).starts_with("2030-01-07T06:00:00-05:00 – "));
    for verb in [
        &["schedule", "show", "--date", "2030-01-07"][..],
        &["playlog", "show"],
        &["asrun", "show", "--date", "2030-01-07"],
    ] {
        let mut args = verb.to_vec();
        args.extend_from_slice(&["--channel", "retro-one", "--tz", "Mars"]);
        assert!(rv.bad(&args).contains("--tz"), "{verb:?}");
    }
    // The as-run of a day nothing aired on still answers in any zone.
    rv.ok(&[
        "asrun",
        "show",
        "--channel",
        "retro-one",
        "--date",
        "2030-01-07",
        "--tz",
        "local",
    ]);
}

// contract: CLI-079
fn a_program_that_can_air_nothing_warns(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let out = rv.run(&["program", "add", "ghost", "--series", "Nobody Made This"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: program ghost")
            && stderr.contains("series \"Nobody Made This\" has no assets"),
        "{stderr}"
    );
    let quiet = rv.run(&["-q", "program", "update", "ghost", "--title", "Ghost"]);
    assert!(quiet.stderr.is_empty(), "-q silences the warning");
    let fine = rv.run(&["program", "update", "maple-street", "--title", "Maple"]);
    assert!(
        !String::from_utf8_lossy(&fine.stderr).contains("warning"),
        "a program with assets does not warn"
    );
    let json = rv.json(&["program", "update", "ghost", "--title", "G", "--dry-run"]);
    assert_eq!(json["dry_run"], true, "the warning stays off stdout");
}

// contract: CLI-080
fn chapters_are_increasing_and_inside(db: &TestDb) {
    let (_home, rv) = seeded(db);
    let asset = "maple-street-s01e01";
    let line = rv.bad(&["asset", "update", asset, "--chapters", "600000,300000"]);
    assert!(
        line.contains("--chapters") && line.contains("increasing"),
        "{line}"
    );
    let line = rv.bad(&["asset", "update", asset, "--chapters", "300000,300000"]);
    assert!(line.contains("increasing"), "{line}");
    let line = rv.bad(&["asset", "update", asset, "--chapters", "300000,999999999"]);
    assert!(
        line.contains("--chapters") && line.contains("999999999"),
        "{line}"
    );
    assert!(rv
        .bad(&["asset", "update", asset, "--chapters=-5"])
        .contains("--chapters"));
    rv.ok(&["asset", "update", asset, "--chapters", "300000,600000"]);
    let shown = rv.json(&["asset", "show", asset]);
    assert!(shown.to_string().contains("[300000,600000]"), "{shown}");
}

// contract: CLI-081
#[test]
fn every_option_is_described_and_every_verb_has_an_example() {
    fn walk(cmd: &clap::Command, path: String, missing: &mut Vec<String>, n: &mut usize) {
        for a in cmd.get_arguments() {
            if a.is_hide_set() || a.get_id() == "help" || a.get_id() == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path}: {} has no description", a.get_id()));
            }
        }
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        let about = cmd.get_long_about().map(|s| s.to_string());
        let after = cmd.get_after_help().map(|s| s.to_string());
        let example = [about, after].into_iter().flatten().find_map(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("Example: ").map(String::from))
        });
        if subs.is_empty() || cmd.get_name() == "override" {
            *n += 1;
            match example {
                None => missing.push(format!("{path}: no `Example:` line")),
                Some(line) => {
                    // The example parses.
                    let words = shell_words(&line);
                    assert_eq!(words[0], "retrovue", "{line}");
                    if let Err(e) = retrovue::cli::command().try_get_matches_from(&words) {
                        missing.push(format!("{path}: example {line:?} does not parse: {e}"));
                    }
                }
            }
        }
        for s in subs {
            walk(s, format!("{path} {}", s.get_name()), missing, n);
        }
    }
    let mut missing = Vec::new();
    let mut verbs = 0;
    walk(
        &retrovue::cli::command(),
        "retrovue".into(),
        &mut missing,
        &mut verbs,
    );
    assert!(verbs > 60, "{verbs} verbs walked");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Split a command line at spaces, keeping "double-quoted words" together.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

// contract: STORE-053
#[test]
fn serve_refuses_a_damaged_sqlite_file() {
    let db = TestDb::sqlite();
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["lineup", "import", DEMO]);
    let TestDb::Sqlite { dir, .. } = &db else {
        unreachable!()
    };
    let path = dir.join("retrovue.db");
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 6 * 4096, "{}", bytes.len());
    bytes[5 * 4096..6 * 4096].fill(0xff);
    std::fs::write(&path, &bytes).unwrap();
    let mut child = bin()
        .args([
            "--db",
            db.url(),
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-build",
        ])
        .env("RETROVUE_HOME", &home.path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a daemon that started anyway is killed and the test fails.
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve started on a damaged database");
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.unwrap().code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("quick_check")
            && stderr.contains("retrovue.db")
            && stderr.contains("damaged"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was written");
}

// contract: STORE-054
fn long_ids_are_refused_by_the_store_and_derived_ids_stay_bounded(db: &TestDb) {
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["db", "migrate"]);
    // The store refuses what the CLI and lineup parser would have refused first.
    let text = std::fs::read_to_string(DEMO).unwrap();
    let mut lineup = retrovue_core::lineup::parse_lineup(&text, DEMO).unwrap();
    let mut store = retrovue::store::open(db.url()).unwrap();
    let mut long = lineup.clone();
    long.channels.truncate(1);
    long.channels[0].id = "c".repeat(65);
    let error = store.import_lineup(&long).unwrap_err();
    assert_eq!(error.kind, retrovue::store::StoreErrorKind::BadInput);
    assert!(error.message.contains("channel id") && error.message.contains("at most 64"));
    let program = lineup.catalog.programs.values().next().unwrap().clone();
    lineup.channels.clear();
    let mut renamed = program.clone();
    renamed.id = "p".repeat(2000);
    lineup.catalog.programs.insert(renamed.id.clone(), renamed);
    let error = store.import_lineup(&lineup).unwrap_err();
    assert!(error.message.contains("program id"), "{}", error.message);
    assert_eq!(
        store.load_lineup().unwrap().channels.len(),
        0,
        "nothing of the transaction is stored"
    );
    drop(store);

    // Collections discovered from long folder names get bounded, distinct ids.
    let media = TempDir::new("rvmedia-");
    let a = media.join(&format!("{}-a", "Very Long Folder Name ".repeat(6)));
    let b = media.join(&format!("{}-b", "Very Long Folder Name ".repeat(6)));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let source = "s".repeat(60);
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--id",
        &source,
        "--path",
        a.to_str().unwrap(),
        "--path",
        b.to_str().unwrap(),
    ]);
    rv.ok(&["source", "discover", &source]);
    let list = rv.json(&["collection", "list", "--source", &source]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert!(id.len() <= 64, "{id}");
        assert!(retrovue_core::validate::is_slug(id), "{id}");
    }
}

crate::on_each_backend!(
    out_is_the_one_spelling_and_names_are_bounded,
    date_flags_are_limited_to_1970_to_9999,
    the_guide_is_in_the_channels_local_time,
    schedule_playlog_and_asrun_take_tz,
    a_program_that_can_air_nothing_warns,
    long_ids_are_refused_by_the_store_and_derived_ids_stay_bounded,
    chapters_are_increasing_and_inside,
);
