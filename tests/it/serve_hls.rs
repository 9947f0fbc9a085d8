//! HLS from the shared engine and HEAD = GET, end to end (HTTP-020..026, DAEMON-020): real
//! daemons on loopback with the synthetic engine, real HTTP (raw sockets, so every header is
//! seen as sent), segments checked with ffprobe. Every wait is bounded; timings are printed,
//! never asserted.

use crate::support::daemon::{channel_toml, eventually, retrovue, Daemon};
use crate::support::ReadSome;
use crate::support::TempDir;
use std::collections::BTreeSet;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// HLS requests on the shared daemon harness: whole answers (status, headers, body) and the
/// daemon's CPU time.
trait Hls {
    fn fetch(&self, path: &str) -> Answer;
    fn fetch_text(&self, path: &str) -> (u16, String);
    fn cpu(&self) -> Duration;
}

impl Hls for Daemon {
    fn fetch(&self, path: &str) -> Answer {
        request(&self.addr, "GET", path)
    }

    fn fetch_text(&self, path: &str) -> (u16, String) {
        let answer = self.fetch(path);
        (answer.status, String::from_utf8(answer.body).unwrap())
    }

    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }
}

/// An HTTP answer as it came over the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header (lower-cased name, value), in order.
    headers: Vec<(String, String)>,
    /// The body (empty for HEAD and for endless streams, whose body is not read).
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The headers to compare between HEAD and GET: all but `Date`, and without
    /// `Content-Length` when the content is live.
    fn comparable(&self, live: bool) -> BTreeSet<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| n != "date" && !(live && n == "content-length"))
            .cloned()
            .collect()
    }
}

/// One request on its own connection. The body is read by `Content-Length`; an answer without
/// one (a stream) is not read past its head.
fn request(addr: &str, method: &str, path: &str) -> Answer {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        socket,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(socket);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = reader.read_some(&mut byte).unwrap();
        assert_eq!(
            n, 1,
            "{method} {path}: the answer's head ended early: {head:?}"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "GET" {
        if let Some(len) = answer.header("content-length") {
            let mut body = vec![0u8; len.parse().unwrap()];
            reader.read_exact(&mut body).unwrap();
            answer.body = body;
        }
    }
    answer
}

/// A parsed media playlist.
#[derive(Debug)]
struct Playlist {
    media_sequence: u64,
    target: u64,
    /// (duration, discontinuity before it, URL path)
    segments: Vec<(f64, bool, String)>,
}

fn parse_playlist(text: &str) -> Playlist {
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"), "{text}");
    assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
    let tag = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    };
    let mut segments = Vec::new();
    let mut discontinuity = false;
    let mut duration = None;
    for line in text.lines() {
        if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = Some(d.trim_end_matches(',').parse::<f64>().unwrap());
        } else if !line.starts_with('#') {
            let path = line
                .strip_prefix("http://")
                .and_then(|l| l.find('/').map(|i| l[i..].to_string()))
                .unwrap_or_else(|| panic!("absolute URL: {line}"));
            segments.push((duration.take().expect("EXTINF"), discontinuity, path));
            discontinuity = false;
        }
    }
    Playlist {
        media_sequence: tag("#EXT-X-MEDIA-SEQUENCE:"),
        target: tag("#EXT-X-TARGETDURATION:"),
        segments,
    }
}

/// `alpha` plays bars; `broken` plays a file that is missing.
fn lineup(dir: &Path) -> String {
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
{}{}"#,
        channel_toml("alpha", "10", "synthetic:bars:1800000"),
        channel_toml("broken", "3.1", "lost"),
    );
    let path = dir.join("lineup.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

fn ensure_ffmpeg() {
    let status = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ensure-ffmpeg.sh"
        ))
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg is needed");
}

/// ffprobe's codec names of a file (listed per program too, hence a set), and whether its first
/// video frame is a keyframe.
fn probe(path: &Path) -> (BTreeSet<String>, bool) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codecs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame,pict_type",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    let first = String::from_utf8(out.stdout).unwrap();
    let keyframe = first.lines().next().is_some_and(|l| l.starts_with("1,I"));
    (codecs, keyframe)
}

