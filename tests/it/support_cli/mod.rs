//! Running the real `retrovue` binary against a test database, for the CLI contract tests.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The binary bound to one database URL, with a private RETROVUE_HOME.
pub struct Rv {
    pub db: String,
    home: std::path::PathBuf,
}

impl Rv {
    pub fn new(db: &str, home: &Path) -> Rv {
        Rv {
            db: db.to_string(),
            home: home.to_path_buf(),
        }
    }

    /// Runs `retrovue --db DB ARGS` with stdin closed (not a terminal).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_retrovue"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("RETROVUE_DATABASE_URL")
            .env("RETROVUE_HOME", &self.home)
            .output()
            .unwrap()
    }

    /// Runs and asserts exit 0; stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "retrovue {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// CLI-001: runs with `--json`, asserts exit 0 and that stdout is one JSON document.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("--json {args:?} printed non-JSON ({e}): {text}"))
    }

    /// CLI-002: runs, asserts exit 2 with exactly one stderr line; that line.
    pub fn bad(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(2),
            "retrovue {args:?} should be bad input: {stderr}"
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "bad input is one line on stderr: {stderr}"
        );
        stderr.trim_end().to_string()
    }
}

/// Writes an empty "video" with a sidecar giving its duration (no probe needed).
pub fn fake_video(root: &Path, relative: &str, duration_ms: i64) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    let mut sidecar = path.into_os_string();
    sidecar.push(".retrovue.json");
    std::fs::write(sidecar, format!("{{\"duration_ms\": {duration_ms}}}")).unwrap();
}
