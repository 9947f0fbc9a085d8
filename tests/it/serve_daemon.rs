//! `retrovue serve` end to end: real daemon processes, real engines, real loopback sockets
//! (contracts/daemon.md, contracts/http.md). Every wait is bounded.

use crate::support::daemon::{alive, channel_toml, children, eventually, retrovue, Daemon};
use crate::support::TempDir;
use crate::support::{raw_get, RawAnswer, ReadSome};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running daemon; killed on drop (its engines die with it: parent-death signal).
/// A viewer on a raw socket: the response head is read, the body is left to the caller.
struct Viewer {
    socket: TcpStream,
    status: u16,
    head: String,
}

impl Viewer {
    fn tune(addr: &str, channel: &str) -> Viewer {
        let RawAnswer {
            socket,
            status,
            head,
        } = raw_get(addr, &format!("/channel/{channel}.ts"));
        Viewer {
            socket,
            status,
            head,
        }
    }

    /// Read at least `n` raw body bytes (chunk framing included).
    fn read_at_least(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while out.len() < n {
            let got = self
                .socket
                .read_some(&mut buf)
                .expect("stream keeps flowing");
            assert!(got > 0, "stream ended after {} bytes", out.len());
            out.extend_from_slice(&buf[..got]);
        }
        out
    }
}

/// A lineup whose channels play synthetic bars all day; `broken` plays a file that is missing.
fn synthetic_lineup(dir: &Path) -> String {
    let channel = channel_toml;
    let text = format!(
        r#"
[[asset]]
id = "lost-tape"
kind = "episode"
title = "The Lost Tape"
series = "Lost"
season = 1
episode = 1
duration_ms = 1800000
path = "/nonexistent/retrovue/lost-tape.mkv"

[[program]]
id = "lost"
title = "Lost"
play_mode = "sequential"
series = "Lost"
{}{}{}"#,
        channel("alpha", "10", "synthetic:bars:1800000"),
        channel("beta", "2", "synthetic:bars:1800000"),
        channel("broken", "3.1", "lost"),
    );
    let path = dir.join("lineup.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

fn ensure_ffmpeg() {
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new("bash")
        .arg(format!("{root}/scripts/ensure-ffmpeg.sh"))
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg is needed");
}

/// ffprobe's stream types of a TS file.
fn ffprobe_streams(path: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .collect()
}

fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let Ok(len) = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap_or("x"), 16)
        else {
            break;
        };
        let start = end + 2;
        if len == 0 || rest.len() < start + len + 2 {
            out.extend_from_slice(&rest[start..rest.len().min(start + len)]);
            break;
        }
        out.extend_from_slice(&rest[start..start + len]);
        rest = &rest[start + len + 2..];
    }
    out
}

