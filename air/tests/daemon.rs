//! `retrovue serve --engine air` against the fake AIR (contracts/engine-air.md AIR-010): the
//! daemon resolves the adapter next to itself, two viewers share one adapter and one AIR, and the
//! as-run comes from AIR's evidence. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The target directory's binaries: the adapter's, and the daemon's (built here if missing).
fn retrovue() -> PathBuf {
    let adapter = PathBuf::from(env!("CARGO_BIN_EXE_retrovue-engine-air"));
    let daemon = adapter.with_file_name("retrovue");
    if !daemon.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "retrovue", "--bin", "retrovue"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cannot build the retrovue daemon");
    }
    assert!(daemon.is_file(), "no daemon at {}", daemon.display());
    daemon
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn children(pid: u32) -> Vec<u32> {
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

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Tunes `channel` and reads at least `n` body bytes; returns the open socket.
fn view(addr: &str, channel: &str, n: usize) -> TcpStream {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        socket,
        "GET /channel/{channel}.ts HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < n {
        // A read with a timeout fails with Interrupted after a stop and continue: not an end.
        let k = loop {
            match socket.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => break result,
            }
        }
        .expect("the stream flows");
        assert!(k > 0, "stream ended after {} bytes", got.len());
        got.extend_from_slice(&buf[..k]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &got[..40.min(got.len())]
    );
    socket
}

fn lineup(dir: &Path) -> String {
    let text = r#"
[[channel]]
id = "alpha"
number = "10"
name = "Channel alpha"
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
    items = ["synthetic:bars:1800000"]

    [[channel.plan.zone]]
    name = "Night"
    start = "00:00"
    end = "06:00"
    items = ["synthetic:bars:1800000"]
"#;
    let path = dir.join("lineup.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

/// The broadcast date (day start 06:00 UTC) of a UTC instant, as YYYY-MM-DD.
fn broadcast_date(ms: i64) -> String {
    let days = (ms - 6 * 3_600_000).div_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn serve_engine_air_shares_one_air_and_records_as_run_from_its_evidence() {
    // contract: AIR-010
    let daemon_exe = retrovue();
    let home = TempDir::new("rv-air-serve");
    let lineup = lineup(&home.0);
    let log = home.0.join("fake-air.log");
    let mut child = Command::new(&daemon_exe)
        .args(["serve", "--bind", "127.0.0.1:0", "--linger-ms", "500"])
        .args(["--engine", "air", "--lineup", &lineup])
        .env("RETROVUE_HOME", &home.0)
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_AIR", env!("CARGO_BIN_EXE_retrovue-air-fake"))
        .env("FAKE_AIR_LOG", &log)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start retrovue serve");
    let stdout = child.stdout.take().unwrap();
    let daemon = Daemon(child);
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

    let first = view(&addr, "alpha", 10_000);
    let second = view(&addr, "alpha", 10_000);
    let adapters = children(daemon.0.id());
    assert_eq!(adapters.len(), 1, "one adapter for two viewers");
    let airs = children(adapters[0]);
    assert_eq!(airs.len(), 1, "one AIR behind the adapter");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("pid ")).count(),
        1,
        "{text}"
    );
    assert!(text.contains("channel=alpha"), "{text}");
    eventually(20, "AIR's evidence written and acknowledged", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .any(|l| l.starts_with("hello-acked"))
    });
    drop(first);
    drop(second);
    // After the linger the channel stops: Stop → Detach → AIR terminated; the segment that was on
    // air is recorded as truncated by the stop, from AIR's evidence.
    let air = airs[0];
    eventually(20, "AIR gone after the linger", || !alive(air));
    eventually(20, "adapter gone after the linger", || {
        children(daemon.0.id()).is_empty()
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Stop reason=stop"), "{text}");
    let date = broadcast_date(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let mut records = Vec::new();
    eventually(20, "as-run records", || {
        let out = Command::new(&daemon_exe)
            .args([
                "--json",
                "asrun",
                "show",
                "--channel",
                "alpha",
                "--date",
                &date,
            ])
            .env("RETROVUE_HOME", &home.0)
            .env_remove("RETROVUE_DATABASE_URL")
            .output()
            .unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        records = value.as_array().cloned().unwrap_or_default();
        !records.is_empty()
    });
    let text = serde_json::to_string(&records).unwrap();
    assert!(text.contains("truncated"), "{text}");
}