/// A segment decodes alone as H.264 + AAC starting with a keyframe, and starts with PAT, PMT.
fn check_segment(data: &[u8], dir: &Path, name: &str) {
    assert!(
        data.len() >= 3 * 188 && data.len().is_multiple_of(188),
        "{name}: whole packets"
    );
    let pid =
        |i: usize| ((u16::from(data[i * 188 + 1]) & 0x1F) << 8) | u16::from(data[i * 188 + 2]);
    assert_eq!(
        (pid(0), pid(1)),
        (0x0000, 0x1000),
        "{name}: PAT then PMT first"
    );
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    let (codecs, keyframe) = probe(&path);
    let expected: BTreeSet<String> = ["aac", "h264"].map(String::from).into();
    assert_eq!(codecs, expected, "{name}");
    assert!(keyframe, "{name}: the first video frame is a keyframe");
}

#[test]
fn a_cold_playlist_advances_and_its_segments_decode_alone() {
    // contract: HTTP-020
    // contract: HTTP-021
    // contract: HTTP-022
    ensure_ffmpeg();
    let dir = TempDir::new("rv-hls-lineup");
    let daemon = Daemon::start(&["--lineup", &lineup(&dir.path)]);
    assert!(daemon.engines().is_empty(), "cold");
    let asked = Instant::now();
    let answer = daemon.fetch("/channel/alpha.m3u8");
    let answered = asked.elapsed();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    // An HTTP cache in front may hold the playlist a second and a segment for the window.
    assert_eq!(answer.header("cache-control"), Some("public, max-age=1"));
    let first = parse_playlist(std::str::from_utf8(&answer.body).unwrap());
    assert_eq!(first.target, 3);
    assert!(
        !first.segments.is_empty(),
        "a cold playlist waits for its first segment"
    );
    let segment = daemon.fetch(&first.segments[0].2);
    let first_bytes = asked.elapsed();
    assert_eq!(segment.status, 200);
    assert_eq!(segment.header("content-type"), Some("video/mp2t"));
    assert_eq!(
        segment.header("cache-control"),
        Some("public, max-age=16, immutable")
    );
    assert!(segment.header("content-length").is_some(), "{segment:?}");
    check_segment(&segment.body, &dir.path, "first.ts");
    eprintln!(
        "NUMBERS cold playlist answered in {answered:?}; first segment bytes {first_bytes:?} after \
         the playlist request ({} bytes, {:.3} s)",
        segment.body.len(),
        first.segments[0].0
    );
    // The playlist advances: the media sequence grows, every segment within the target.
    let first_sequence = first.media_sequence;
    let mut last = first;
    eventually(30, "the media sequence grows by 3", || {
        let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
        assert_eq!(status, 200);
        let now = parse_playlist(&text);
        assert!(now.media_sequence >= last.media_sequence, "never goes back");
        assert!(now.segments.len() <= 5, "{text}");
        for (duration, discontinuity, _) in &now.segments {
            assert!(*duration > 0.5 && *duration <= 3.0, "{text}");
            assert!(!discontinuity, "{text}");
        }
        last = now;
        last.media_sequence >= first_sequence + 3
    });
    // A later segment decodes alone too; the window's memory, for the report.
    let (_, _, newest) = last.segments.last().unwrap();
    let segment = daemon.fetch(newest);
    check_segment(&segment.body, &dir.path, "later.ts");
    let mut bytes = 0;
    for (_, _, path) in &last.segments {
        let answer = daemon.fetch(path);
        assert_eq!(answer.status, 200);
        bytes += answer.body.len();
    }
    eprintln!(
        "NUMBERS window: {} listed segments = {bytes} bytes; 8 held ≈ {} bytes per channel",
        last.segments.len(),
        bytes * 8 / last.segments.len()
    );
    // A segment that left the window is gone.
    let seq: u64 = newest
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ts")
        .parse()
        .unwrap();
    let not_yet = daemon.fetch(&format!("/channel/alpha/{}.ts", seq + 1000));
    assert_eq!(not_yet.status, 404);
    // A cache in front never keeps a refusal: that segment will exist in a while.
    assert_eq!(not_yet.header("cache-control"), Some("no-store"));
    assert_eq!(daemon.engines().len(), 1);
}

/// A TS viewer reading continuously on its own thread.
struct TsViewer {
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<usize>>,
}