#[test]
fn first_start_imports_the_demo_and_serves_m3u_api_and_stream() {
    // contract: DAEMON-001
    // contract: HTTP-001
    // contract: HTTP-002
    // contract: HTTP-006
    ensure_ffmpeg();
    let daemon = Daemon::start(&[]);
    let (status, m3u) = daemon.get("/channellist.m3u");
    assert_eq!(status, 200);
    let base = format!("http://{}", daemon.addr);
    assert!(m3u.starts_with(&format!(
        "#EXTM3U url-tvg=\"{base}/epg.xml\" x-tvg-url=\"{base}/epg.xml\"\n"
    )));
    let ids: Vec<&str> = m3u
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{base}/channel/")))
        .collect();
    // Every active demo channel, by guide number (2, 7, 11, 44).
    assert_eq!(
        ids,
        vec![
            "retro-one.ts",
            "movie-one.ts",
            "toon-town.ts",
            "sitara-tv.ts"
        ]
    );
    assert!(m3u.contains(&format!(
        "#EXTINF:-1 tvg-id=\"retro-one\" tvg-chno=\"2\" tvg-name=\"Retro One\" tvg-logo=\"{base}/logo/retro-one.svg\" group-title=\"Classics\",Retro One"
    )));

    let (status, now) = daemon.get("/api/channels/retro-one/now");
    assert_eq!(status, 200, "{now}");
    let now: serde_json::Value = serde_json::from_str(&now).unwrap();
    assert!(now["event"]["id"]
        .as_str()
        .unwrap()
        .starts_with("retro-one:"));
    let (status, channels) = daemon.get("/api/channels");
    assert_eq!(status, 200);
    let channels: serde_json::Value = serde_json::from_str(&channels).unwrap();
    assert_eq!(channels.as_array().unwrap().len(), 4);
    let (status, epg) = daemon.get("/api/epg?channel=retro-one");
    assert_eq!(status, 200);
    let rows: serde_json::Value = serde_json::from_str(&epg).unwrap();
    assert!(rows.as_array().unwrap().len() >= 24, "a day of guide rows");
    assert_eq!(daemon.get("/api/epg?from=yesterday").0, 400);
    assert!(daemon.channel_metric("retrovue_horizon_days", "retro-one") >= 4);
    assert!(daemon.channel_metric("retrovue_horizon_playlog_seconds", "retro-one") >= 6 * 3600);

    // The stream: ffprobe recognises MPEG-TS with video and audio.
    let mut viewer = Viewer::tune(&daemon.addr, "retro-one");
    assert_eq!(viewer.status, 200, "{}", viewer.head);
    assert!(viewer.head.contains("Content-Type: video/mp2t"));
    assert!(viewer.head.contains("Transfer-Encoding: chunked"));
    let raw = viewer.read_at_least(400_000);
    let ts = dechunk(&raw);
    assert!(ts.len() >= 300_000);
    assert!(
        ts.chunks_exact(188).all(|p| p[0] == 0x47),
        "whole packets from the first byte"
    );
    let home = TempDir::new("rv-probe");
    let file = home.path.join("stream.ts");
    std::fs::write(&file, &ts).unwrap();
    let streams = ffprobe_streams(&file);
    assert!(streams.contains(&"video".to_string()), "{streams:?}");
    assert!(streams.contains(&"audio".to_string()), "{streams:?}");
}

#[test]
fn viewers_share_one_engine_which_stops_after_the_linger() {
    // contract: DAEMON-002
    // contract: DAEMON-003
    let dir = TempDir::new("rv-lineup");
    let lineup = synthetic_lineup(&dir.path);
    let daemon = Daemon::start(&["--lineup", &lineup]);
    assert!(
        children(daemon.pid()).is_empty(),
        "no engine before a viewer"
    );
    let mut first = Viewer::tune(&daemon.addr, "alpha");
    assert_eq!(first.status, 200);
    first.read_at_least(10_000);
    let engines = children(daemon.pid());
    assert_eq!(engines.len(), 1, "one engine for the first viewer");
    let mut second = Viewer::tune(&daemon.addr, "alpha");
    assert_eq!(second.status, 200);
    second.read_at_least(10_000);
    first.read_at_least(10_000);
    assert_eq!(
        children(daemon.pid()),
        engines,
        "the second viewer shares the engine"
    );
    eventually(10, "two viewers counted", || {
        daemon.channel_metric("retrovue_viewers", "alpha") == 2
    });

    // A second channel gets its own engine; the first one is untouched.
    let mut other = Viewer::tune(&daemon.addr, "beta");
    other.read_at_least(10_000);
    assert_eq!(children(daemon.pid()).len(), 2);
    drop(other);

    drop(first);
    drop(second);
    let engine = engines[0];
    eventually(15, "engine stopped after the linger", || !alive(engine));
    eventually(15, "no engines left", || children(daemon.pid()).is_empty());
    assert_eq!(daemon.channel_metric("retrovue_engine_running", "alpha"), 0);
    assert_eq!(
        daemon.channel_metric("retrovue_engine_restarts_total", "alpha"),
        0
    );
}

