//! `retrovue lineup validate|generate` through the real binary: exit codes, stdout/stderr and
//! the shipped fixtures (contracts/lineup.md, contracts/generator.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn retrovue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(args)
        .current_dir(root())
        .env_remove("RETROVUE_DATABASE_URL")
        .output()
        .expect("run retrovue")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch directory under the target dir (tests run in parallel: one per test).
fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

// contract: LINEUP-012
// contract: LINEUP-013
#[test]
fn demo_lineup_validates_cleanly() {
    let out = retrovue(&["lineup", "validate", "fixtures/demo/lineup.toml"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("OK fixtures/demo/lineup.toml: ") && stdout.contains("4 channels"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

// contract: LINEUP-014
// contract: LINEUP-012
#[test]
fn every_broken_fixture_fails_naming_its_key() {
    let cases = [
        ("bad-grid", "] grid_block_minutes: ", "must be 15, 30 or 60"),
        (
            "offset-off-grid",
            "] block_start_offsets_minutes: ",
            "not a multiple of the 30-minute grid",
        ),
        (
            "day-start-off-grid",
            "] programming_day_start: ",
            "not on a grid boundary",
        ),
        (
            "zone-overlap",
            ".zone[1] \"Night\"] start: ",
            "overlaps zone \"Day\"",
        ),
        (
            "unknown-reference",
            ".zone[0] \"Day\"] items: ",
            "\"maple-st\" is not a program",
        ),
        ("bad-duration", "] duration: ", "not a duration HH:MM:SS"),
        (
            "unknown-key",
            ".plan[0] \"Daily\"] priorty: ",
            "unknown key",
        ),
        ("bad-timezone", "] timezone: ", "not an IANA time zone"),
    ];
    let listed: Vec<String> = std::fs::read_dir(root().join("fixtures/broken"))
        .expect("fixtures/broken")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed.len(), cases.len(), "every broken fixture has a case");
    for (name, location, message) in cases {
        let file = format!("fixtures/broken/{name}.toml");
        let out = retrovue(&["lineup", "validate", &file]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{file}: stdout {}",
            text(&out.stdout)
        );
        let line = stderr
            .lines()
            .find(|l| l.contains(location))
            .unwrap_or_else(|| panic!("{file}: no {location:?} in {stderr}"));
        assert!(
            line.contains(&file) && line.contains(message),
            "{file}: {line}"
        );
    }
}

// contract: LINEUP-001
// contract: LINEUP-012
#[test]
fn all_errors_are_printed_one_per_line() {
    let dir = scratch("all-errors");
    let broken = std::fs::read_to_string(root().join("fixtures/broken/bad-grid.toml"))
        .unwrap()
        .replace("America/New_York", "Mars/Olympus")
        .replace("kind = \"commercial\"", "kind = \"advert\"");
    let file = dir.join("three.toml");
    std::fs::write(&file, broken).unwrap();
    let out = retrovue(&["lineup", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for key in ["] grid_block_minutes: ", "] timezone: ", "] kind: "] {
        assert!(stderr.contains(key), "{key} missing from {stderr}");
    }
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
}

// contract: LINEUP-012
#[test]
fn unreadable_file_is_bad_input_naming_the_path() {
    let out = retrovue(&["lineup", "validate", "fixtures/no-such-lineup.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("fixtures/no-such-lineup.toml"));
}

// contract: LINEUP-012
#[test]
fn json_output_is_one_object_on_stdout() {
    let out = retrovue(&[
        "--json",
        "lineup",
        "validate",
        "fixtures/broken/zone-overlap.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(value["ok"], false);
    let errors = value["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["key"], "start");
    assert_eq!(
        errors[0]["table"],
        "channel[0] \"retro-one\".plan[0] \"Daily\".zone[1] \"Night\""
    );

    let out = retrovue(&["lineup", "validate", "--json", "fixtures/demo/lineup.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(value["ok"], true);
    assert_eq!(value["errors"].as_array().unwrap().len(), 0);
    assert_eq!(value["warnings"].as_array().unwrap().len(), 0);
}

// contract: LINEUP-011
// contract: LINEUP-012
#[test]
fn warnings_go_to_stderr_and_do_not_fail() {
    let dir = scratch("warnings");
    let gap = std::fs::read_to_string(root().join("fixtures/broken/zone-overlap.toml"))
        .unwrap()
        .replace("end = \"21:00\"", "end = \"18:00\"");
    let file = dir.join("gap.toml");
    std::fs::write(&file, gap).unwrap();
    let out = retrovue(&["lineup", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: ") && stderr.contains("18:00–20:00"),
        "{stderr}"
    );
}

// contract: GEN-005
// contract: GEN-001
// contract: GEN-004
#[test]
fn generate_writes_a_valid_deterministic_lineup() {
    let first = retrovue(&["lineup", "generate", "--channels", "3", "--seed", "11"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let again = retrovue(&["lineup", "generate", "--channels", "3", "--seed", "11"]);
    assert_eq!(first.stdout, again.stdout);
    let other = retrovue(&["lineup", "generate", "--channels", "3", "--seed", "12"]);
    assert_ne!(first.stdout, other.stdout);

    let dir = scratch("generate");
    let file = dir.join("bench.toml");
    let path = file.to_str().unwrap();
    let out = retrovue(&[
        "lineup",
        "generate",
        "--channels",
        "3",
        "--seed",
        "11",
        "--out",
        path,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(Path::new(path)).unwrap(), first.stdout);
    let check = retrovue(&["lineup", "validate", path]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("2800 assets"));
    assert!(text(&check.stdout).contains("3 channels"));

    assert_eq!(
        retrovue(&["lineup", "generate", "--channels", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(retrovue(&["lineup", "generate"]).status.code(), Some(2));
}

#[test]
fn output_piped_into_a_closed_pipe_ends_quietly() {
    // contract: CLI-025
    // A reader that hangs up early (like `head -1`) must not make the CLI panic.
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["lineup", "generate", "--channels", "40", "--seed", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
