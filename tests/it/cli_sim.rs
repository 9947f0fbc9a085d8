//! `retrovue sim` through the real binary: JSON fields (SIM-003), seed first, exit codes.

use std::process::Command;

fn retrovue(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run retrovue")
}

const DEMO: &str = "fixtures/demo/lineup.toml";

#[test]
fn json_output_has_the_interface_fields() {
    // contract: SIM-003
    let out = retrovue(&[
        "sim",
        "--lineup",
        DEMO,
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--seed",
        "5",
        "--json",
        "--faults",
        "crash:rate=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON object and nothing else");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["seed"], 5);
    assert_eq!(doc["start"], "2026-03-02");
    assert_eq!(doc["days"], 1);
    for key in ["tune_ins", "engine_starts", "engine_crashes", "restarts"] {
        assert!(doc["stats"][key].is_u64(), "stats.{key}");
    }
    assert_eq!(doc["digest"].as_str().unwrap().len(), 64);
    let channels = doc["channels"].as_array().unwrap();
    assert!(channels.len() >= 4);
    for ch in channels {
        let day = &ch["schedule_days"][0];
        for key in ["date", "plan", "start", "end", "items"] {
            assert!(!day[key].is_null(), "schedule_days[].{key}");
        }
        let item = &day["items"][0];
        for key in ["start", "end", "asset", "runtime_ms", "blocks"] {
            assert!(!item[key].is_null(), "items[].{key}");
        }
        let row = &ch["epg"][0];
        for key in ["start", "end", "title", "filler"] {
            assert!(!row[key].is_null(), "epg[].{key}");
        }
        let event = &ch["playlog"][0];
        for key in ["id", "start", "end", "kind", "in_point_ms", "duration_ms"] {
            assert!(!event[key].is_null(), "playlog[].{key}");
        }
        assert!(event["start"].as_str().unwrap().ends_with('Z'));
        let asrun = &ch["asrun"][0];
        for key in ["playlog_id", "start", "end", "status"] {
            assert!(!asrun[key].is_null(), "asrun[].{key}");
        }
        assert!(ch["violations"].as_array().unwrap().is_empty());
    }
}

#[test]
fn human_report_prints_the_seed_first_and_is_repeatable() {
    // contract: SIM-002
    // contract: SIM-008
    let args = [
        "sim",
        "--lineup",
        DEMO,
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--seed",
        "11",
    ];
    let first = retrovue(&args);
    let second = retrovue(&args);
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(first.stdout, second.stdout);
    let text = String::from_utf8(first.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("seed 11"));
    assert!(text.ends_with("violations: 0\n"));
}

#[test]
fn bad_options_exit_2_with_a_clear_line() {
    // contract: SIM-004
    // contract: SIM-005
    let cases: [(&[&str], &str); 5] = [
        (&["--faults", "meteor:retro-one"], "meteor"),
        (
            &["--faults", "crash:nowhere@2026-03-02T12:00:00Z"],
            "nowhere",
        ),
        (&["--viewers", "crowd"], "crowd"),
        (&["--start", "2026-13-40"], "--start"),
        (&["--days", "0"], "--days"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["sim", "--lineup", DEMO, "--start", "2026-03-02"];
        args.extend_from_slice(extra);
        let out = retrovue(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = retrovue(&["sim", "--lineup", "fixtures/no-such-lineup.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn without_a_lineup_the_bundled_demo_runs() {
    // contract: SIM-010
    // Run from a directory with no fixtures: the demo is bundled into the binary.
    let output = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["sim", "--start", "2026-03-02", "--days", "1", "--json"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run retrovue");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = value["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/demo/lineup.toml"
    ))
    .unwrap();
    assert!(ids.len() >= 4, "{ids:?}");
    for id in ids {
        assert!(
            demo.contains(&format!("id = \"{id}\"")),
            "{id} is not a demo channel"
        );
    }
}

#[test]
fn a_violated_invariant_exits_1() {
    // contract: SIM-012
    // A keeper that keeps only 10 s of playlog ahead cannot let the manager feed 30 s ahead:
    // the simulator reports `horizon_short` and exits 1.
    let output = retrovue(&[
        "sim",
        "--lineup",
        DEMO,
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--viewers",
        "constant:1",
        "--days-ahead",
        "0",
        "--playlog-ahead-s",
        "10",
        "--playlog-refill-s",
        "60",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("horizon_short"), "{report}");
    assert_ne!(report.lines().last(), Some("violations: 0"));
    // The same run with the default horizons is clean.
    let output = retrovue(&[
        "sim",
        "--lineup",
        DEMO,
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--viewers",
        "constant:1",
    ]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_random_seed_is_drawn_printed_first_and_repeatable() {
    // contract: SIM-016
    // contract: SIM-002
    let base = [
        "sim",
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--faults",
        "swarm",
        "--json",
    ];
    let run_with = |seed: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--seed", seed]);
        let out = retrovue(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--seed {seed}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("{\"seed\":"),
            "the seed comes first: {text:.40}"
        );
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let first = run_with("random");
    let seed = first["seed"].as_u64().expect("a drawn u64 seed");
    let second = run_with("random");
    assert_ne!(
        second["seed"].as_u64(),
        Some(seed),
        "two draws give two seeds"
    );
    let again = run_with(&seed.to_string());
    assert_eq!(again["seed"].as_u64(), Some(seed));
    assert_eq!(
        again["digest"], first["digest"],
        "rerun with the printed seed"
    );
    assert_eq!(again["faults"], first["faults"], "the same swarm mix");
    // The human report prints the drawn seed as its first line.
    let out = retrovue(&[
        "sim",
        "--start",
        "2026-03-02",
        "--days",
        "1",
        "--seed",
        "random",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let first_line = text.lines().next().unwrap();
    let drawn = first_line.strip_prefix("seed ").expect("seed N first");
    assert!(drawn.parse::<u64>().is_ok(), "{first_line}");
}

#[test]
fn a_bad_seed_exits_2_naming_the_option() {
    // contract: SIM-016
    for bad in ["nope", "1.5", "18446744073709551616", ""] {
        let out = retrovue(&["sim", "--start", "2026-03-02", "--days", "1", "--seed", bad]);
        assert_eq!(out.status.code(), Some(2), "--seed {bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--seed"), "--seed {bad:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn store_faults_and_rebuilds_are_counted_in_stats() {
    // contract: SIM-014
    // contract: SIM-015
    // contract: SIM-005
    let out = retrovue(&[
        "sim",
        "--start",
        "2026-03-02",
        "--days",
        "2",
        "--seed",
        "3",
        "--faults",
        "store:p=0.5,rebuild:p=1",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["store_failures", "keeper_retries", "rebuilds"] {
        assert!(
            doc["stats"][key].as_u64().unwrap() > 0,
            "stats.{key}: {}",
            doc["stats"]
        );
    }
    assert_eq!(doc["faults"], "store:p=0.5,rebuild:p=1");
    for bad in ["store:p=2", "rebuild:0.5", "store:p=x"] {
        let out = retrovue(&["sim", "--start", "2026-03-02", "--faults", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad), "{bad}");
    }
}