#[test]
fn refusals_404_500_503_start_no_engine() {
    // contract: HTTP-003
    // contract: HTTP-008
    let dir = TempDir::new("rv-lineup");
    let lineup = synthetic_lineup(&dir.path);
    // The days on air were built (by the CLI) while the file was thought present; the daemon
    // leaves missing files out of the days it builds (DAEMON-009), but a day on air is never
    // rewritten, so its missing file is answered 500.
    let home = TempDir::new("rv-serve");
    let cli = |args: &[&str]| {
        let out = Command::new(retrovue())
            .args(args)
            .env("RETROVUE_HOME", &home.path)
            .env_remove("RETROVUE_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&["lineup", "import", &lineup]);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    cli(&[
        "schedule",
        "build",
        "--channel",
        "broken",
        "--from",
        &yesterday,
        "--days",
        "3",
    ]);
    let daemon = Daemon::start_in(home, &["--lineup", &lineup]);
    let (status, body) = daemon.get("/channel/nope.ts");
    assert_eq!(
        (status, body.as_str()),
        (404, "404 unknown channel \"nope\"\n")
    );
    let (status, body) = daemon.get("/channel/broken.ts");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("lost-tape") && body.contains("missing"),
        "{body}"
    );
    assert!(
        children(daemon.pid()).is_empty(),
        "no engine for a missing file"
    );
    assert_eq!(
        daemon.channel_metric("retrovue_engine_starts_total", "broken"),
        0
    );
    // Another channel is unaffected.
    let mut viewer = Viewer::tune(&daemon.addr, "alpha");
    assert_eq!(viewer.status, 200);
    viewer.read_at_least(1_000);
    drop(viewer);

    assert_eq!(daemon.get("/channel/../alpha.ts").0, 404);
    assert_eq!(daemon.get("/nothing").0, 404);
    assert_eq!(daemon.get(&format!("/{}", "a".repeat(2000))).0, 404);
    let post = ureq::post(&daemon.url("/channellist.m3u")).call();
    match post {
        Err(ureq::Error::Status(code, r)) => {
            assert_eq!(code, 405);
            assert_eq!(r.header("Allow"), Some("GET, HEAD"));
        }
        other => panic!("POST answered {other:?}"),
    }
    assert_eq!(daemon.get("/healthz"), (200, "ok\n".to_string()));

    // A node that builds nothing has a gap at now: 503, no engine.
    let empty = Daemon::start(&["--no-build"]);
    let (status, body) = empty.get("/channel/retro-one.ts");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("gap"), "{body}");
    assert!(children(empty.pid()).is_empty());
    assert_eq!(empty.get("/api/channels/retro-one/now").0, 503);
}

#[test]
fn a_crashed_engine_is_restarted_and_viewers_keep_receiving() {
    // contract: DAEMON-004
    // contract: ASRUN-001
    let dir = TempDir::new("rv-lineup");
    let lineup = synthetic_lineup(&dir.path);
    let home = TempDir::new("rv-serve");
    let db = home.path.join("retrovue.db");
    let daemon = Daemon::start_in(home, &["--lineup", &lineup]);
    let mut viewer = Viewer::tune(&daemon.addr, "alpha");
    assert_eq!(viewer.status, 200);
    viewer.read_at_least(20_000);
    let engines = children(daemon.pid());
    assert_eq!(engines.len(), 1);
    unsafe {
        libc::kill(engines[0] as i32, libc::SIGKILL);
    }
    eventually(15, "a new engine", || {
        let now = children(daemon.pid());
        now.len() == 1 && now != engines
    });
    // Drain what was queued before the crash, then the new engine's packets must arrive.
    viewer.read_at_least(50_000);
    let after = viewer.read_at_least(100_000);
    assert!(after.len() >= 100_000);
    assert!(daemon.channel_metric("retrovue_engine_restarts_total", "alpha") >= 1);
    assert_eq!(daemon.channel_metric("retrovue_viewers", "alpha"), 1);
    // What was on air when the engine was killed is recorded as truncated at the kill.
    eventually(10, "the killed segment's as-run record", || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM as_run WHERE channel_id = 'alpha' AND status = 'truncated' \
             AND reason LIKE 'engine exited%'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    });
}