impl TsViewer {
    fn tune(addr: &str, channel: &str) -> TsViewer {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            socket,
            "GET /channel/{channel}.ts HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let until = Arc::clone(&stop);
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            while !until.load(Ordering::SeqCst) {
                match socket.read_some(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            total
        });
        TsViewer {
            stop,
            reader: Some(reader),
        }
    }

    fn leave(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.reader.take().unwrap().join().unwrap()
    }
}

#[test]
fn ts_and_hls_viewers_share_one_engine_and_hls_lingers_after_its_last_fetch() {
    // contract: HTTP-024
    // contract: DAEMON-020
    // contract: DAEMON-002
    let dir = TempDir::new("rv-hls-lineup");
    let daemon = Daemon::start(&["--lineup", &lineup(&dir.path)]);
    let ts = TsViewer::tune(&daemon.addr, "alpha");
    eventually(20, "an engine for the TS viewer", || {
        daemon.engines().len() == 1
    });
    let engine = daemon.engines();
    let playlist = daemon.fetch("/channel/alpha.m3u8");
    assert_eq!(playlist.status, 200);
    assert!(
        !parse_playlist(std::str::from_utf8(&playlist.body).unwrap())
            .segments
            .is_empty()
    );
    assert_eq!(
        daemon.engines(),
        engine,
        "the HLS viewer shares the TS viewer's engine"
    );
    eventually(10, "two viewers", || {
        daemon.channel_metric("retrovue_viewers", "alpha") == 2
    });
    // The TS viewer leaves; the HLS viewer keeps fetching: the engine stays.
    assert!(ts.leave() > 0);
    eventually(10, "one viewer", || {
        daemon.channel_metric("retrovue_viewers", "alpha") == 1
    });
    for _ in 0..4 {
        std::thread::sleep(Duration::from_secs(1));
        let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
        assert_eq!(status, 200);
        let newest = parse_playlist(&text).segments.last().unwrap().2.clone();
        assert_eq!(daemon.fetch(&newest).status, 200);
    }
    assert_eq!(daemon.engines(), engine, "the same engine all along");
    let last_fetch = Instant::now();
    // HEAD is not a fetch; well within the 9 s lease the engine still runs.
    assert_eq!(
        request(&daemon.addr, "HEAD", "/channel/alpha.m3u8").status,
        200
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(daemon.engines(), engine, "the lease holds the engine");
    assert_eq!(daemon.channel_metric("retrovue_viewers", "alpha"), 1);
    eventually(40, "the engine stops after lease + linger", || {
        daemon.engines().is_empty()
    });
    eprintln!(
        "NUMBERS last HLS fetch → engine gone: {:?} (lease 9 s + linger 0.5 s + stop)",
        last_fetch.elapsed()
    );
    assert_eq!(daemon.channel_metric("retrovue_viewers", "alpha"), 0);
    assert_eq!(
        daemon.channel_metric("retrovue_engine_restarts_total", "alpha"),
        0
    );
    // The window was emptied with the channel; a new fetch starts the channel again.
    let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
    assert_eq!(status, 200);
    let again = parse_playlist(&text);
    assert!(!again.segments.is_empty());
    assert!(again.segments[0].1, "a new timeline is marked: {text}");
    assert_eq!(daemon.engines().len(), 1);
}

#[test]
fn a_killed_engine_is_marked_by_a_discontinuity() {
    // contract: HTTP-023
    // contract: DAEMON-007
    ensure_ffmpeg();
    let dir = TempDir::new("rv-hls-lineup");
    let daemon = Daemon::start(&["--lineup", &lineup(&dir.path)]);
    let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
    assert_eq!(status, 200);
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    let engines = daemon.engines();
    assert_eq!(engines.len(), 1);
    // SAFETY: kill(2) on the daemon's engine child, found in /proc.
    unsafe {
        libc::kill(engines[0] as i32, libc::SIGKILL);
    }
    let mut spliced = None;
    eventually(30, "a discontinuity in the playlist", || {
        let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
        assert_eq!(status, 200);
        let list = parse_playlist(&text);
        spliced = list.segments.iter().find(|s| s.1).cloned();
        spliced.is_some()
    });
    let now = daemon.engines();
    assert!(now.len() == 1 && now != engines, "a new engine: {now:?}");
    let (_, _, path) = spliced.unwrap();
    let segment = daemon.fetch(&path);
    assert_eq!(segment.status, 200);
    check_segment(&segment.body, &dir.path, "after-splice.ts");
}

#[test]
fn the_media_sequence_never_goes_back_across_a_daemon_restart() {
    // contract: HTTP-022
    ensure_ffmpeg();
    let dir = TempDir::new("rv-hls-lineup");
    let lineup = lineup(&dir.path);
    let args = ["--lineup", lineup.as_str()];
    let daemon = Daemon::start(&args);
    let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
    assert_eq!(status, 200);
    let before = parse_playlist(&text);
    assert!(!before.segments.is_empty(), "{text}");
    let newest_before = before.media_sequence + before.segments.len() as u64 - 1;
    // A restarted daemon (or the next owner in a cluster) numbers from the clock's floor.
    let daemon = Daemon::start_in(daemon.kill(), &args);
    let (status, text) = daemon.fetch_text("/channel/alpha.m3u8");
    assert_eq!(status, 200);
    let after = parse_playlist(&text);
    assert!(
        after.media_sequence > newest_before,
        "after the restart {} > before {newest_before}: {text}",
        after.media_sequence
    );
}

/// Builds the days of `broken` (by the CLI, while its file counts as present) so a daemon
/// answers 500 for it; returns the daemon's home.
fn home_with_broken_days(lineup: &str) -> TempDir {
    let home = TempDir::new("rv-hls-home");
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
    cli(&["lineup", "import", lineup]);
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
    home
}

/// HEAD then GET of `path`: the same status and headers (HTTP-025).
fn head_equals_get(addr: &str, path: &str, status: u16, live: bool) -> Answer {
    let head = request(addr, "HEAD", path);
    let get = request(addr, "GET", path);
    assert_eq!(get.status, status, "GET {path}");
    assert_eq!(head.status, get.status, "HEAD {path}");
    assert_eq!(
        head.comparable(live),
        get.comparable(live),
        "HEAD and GET {path} headers"
    );
    get
}

#[test]
fn head_answers_what_get_would_for_every_route_kind() {
    // contract: HTTP-025
    // contract: HTTP-008
    // contract: HTTP-026
    let dir = TempDir::new("rv-hls-lineup");
    let lineup = lineup(&dir.path);
    let daemon = Daemon::start_in(home_with_broken_days(&lineup), &["--lineup", &lineup]);
    let addr = daemon.addr.as_str();
    // A stream: HEAD of a cold channel says 200 with the stream's headers and starts nothing.
    let head = request(addr, "HEAD", "/channel/alpha.ts");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("video/mp2t"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let head_playlist = request(addr, "HEAD", "/channel/alpha.m3u8");
    assert_eq!(head_playlist.status, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.engines().is_empty(), "HEAD starts no engine");
    assert_eq!(
        daemon.channel_metric("retrovue_engine_starts_total", "alpha"),
        0
    );
    let get = request(addr, "GET", "/channel/alpha.ts");
    assert_eq!(get.status, 200);
    assert_eq!(head.comparable(false), get.comparable(false));
    drop(get);
    for (path, status) in [("/channel/nope.ts", 404), ("/channel/broken.ts", 500)] {
        let answer = head_equals_get(addr, path, status, false);
        assert!(!answer.body.is_empty());
    }
    // Playlists and segments.
    let playlist = head_equals_get(addr, "/channel/alpha.m3u8", 200, true);
    assert_eq!(head_playlist.comparable(true), playlist.comparable(true));
    head_equals_get(addr, "/channel/nope.m3u8", 404, false);
    head_equals_get(addr, "/channel/broken.m3u8", 500, false);
    let list = parse_playlist(std::str::from_utf8(&playlist.body).unwrap());
    head_equals_get(addr, &list.segments[0].2, 200, false);
    head_equals_get(addr, "/channel/alpha/987654321.ts", 404, false);
    head_equals_get(addr, "/channel/nope/0.ts", 404, false);
    assert!(daemon.engines().len() <= 1, "one engine for alpha only");
    // Pages.
    for (path, status, live) in [
        ("/channellist.m3u", 200, false),
        ("/channellist.m3u?format=hls", 200, false),
        ("/channellist.m3u?format=dash", 400, false),
        ("/epg.xml", 200, false),
        ("/discover.json", 200, false),
        ("/lineup.json", 200, false),
        ("/lineup_status.json", 200, false),
        ("/device.xml", 200, false),
        ("/api/channels", 200, true),
        ("/api/channels/alpha/now", 200, false),
        ("/api/channels/nope/now", 404, false),
        ("/api/epg?channel=alpha", 200, false),
        ("/api/epg?from=nonsense", 400, false),
        ("/healthz", 200, false),
        ("/metrics", 200, true),
        ("/nothing", 404, false),
    ] {
        head_equals_get(addr, path, status, live);
    }
    // The HLS channel list: the TS list with .m3u8 URLs (HTTP-026).
    let (_, ts_list) = daemon.fetch_text("/channellist.m3u");
    let (_, hls_list) = daemon.fetch_text("/channellist.m3u?format=hls");
    let base = format!("http://{addr}");
    assert_eq!(
        hls_list,
        ts_list
            .replace(
                &format!("{base}/channel/alpha.ts"),
                &format!("{base}/channel/alpha.m3u8")
            )
            .replace(
                &format!("{base}/channel/broken.ts"),
                &format!("{base}/channel/broken.m3u8")
            )
    );
    assert!(hls_list.contains(&format!("\n{base}/channel/alpha.m3u8\n")));
    assert!(!hls_list.contains(".ts\n"));
    assert_eq!(hls_list.matches("#EXTINF:-1 tvg-id=").count(), 2);

    // 503: a node that builds nothing has a gap at now.
    let empty = Daemon::start(&["--no-build"]);
    for path in [
        "/channel/retro-one.ts",
        "/channel/retro-one.m3u8",
        "/api/channels/retro-one/now",
    ] {
        let answer = head_equals_get(&empty.addr, path, 503, false);
        assert!(String::from_utf8_lossy(&answer.body).contains("gap"));
    }
    assert!(empty.engines().is_empty());
}

#[test]
fn two_hundred_hls_viewers_on_one_channel() {
    // contract: HTTP-024
    // contract: DAEMON-002
    let dir = TempDir::new("rv-hls-lineup");
    let daemon = Daemon::start(&["--lineup", &lineup(&dir.path)]);
    assert_eq!(daemon.fetch("/channel/alpha.m3u8").status, 200);
    let cpu_before = daemon.cpu();
    let started = Instant::now();
    const CLIENTS: usize = 200;
    const SECONDS: u64 = 20;
    let failures = Arc::new(AtomicU64::new(0));
    let fetched = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = daemon.addr.clone();
            let (failures, fetched) = (Arc::clone(&failures), Arc::clone(&fetched));
            std::thread::spawn(move || {
                // Spread the clients over a second, then reload every 2 s like a player.
                std::thread::sleep(Duration::from_millis((i as u64 * 5) % 1000));
                let mut seen = BTreeSet::new();
                while started.elapsed() < Duration::from_secs(SECONDS) {
                    let playlist = request(&addr, "GET", "/channel/alpha.m3u8");
                    if playlist.status != 200 {
                        failures.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    let list = parse_playlist(std::str::from_utf8(&playlist.body).unwrap());
                    for (_, _, path) in list.segments.iter().rev().take(2) {
                        if seen.insert(path.clone()) {
                            let segment = request(&addr, "GET", path);
                            if segment.status == 200 {
                                fetched.fetch_add(segment.body.len() as u64, Ordering::SeqCst);
                            } else {
                                failures.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_secs(2));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let wall = started.elapsed();
    let cpu = daemon.cpu() - cpu_before;
    eprintln!(
        "NUMBERS {CLIENTS} HLS clients × {SECONDS} s: {} MB of segments served, daemon CPU {cpu:?} \
         over {wall:?} ({:.0}% of one core), {} failures",
        fetched.load(Ordering::SeqCst) / 1_000_000,
        cpu.as_secs_f64() * 100.0 / wall.as_secs_f64(),
        failures.load(Ordering::SeqCst)
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert_eq!(daemon.engines().len(), 1, "one engine for every HLS client");
    assert_eq!(daemon.channel_metric("retrovue_viewers", "alpha"), 1);
    assert_eq!(
        daemon.channel_metric("retrovue_engine_restarts_total", "alpha"),
        0
    );
}

/// nginx in front of a daemon as an ordinary caching reverse proxy (its stock `proxy_cache`,
/// honouring the daemon's `Cache-Control`), on a free loopback port; killed on drop.
struct CachingProxy {
    child: std::process::Child,
    addr: String,
    _dir: TempDir,
}

impl CachingProxy {
    fn start(upstream: &str) -> CachingProxy {
        let binary = crate::support_web::ensure("ensure-nginx.sh");
        let binary = binary.lines().last().unwrap().to_string();
        let dir = TempDir::new("rv-nginx");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let d = dir.path.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log stderr warn;\n\
             pid {d}/nginx.pid;\nevents {{ worker_connections 512; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             proxy_cache_path {d}/cache levels=1 keys_zone=hls:4m max_size=256m inactive=1m;\n\
             server {{\n  listen {addr};\n  location / {{\n\
             proxy_pass http://{upstream};\n    proxy_set_header Host $http_host;\n\
             proxy_cache hls;\n    proxy_cache_lock on;\n\
             add_header X-Cache-Status $upstream_cache_status;\n  }}\n}}\n}}\n"
        );
        let config_path = dir.write("nginx.conf", &config);
        let mut child = Command::new(&binary)
            .args(["-e", "stderr", "-p"])
            .arg(&dir.path)
            .arg("-c")
            .arg(&config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[nginx] {line}");
            }
        });
        eventually(10, "nginx listens", || TcpStream::connect(&addr).is_ok());
        CachingProxy {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for CachingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_ordinary_http_cache_in_front_takes_over_the_fan_out() {
    // contract: HTTP-020
    // contract: HTTP-021
    let dir = TempDir::new("rv-hls-lineup");
    let daemon = Daemon::start(&["--lineup", &lineup(&dir.path)]);
    let cache = CachingProxy::start(&daemon.addr);
    // Through the cache, the playlist names segments at the cache.
    let first = request(&cache.addr, "GET", "/channel/alpha.m3u8");
    assert_eq!(first.status, 200);
    let text = String::from_utf8(first.body).unwrap();
    assert!(
        text.contains(&format!("http://{}/channel/alpha/", cache.addr)),
        "{text}"
    );
    let origin_before = daemon.channel_metric("retrovue_bytes_out_total", "alpha");
    const CLIENTS: usize = 20;
    const SECONDS: u64 = 12;
    let started = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let hits = Arc::new(AtomicU64::new(0));
    let misses = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = cache.addr.clone();
            let (delivered, hits, misses) = (
                Arc::clone(&delivered),
                Arc::clone(&hits),
                Arc::clone(&misses),
            );
            std::thread::spawn(move || {
                // Spread over a second, then reload every 2 s like a player.
                std::thread::sleep(Duration::from_millis(i as u64 * 50));
                let mut seen = BTreeSet::new();
                while started.elapsed() < Duration::from_secs(SECONDS) {
                    let playlist = request(&addr, "GET", "/channel/alpha.m3u8");
                    assert_eq!(playlist.status, 200);
                    let list = parse_playlist(std::str::from_utf8(&playlist.body).unwrap());
                    for (_, _, path) in list.segments.iter().rev().take(2) {
                        if !seen.insert(path.clone()) {
                            continue;
                        }
                        let segment = request(&addr, "GET", path);
                        assert_eq!(segment.status, 200, "{path}");
                        delivered.fetch_add(segment.body.len() as u64, Ordering::SeqCst);
                        match segment.header("x-cache-status") {
                            Some("HIT") => hits.fetch_add(1, Ordering::SeqCst),
                            _ => misses.fetch_add(1, Ordering::SeqCst),
                        };
                    }
                    std::thread::sleep(Duration::from_secs(2));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let origin =
        (daemon.channel_metric("retrovue_bytes_out_total", "alpha") - origin_before) as u64;
    let delivered = delivered.load(Ordering::SeqCst);
    let (hits, misses) = (hits.load(Ordering::SeqCst), misses.load(Ordering::SeqCst));
    eprintln!(
        "NUMBERS through nginx: {CLIENTS} HLS clients received {delivered} segment bytes; the \
         daemon sent {origin} ({:.1}×); segment fetches {hits} hits, {misses} misses",
        delivered as f64 / origin.max(1) as f64
    );
    assert!(delivered > 0 && origin > 0);
    // Each segment leaves the daemon about once, whatever the number of clients.
    assert!(
        delivered >= 8 * origin,
        "the cache passed on {delivered} bytes but the daemon sent {origin}"
    );
    assert!(hits >= 8 * misses, "{hits} hits, {misses} misses");
}
