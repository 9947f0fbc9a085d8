//! The one daemon harness of the tests: `retrovue serve` on a free loopback port with its own
//! `RETROVUE_HOME`, the synthetic engine unless a test names another, its log kept for asserts,
//! and killed on drop (its engines die with it: parent-death signal).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TempDir;

pub fn retrovue() -> &'static str {
    env!("CARGO_BIN_EXE_retrovue")
}

/// A running daemon.
pub struct Daemon {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    home: Option<TempDir>,
}

impl Daemon {
    pub fn start(args: &[&str]) -> Daemon {
        Daemon::start_in(TempDir::new("rv-serve"), args)
    }

    /// A daemon on an existing `RETROVUE_HOME` (a restart, or a store prepared by the CLI).
    pub fn start_in(home: TempDir, args: &[&str]) -> Daemon {
        let mut argv = vec!["serve", "--bind", "127.0.0.1:0"];
        // A short linger keeps the tests quick, unless a run names its own.
        if !args.contains(&"--linger-ms") {
            argv.extend(["--linger-ms", "500"]);
        }
        argv.extend_from_slice(args);
        // The default engine is ffmpeg when installed (DAEMON-011); these runs want the
        // synthetic one unless they name another.
        if !args.contains(&"--engine") {
            argv.extend(["--engine", "synthetic"]);
        }
        Daemon::run_exactly(home, &argv)
    }

    /// `retrovue ARGV` exactly as given (a `serve` command, e.g. one of the README's), on its
    /// own `RETROVUE_HOME`; returns once it printed its address.
    pub fn run_exactly(home: TempDir, argv: &[&str]) -> Daemon {
        let mut child = Command::new(retrovue())
            .args(argv)
            .env("RETROVUE_HOME", &home.path)
            .env_remove("RETROVUE_DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start retrovue serve");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[daemon] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the daemon prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Daemon {
            child,
            addr,
            log,
            home: Some(home),
        }
    }

    /// Kill the daemon, keeping its home for a restart.
    pub fn kill(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.home.take().unwrap()
    }

    /// SIGTERM, then wait (bounded) for the exit.
    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "daemon did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn db(&self) -> PathBuf {
        self.home.as_ref().unwrap().join("retrovue.db")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's engine processes.
    pub fn engines(&self) -> Vec<u32> {
        children(self.pid())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// (status, body) of a GET.
    pub fn get(&self, path: &str) -> (u16, String) {
        match ureq::get(&self.url(path))
            .timeout(Duration::from_secs(20))
            .call()
        {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// A daemon-wide metric (a series `NAME` without a channel label; a cluster node's
    /// `node="…"` label is ignored, HTTP-041).
    pub fn metric(&self, name: &str) -> i64 {
        self.metric_value(name, None)
    }

    /// A channel's metric (`NAME{channel="ID"}`, any `node` label ignored).
    pub fn channel_metric(&self, name: &str, channel: &str) -> i64 {
        self.metric_value(name, Some(channel))
    }

    fn metric_value(&self, name: &str, channel: Option<&str>) -> i64 {
        let (status, text) = self.get("/metrics");
        assert_eq!(status, 200);
        find_metric(&text, name, channel)
            .unwrap_or_else(|| panic!("no {name} (channel {channel:?}) in metrics:\n{text}"))
    }

    /// `http://ADDR`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (status, body bytes, content type) of a request with any method.
    pub fn request(&self, method: &str, path: &str) -> (u16, Vec<u8>, String) {
        let answer = match ureq::request(method, &self.url(path))
            .timeout(Duration::from_secs(20))
            .call()
        {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = answer.status();
        let kind = answer.header("Content-Type").unwrap_or("").to_string();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut answer.into_reader(), &mut body).unwrap();
        (status, body, kind)
    }

    /// A 200 JSON answer, parsed.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The first log line containing `needle`, waiting for it up to `secs`.
    pub fn log_line(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no log line with {needle:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Daemon log lines containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of series `name` with the given channel label (or none), in a Prometheus text;
/// other labels (a cluster node's `node`) are ignored.
pub fn find_metric(text: &str, name: &str, channel: Option<&str>) -> Option<i64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let found = labels
                .split(',')
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| *k == "channel")
                .map(|(_, v)| v.trim_matches('"'));
            (found == channel).then(|| value.trim().parse().ok())?
        })
}

/// Direct children of a process (every thread's children, from /proc).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out
}

/// Is `pid` a live (non-zombie) process?
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// Poll `check` until it holds or `secs` pass.
pub fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A lineup channel (UTC, 30-minute grid) whose plan airs `item` all day.
pub fn channel_toml(id: &str, number: &str, item: &str) -> String {
    format!(
        r#"
[[channel]]
id = "{id}"
number = "{number}"
name = "Channel {id}"
group = "Test"
timezone = "UTC"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = []

  [[channel.plan]]
  name = "All Day"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "24:00"
    items = ["{item}"]

    [[channel.plan.zone]]
    name = "Night"
    start = "00:00"
    end = "06:00"
    items = ["{item}"]
"#
    )
}