#[test]
fn a_viewer_that_stops_reading_is_dropped_while_another_keeps_the_rate() {
    // contract: DAEMON-005
    let dir = TempDir::new("rv-lineup");
    let lineup = synthetic_lineup(&dir.path);
    let daemon = Daemon::start(&[
        "--lineup",
        &lineup,
        "--engine-arg=--bitrate=8000000",
        "--viewer-queue",
        "32",
    ]);
    let mut reader = Viewer::tune(&daemon.addr, "alpha");
    let stalled = Viewer::tune(&daemon.addr, "alpha");
    assert_eq!((reader.status, stalled.status), (200, 200));
    let started = Instant::now();
    let mut received = 0usize;
    while daemon.channel_metric("retrovue_dropped_viewers_total", "alpha") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the stalled viewer was never dropped"
        );
        received += reader.read_at_least(100_000).len();
    }
    // The reader was never slowed: it got at least half the nominal 1 MB/s over the period.
    let nominal = 1_000_000.0 * started.elapsed().as_secs_f64();
    assert!(
        received as f64 >= nominal * 0.5,
        "{received} bytes vs {nominal} nominal"
    );
    // And it keeps receiving after the other was dropped.
    reader.read_at_least(200_000);
    eventually(10, "one viewer left", || {
        daemon.channel_metric("retrovue_viewers", "alpha") == 1
    });
    drop(stalled);
}

#[test]
fn sigterm_stops_engines_flushes_as_run_and_exits_zero() {
    // contract: DAEMON-006
    let dir = TempDir::new("rv-lineup");
    let lineup = synthetic_lineup(&dir.path);
    let home = TempDir::new("rv-serve");
    let home_path = home.path.clone();
    let mut daemon = Daemon::start_in(home, &["--lineup", &lineup]);
    let mut a = Viewer::tune(&daemon.addr, "alpha");
    let mut b = Viewer::tune(&daemon.addr, "beta");
    a.read_at_least(10_000);
    b.read_at_least(10_000);
    let engines = children(daemon.pid());
    assert_eq!(engines.len(), 2);
    let status = daemon.sigterm();
    assert!(status.success(), "exit status {status}");
    for pid in engines {
        assert!(!alive(pid), "engine {pid} outlived the daemon");
    }
    // The as-run of what aired (each channel's segment, truncated by the stop) is in the store.
    let records = as_run_count(&home_path.join("retrovue.db"));
    assert!(records >= 2, "as-run records: {records}");
}

/// As-run rows stored in the daemon's SQLite file.
fn as_run_count(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM as_run", [], |r| r.get(0))
        .unwrap()
}

