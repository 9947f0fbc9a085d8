//! Daemon benchmark (`cargo bench --bench serve`): tune-in latency (GET → first TS byte) with the
//! synthetic and ffmpeg engines, a second viewer joining a running channel, fan-out of one
//! 8 Mbit/s channel to growing numbers of loopback viewers (drops and daemon CPU), and the idle
//! daemon's RSS with 50 channels defined. Real processes and sockets, loopback only.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::ReadSome;

use support::daemon::Daemon;

/// user + system CPU seconds of process `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// The resident memory of process `pid`, in MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb / 1024.0
}

/// Connect, ask for a channel, return the socket once the first body byte arrived, and the time
/// from sending the request to that byte.
fn tune(addr: &str, channel: &str) -> (TcpStream, Duration) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_nodelay(true).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    write!(
        socket,
        "GET /channel/{channel}.ts HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    // Head, then the first chunk-size line, then the first TS byte.
    loop {
        assert_eq!(socket.read_some(&mut byte).unwrap(), 1);
        seen.push(byte[0]);
        if seen.ends_with(b"\r\n\r\n") {
            assert!(
                seen.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&seen)
            );
            break;
        }
    }
    seen.clear();
    loop {
        assert_eq!(socket.read_some(&mut byte).unwrap(), 1);
        seen.push(byte[0]);
        if seen.ends_with(b"\r\n") {
            break;
        }
    }
    assert_eq!(socket.read_some(&mut byte).unwrap(), 1);
    let elapsed = started.elapsed();
    assert_eq!(byte[0], 0x47);
    (socket, elapsed)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

fn wait_idle(daemon: &Daemon, channel: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while daemon.channel_metric("retrovue_engine_running", channel) != 0 {
        assert!(Instant::now() < until, "engine did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cold_tune_ins(daemon: &Daemon, channel: &str, n: usize) -> Vec<Duration> {
    let mut samples = Vec::new();
    for _ in 0..n {
        wait_idle(daemon, channel);
        let (socket, elapsed) = tune(&daemon.addr, channel);
        samples.push(elapsed);
        drop(socket);
    }
    samples
}

fn bench_synthetic_tune_in(cold_n: usize, join_n: usize) {
    let daemon = Daemon::start(&["--linger-ms", "0"]);
    let mut cold = cold_tune_ins(&daemon, "retro-one", cold_n);
    println!(
        "tune-in synthetic (cold engine): n={} p50 {:.1} ms, p99 {:.1} ms",
        cold.len(),
        percentile(&mut cold, 0.5),
        percentile(&mut cold, 0.99)
    );
    let (_first, _) = tune(&daemon.addr, "toon-town");
    let mut joins = Vec::new();
    for _ in 0..join_n {
        let (socket, elapsed) = tune(&daemon.addr, "toon-town");
        joins.push(elapsed);
        drop(socket);
    }
    println!(
        "second viewer joining a running channel: n={} p50 {:.1} ms, p99 {:.1} ms",
        joins.len(),
        percentile(&mut joins, 0.5),
        percentile(&mut joins, 0.99)
    );
}

fn make_clip(path: &Path, seconds: u32) {
    let video = format!("testsrc=size=320x180:rate=10:duration={seconds}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let ok = Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio,
        ])
        .args(["-c:v", "mpeg4", "-c:a", "aac", "-shortest"])
        .arg(path)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "ffmpeg could not make a clip (run scripts/ensure-ffmpeg.sh)"
    );
}