/// The XMLTV DTD's path (xmllint and the DTD are installed by the project's script).
fn xmltv_dtd() -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/ensure-xmllint.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn guide_tuner_and_metrics_endpoints() {
    // contract: HTTP-004
    // contract: HTTP-005
    // contract: HTTP-007
    let daemon = Daemon::start(&[]);
    let (status, xml) = daemon.get("/epg.xml");
    assert_eq!(status, 200);
    assert_eq!(xml.matches("<channel id=").count(), 4);
    assert!(
        xml.matches("<programme ").count() > 4 * 24,
        "days of programmes"
    );
    assert!(xml.contains(" +0000\" stop=\""));
    let dir = TempDir::new("rv-xmltv");
    let file = dir.path.join("epg.xml");
    std::fs::write(&file, &xml).unwrap();
    let check = Command::new("xmllint")
        .arg("--noout")
        .arg("--dtdvalid")
        .arg(xmltv_dtd())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let base = format!("http://{}", daemon.addr);
    let (status, discover) = daemon.get("/discover.json");
    assert_eq!(status, 200);
    let discover: serde_json::Value = serde_json::from_str(&discover).unwrap();
    assert_eq!(discover["BaseURL"], base.as_str());
    assert_eq!(
        discover["LineupURL"],
        format!("{base}/lineup.json").as_str()
    );
    assert!(discover["DeviceID"].as_str().is_some());
    let (_, lineup) = daemon.get("/lineup.json");
    let lineup: serde_json::Value = serde_json::from_str(&lineup).unwrap();
    let lineup = lineup.as_array().unwrap();
    assert_eq!(lineup.len(), 4);
    assert_eq!(lineup[0]["GuideNumber"], "2");
    assert_eq!(
        lineup[0]["URL"],
        format!("{base}/channel/retro-one.ts").as_str()
    );
    assert!(lineup
        .iter()
        .all(|c| !c["URL"].as_str().unwrap().contains('?')));
    let (_, status_json) = daemon.get("/lineup_status.json");
    let status_json: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    assert_eq!(status_json["ScanInProgress"], 0);
    let (status, device) = daemon.get("/device.xml");
    assert_eq!(status, 200);
    assert!(device.contains("<URLBase>") && device.contains("urn:schemas-upnp-org:device-1-0"));

    let (status, metrics) = daemon.get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "retrovue_viewers",
        "retrovue_engine_running",
        "retrovue_engine_restarts_total",
        "retrovue_bytes_out_total",
        "retrovue_dropped_viewers_total",
        "retrovue_horizon_playlog_seconds",
        "retrovue_horizon_days",
    ] {
        assert!(metrics.contains(&format!("# TYPE {name} ")), "{name}");
        assert!(
            metrics.contains(&format!("{name}{{channel=\"sitara-tv\"}} ")),
            "{name}"
        );
    }
}

/// A real clip with a tone (container from the extension).
fn make_clip(path: &Path, seconds: u32, pattern: &str) {
    let video = format!("{pattern}=size=160x120:rate=10:duration={seconds}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let out = Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio,
        ])
        .args(["-c:v", "mpeg4", "-c:a", "aac", "-shortest"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_ffmpeg_engine_plays_real_clips_through_the_daemon() {
    // contract: HTTP-002
    ensure_ffmpeg();
    let dir = TempDir::new("rv-clips");
    let mut assets = String::new();
    for (i, pattern) in ["testsrc", "smptebars"].iter().enumerate() {
        let path = dir.path.join(format!("episode{i}.mkv"));
        make_clip(&path, 3, pattern);
        assets.push_str(&format!(
            "[[asset]]\nid = \"ep{i}\"\nkind = \"episode\"\ntitle = \"Clip {i}\"\nseries = \"Clips\"\n\
             season = 1\nepisode = {}\nduration_ms = 3000\npath = \"{}\"\n\n",
            i + 1,
            path.display()
        ));
    }
    for i in 0..3 {
        let path = dir.path.join(format!("spot{i}.mkv"));
        make_clip(&path, 2, "rgbtestsrc");
        assets.push_str(&format!(
            "[[asset]]\nid = \"spot{i}\"\nkind = \"commercial\"\ntitle = \"Spot {i}\"\n\
             duration_ms = 2000\npath = \"{}\"\n\n",
            path.display()
        ));
    }
    let lineup = format!(
        r#"{assets}
[[program]]
id = "clips"
title = "Clips"
play_mode = "sequential"
series = "Clips"

[[channel]]
id = "clipper"
number = "5"
name = "Clipper"
timezone = "UTC"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = ["commercial"]
spot_cooldown_minutes = 0

  [[channel.plan]]
  name = "All Day"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "24:00"
    items = ["clips"]

    [[channel.plan.zone]]
    name = "Night"
    start = "00:00"
    end = "06:00"
    items = ["clips"]
"#
    );
    let lineup_path = dir.path.join("lineup.toml");
    std::fs::write(&lineup_path, lineup).unwrap();
    let daemon = Daemon::start(&[
        "--lineup",
        lineup_path.to_str().unwrap(),
        "--engine",
        "ffmpeg",
    ]);
    let mut viewer = Viewer::tune(&daemon.addr, "clipper");
    assert_eq!(viewer.status, 200, "{}", viewer.head);
    // About five seconds of stream: at least two 2-second spots, so a segment boundary.
    let started = Instant::now();
    let mut raw = Vec::new();
    while started.elapsed() < Duration::from_secs(5) {
        raw.extend(viewer.read_at_least(1));
    }
    let ts = dechunk(&raw);
    let file = dir.path.join("stream.ts");
    std::fs::write(&file, &ts).unwrap();
    let streams = ffprobe_streams(&file);
    assert!(streams.contains(&"video".to_string()), "{streams:?}");
    assert!(streams.contains(&"audio".to_string()), "{streams:?}");
    // The video keeps playing across the 2-second segments (several boundaries): its
    // timestamps span most of the five seconds read and never step back or repeat at a splice
    // (the clips exactly fill their slots, the case that once stepped back).
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=dts_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&file)
        .output()
        .unwrap();
    let dts: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    assert!(dts.len() > 60, "{} video packets", dts.len());
    let span =
        dts.iter().cloned().fold(f64::MIN, f64::max) - dts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(span > 3.0, "video spans only {span} s");
    for pair in dts.windows(2) {
        assert!(
            pair[1] > pair[0],
            "video dts does not increase: {} -> {}",
            pair[0],
            pair[1]
        );
    }
    drop(viewer);
}

#[test]
fn a_day_without_a_plan_answers_503_while_built_days_stream() {
    // contract: SCHED-001
    // contract: MGR-010
    use chrono::Datelike;
    // "dark" has no plan yesterday, today or tomorrow (broadcast dates, UTC, day start 06:00);
    // "lit" plays every day. The daemon builds both itself.
    let today = (chrono::Utc::now() - chrono::Duration::hours(6)).date_naive();
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let dark: Vec<u32> = [-1i64, 0, 1]
        .iter()
        .map(|k| {
            (today + chrono::Duration::days(*k))
                .weekday()
                .num_days_from_monday()
        })
        .collect();
    let days: Vec<String> = (0..7u32)
        .filter(|d| !dark.contains(d))
        .map(|d| format!("\"{}\"", names[d as usize]))
        .collect();
    let channel = |id: &str, number: &str, days: &str| {
        format!(
            "[[channel]]\nid = \"{id}\"\nnumber = \"{number}\"\nname = \"{id}\"\ntimezone = \"UTC\"\n\
             grid_block_minutes = 30\nblock_start_offsets_minutes = [0, 30]\n\
             programming_day_start = \"06:00\"\nbreak_policy = \"end\"\n\n  [[channel.plan]]\n\
             name = \"Plan\"\n  days = [{days}]\n\n    [[channel.plan.zone]]\n    name = \"All\"\n\
             start = \"06:00\"\n    end = \"06:00\"\n    items = [\"synthetic:bars:1800000\"]\n\n"
        )
    };
    let dir = TempDir::new("rv-lineup");
    let path = dir.path.join("lineup.toml");
    let all = "\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"";
    let text = channel("dark", "5", &days.join(", ")) + &channel("lit", "6", all);
    std::fs::write(&path, text).unwrap();
    let daemon = Daemon::start(&["--lineup", path.to_str().unwrap()]);
    let (status, body) = daemon.get("/channel/dark.ts");
    assert_eq!(status, 503, "{body}");
    assert!(children(daemon.pid()).is_empty(), "no engine during a gap");
    let mut viewer = Viewer::tune(&daemon.addr, "lit");
    assert_eq!(viewer.status, 200);
    viewer.read_at_least(1_000);
}