fn bench_ffmpeg_tune_in() {
    let dir = std::env::temp_dir().join(format!("rv-bench-clips-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = dir.join("feature.mkv");
    make_clip(&clip, 900);
    let lineup = format!(
        r#"[[asset]]
id = "feature"
kind = "episode"
title = "Feature"
series = "Features"
duration_ms = 900000
path = "{}"

[[program]]
id = "features"
title = "Features"
play_mode = "sequential"
series = "Features"

[[channel]]
id = "clips"
number = "1"
name = "Clips"
timezone = "UTC"
grid_block_minutes = 15
block_start_offsets_minutes = [0, 15, 30, 45]
programming_day_start = "06:00"
break_policy = "end"
interstitials = []

  [[channel.plan]]
  name = "All Day"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "24:00"
    items = ["features"]

    [[channel.plan.zone]]
    name = "Night"
    start = "00:00"
    end = "06:00"
    items = ["features"]
"#,
        clip.display()
    );
    let lineup_path = dir.join("lineup.toml");
    std::fs::write(&lineup_path, lineup).unwrap();
    let daemon = Daemon::start(&[
        "--engine",
        "ffmpeg",
        "--linger-ms",
        "0",
        "--lineup",
        lineup_path.to_str().unwrap(),
    ]);
    let mut samples = cold_tune_ins(&daemon, "clips", 10);
    println!(
        "tune-in ffmpeg (cold engine, seek into a 15 min clip): n={} p50 {:.1} ms, p99 {:.1} ms",
        samples.len(),
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99)
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_fan_out(steps: &[usize]) {
    let daemon = Daemon::start(&["--engine-arg=--bitrate=8000000", "--linger-ms", "60000"]);
    let mut best = 0;
    for &viewers in steps {
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for _ in 0..viewers {
            let (mut socket, _) = tune(&daemon.addr, "retro-one");
            let stop = Arc::clone(&stop);
            let bytes = Arc::clone(&bytes);
            threads.push(
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        while !stop.load(Ordering::Relaxed) {
                            match socket.read_some(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                                }
                            }
                        }
                    })
                    .unwrap(),
            );
        }
        let dropped_before = daemon.channel_metric("retrovue_dropped_viewers_total", "retro-one");
        let cpu_before = cpu_seconds(daemon.pid());
        bytes.store(0, Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(5));
        let wall = started.elapsed().as_secs_f64();
        let cpu = (cpu_seconds(daemon.pid()) - cpu_before) / wall * 100.0;
        let per_viewer = bytes.load(Ordering::Relaxed) as f64 / viewers as f64 / wall * 8.0 / 1e6;
        let dropped =
            daemon.channel_metric("retrovue_dropped_viewers_total", "retro-one") - dropped_before;
        println!(
            "fan-out 8 Mbit/s: {viewers} viewers, {dropped} dropped, {per_viewer:.2} Mbit/s per viewer, daemon CPU {cpu:.0}%"
        );
        stop.store(true, Ordering::Relaxed);
        drop(threads);
        if dropped == 0 && per_viewer > 7.0 {
            best = viewers;
        } else {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    println!("fan-out: most viewers held with zero drops at full rate: {best}");
}

fn bench_idle_rss() {
    let dir = std::env::temp_dir().join(format!("rv-bench-50-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lineup = dir.join("lineup.toml");
    let ok = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["lineup", "generate", "--channels", "50", "--out"])
        .arg(&lineup)
        .env("RETROVUE_HOME", &dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let started = Instant::now();
    let daemon = Daemon::start(&["--lineup", lineup.to_str().unwrap()]);
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "idle daemon with 50 channels: RSS {:.1} MB (first start incl. import and 5-day build: {:.1} s)",
        rss_mb(daemon.pid()),
        ready.as_secs_f64()
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this runs as
    // a quick smoke run of the same code (a few tune-ins, ten viewers).
    if !std::env::args().any(|a| a == "--bench") {
        bench_synthetic_tune_in(3, 5);
        bench_fan_out(&[10]);
        return;
    }
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    if run("synthetic") {
        bench_synthetic_tune_in(30, 50);
    }
    if run("ffmpeg") {
        bench_ffmpeg_tune_in();
    }
    if run("fanout") {
        bench_fan_out(&[50, 100, 200, 400, 600, 800, 1000]);
    }
    if run("rss") {
        bench_idle_rss();
    }
}
