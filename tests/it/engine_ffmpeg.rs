//! The ffmpeg playout engine as a real process on tiny clips generated at test time: one
//! continuous, normalised MPEG-TS across segment boundaries, evidence, and no orphaned children.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use retrovue::engine::protocol::{Block, Control, Evidence, Segment};

const ENGINE: &str = env!("CARGO_BIN_EXE_retrovue-engine-ffmpeg");

use crate::support::one_at_a_time;

fn ensure_ffmpeg() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-ffmpeg.sh");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .expect("run ensure-ffmpeg.sh");
    assert!(status.success(), "ffmpeg could not be installed");
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rv-engine-ff-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 3-second clip with a test pattern and a tone, in a size and rate unlike the output's.
fn make_clip(dir: &Path, name: &str, pattern: &str, size: &str, rate: u32) -> String {
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{pattern}=s={size}:r={rate}:d=3"))
        .args(["-f", "lavfi", "-i", "sine=f=440:d=3", "-shortest"])
        .arg(&path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "could not generate {name}");
    path.to_string_lossy().into_owned()
}

fn segment(id: &str, asset: &str, in_point_ms: i64, start: i64, end: i64) -> Segment {
    Segment {
        event_id: id.into(),
        asset_uri: Some(asset.into()),
        kind: "content".into(),
        in_point_ms,
        duration_ms: end - start,
        start,
        end,
    }
}

fn spawn_engine() -> Child {
    Command::new(ENGINE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine")
}

/// Plays `segments` from `join` for `run_for`, then stops. Returns (stdout, evidence, exit code).
fn play(join: i64, segments: Vec<Segment>, run_for: Duration) -> (Vec<u8>, Vec<Evidence>, i32) {
    let mut child = spawn_engine();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let block = Block {
        id: "b1".into(),
        start: segments[0].start,
        end: segments.last().unwrap().end,
        segments,
    };
    let mut stdin = child.stdin.take().unwrap();
    let start = Control::Start {
        channel: "c1".into(),
        join_at: join,
        blocks: vec![block],
    };
    writeln!(stdin, "{}", serde_json::to_string(&start).unwrap()).unwrap();
    thread::sleep(run_for);
    writeln!(stdin, "{}", serde_json::to_string(&Control::Stop).unwrap()).unwrap();
    let status = child.wait().unwrap();
    let text = err.join().unwrap();
    let evidence = text.lines().filter_map(Evidence::parse_line).collect();
    (out.join().unwrap(), evidence, status.code().unwrap_or(-1))
}

/// (stream index, dts seconds) of every packet, in file order.
fn packet_dts(path: &Path) -> Vec<(u32, f64)> {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,dts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let stream = fields.next()?.parse().ok()?;
            let dts = fields.next()?.parse().ok()?;
            Some((stream, dts))
        })
        .collect()
}

// contract: ENGINE-004
// contract: ENGINE-006
// contract: ENGINE-011
#[test]
fn two_clips_become_one_stream_with_continuous_timestamps() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("splice");
    let a = make_clip(&dir, "a.mp4", "testsrc", "320x240", 25);
    let b = make_clip(&dir, "b.mkv", "testsrc2", "480x270", 30);
    let join = now_ms();
    let segments = vec![
        segment("e1", &a, 500, join, join + 1_500),
        segment("e2", &b, 0, join + 1_500, join + 3_000),
    ];
    let (bytes, evidence, code) = play(join, segments, Duration::from_millis(2_800));
    assert_eq!(code, 0);
    assert_eq!(bytes.len() % 188, 0);
    assert!(evidence.contains(&Evidence::SegmentAired {
        event_id: "e1".into(),
        actual_start: join,
        actual_end: join + 1_500
    }));
    assert!(evidence.contains(&Evidence::SegmentStarted {
        event_id: "e2".into(),
        at: join + 1_500
    }));

    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let streams = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,width,height,r_frame_rate",
            "-of",
            "default=nw=1",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let streams = String::from_utf8_lossy(&streams.stdout);
    assert!(
        streams.contains("codec_type=video") && streams.contains("codec_name=h264"),
        "{streams}"
    );
    assert!(
        streams.contains("width=1280") && streams.contains("height=720"),
        "{streams}"
    );
    assert!(
        streams.contains("codec_type=audio") && streams.contains("codec_name=aac"),
        "{streams}"
    );

    let packets = packet_dts(&path);
    for stream in [0, 1] {
        let dts: Vec<f64> = packets
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, d)| *d)
            .collect();
        // About 2.8 s of 30 fps video (or 21.3 ms audio frames) crossing the boundary at 1.5 s.
        assert!(
            dts.len() > 40,
            "stream {stream}: only {} packets",
            dts.len()
        );
        assert!(
            dts.last().unwrap() - dts[0] > 2.0,
            "stream {stream} spans {:?}..{:?}",
            dts.first(),
            dts.last()
        );
        for pair in dts.windows(2) {
            assert!(
                pair[1] >= pair[0],
                "stream {stream}: dts goes back {} -> {}",
                pair[0],
                pair[1]
            );
            assert!(
                pair[1] - pair[0] < 0.25,
                "stream {stream}: dts jumps {} -> {}",
                pair[0],
                pair[1]
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-011
// contract: ENGINE-012
#[test]
fn a_missing_file_is_errored_and_its_slot_padded() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let join = now_ms();
    let segments = vec![segment(
        "gone",
        "/nonexistent/clip.mp4",
        0,
        join,
        join + 60_000,
    )];
    let (bytes, evidence, code) = play(join, segments, Duration::from_millis(1_500));
    let ran_ms = now_ms() - join;
    assert_eq!(code, 0);
    // ENGINE-012: stamped on the UTC playhead — the first PCR lies between join_at and the end
    // of the run, and the first video DTS right after it (ffmpeg's 0.1 s mux delay).
    {
        use retrovue::engine::ts;
        let first_pcr = bytes.chunks(188).find_map(ts::read_pcr).expect("a PCR");
        let after_join = (first_pcr + ts::PCR_WRAP - ts::utc_pcr(join)) % ts::PCR_WRAP / 27_000;
        assert!(
            (after_join as i64) <= ran_ms,
            "first PCR {after_join} ms after join_at, the run lasted {ran_ms} ms"
        );
        let first_dts = bytes
            .chunks(188)
            .filter(|p| ts::packet_pid(p) == ts::VIDEO_PID)
            .find_map(|p| {
                let (pts, dts) = ts::read_pes_timestamps(p);
                dts.or(pts)
            })
            .expect("a video timestamp");
        let lead = (first_dts + ts::TIMESTAMP_WRAP - first_pcr / 300) % ts::TIMESTAMP_WRAP;
        assert!(lead < 45_000, "first DTS {lead} ticks after the first PCR");
    }
    match evidence
        .iter()
        .find(|e| matches!(e, Evidence::SegmentErrored { .. }))
    {
        Some(Evidence::SegmentErrored {
            event_id, reason, ..
        }) => {
            assert_eq!(event_id, "gone");
            assert!(
                reason.contains("file not found: /nonexistent/clip.mp4"),
                "{reason}"
            );
        }
        _ => panic!("no segment_errored in {evidence:?}"),
    }
    assert!(
        bytes.len() > 50 * 188,
        "the pad kept the stream going: {} bytes",
        bytes.len()
    );
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            children.extend(
                list.split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    children
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

// contract: ENGINE-008
// contract: ENGINE-009
#[test]
fn sigterm_exits_zero_and_leaves_no_ffmpeg_behind() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("orphans");
    let clip = make_clip(&dir, "c.mp4", "testsrc", "320x240", 25);
    let mut child = spawn_engine();
    let mut stdout = child.stdout.take().unwrap();
    let drain = thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()).ok());
    let join = now_ms();
    // Two segments so the engine also holds a prepared child for the next one.
    let block = Block {
        id: "b1".into(),
        start: join,
        end: join + 4_000,
        segments: vec![
            segment("x", &clip, 0, join, join + 2_000),
            segment("y", &clip, 0, join + 2_000, join + 4_000),
        ],
    };
    let mut stdin = child.stdin.take().unwrap();
    let start = Control::Start {
        channel: "c1".into(),
        join_at: join,
        blocks: vec![block],
    };
    writeln!(stdin, "{}", serde_json::to_string(&start).unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.len() < 2 {
        thread::sleep(Duration::from_millis(50));
        for pid in children_of(child.id()) {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
    }
    assert!(!seen.is_empty(), "the engine started no ffmpeg child");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(0));
    drain.join().unwrap();
    for pid in seen {
        assert!(!alive(pid), "ffmpeg child {pid} outlived the engine");
    }
    drop(stdin);
    std::fs::remove_dir_all(&dir).ok();
}

/// A clip of exactly `seconds` with a test pattern and a tone, encoded as the extension's default
/// codecs (`.mkv` here: MPEG-4 part 2 + AAC like the daemon's clips; `.mp4`: H.264 with B-frames).
fn make_timed_clip(dir: &Path, name: &str, pattern: &str, rate: u32, seconds: &str) -> String {
    let path = dir.join(name);
    let mut command = Command::new("ffmpeg");
    command
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{pattern}=s=320x240:r={rate}:d={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=f=440:sample_rate=48000:d={seconds}"));
    if name.ends_with(".mkv") {
        command.args(["-c:v", "mpeg4", "-c:a", "aac"]);
    }
    let status = command
        .args(["-shortest"])
        .arg(&path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "could not generate {name}");
    path.to_string_lossy().into_owned()
}

/// The PCR (in seconds) of every packet that carries one, in file order, unwrapped (the output
/// is on the UTC time base, ENGINE-012, which wraps every 2^33 / 90 kHz, about 26.5 h).
fn pcr_seconds(bytes: &[u8]) -> Vec<f64> {
    let wrap = (1u64 << 33) as f64 / 90_000.0;
    let mut turns = 0.0;
    let mut previous: Option<f64> = None;
    let raw: Vec<f64> = bytes
        .chunks_exact(188)
        .filter(|p| p[3] & 0x20 != 0 && p[4] > 0 && p[5] & 0x10 != 0)
        .map(|p| {
            let base = (u64::from(p[6]) << 25)
                | (u64::from(p[7]) << 17)
                | (u64::from(p[8]) << 9)
                | (u64::from(p[9]) << 1)
                | (u64::from(p[10]) >> 7);
            let extension = (u64::from(p[10] & 1) << 8) | u64::from(p[11]);
            (base * 300 + extension) as f64 / 27_000_000.0
        })
        .collect();
    raw.into_iter()
        .map(|pcr| {
            if previous.is_some_and(|p| pcr < p - wrap / 2.0) {
                turns += wrap;
            }
            previous = Some(pcr);
            pcr + turns
        })
        .collect()
}

// contract: ENGINE-004
// contract: ENGINE-011
#[test]
fn timestamps_stay_monotonic_across_many_boundaries_of_exact_short_and_long_clips() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("boundaries");
    // Clips exactly as long as their 2-second slots (the case that stepped back), one longer
    // played from an in-point, one shorter than its slot, and H.264 with B-frame reordering.
    let exact_mpeg4 = make_timed_clip(&dir, "exact.mkv", "testsrc", 10, "2");
    let exact_h264 = make_timed_clip(&dir, "exact.mp4", "testsrc2", 30, "2");
    let long = make_timed_clip(&dir, "long.mkv", "smptebars", 25, "3");
    let short = make_timed_clip(&dir, "short.mp4", "rgbtestsrc", 24, "1.2");
    let join = now_ms();
    let slot = |i: i64| join + 2_000 * i;
    let segments = vec![
        segment("e1", &exact_mpeg4, 0, slot(0), slot(1)),
        segment("e2", &exact_h264, 0, slot(1), slot(2)),
        segment("e3", &long, 700, slot(2), slot(3)),
        segment("e4", &short, 0, slot(3), slot(4)),
        segment("e5", &exact_mpeg4, 0, slot(4), slot(5)),
    ];
    let (bytes, evidence, code) = play(join, segments, Duration::from_millis(8_800));
    assert_eq!(code, 0);
    assert_eq!(bytes.len() % 188, 0);
    for id in ["e1", "e2", "e3", "e4"] {
        assert!(
            evidence.iter().any(|e| matches!(
                e,
                Evidence::SegmentAired { event_id, .. } if event_id == id
            )),
            "{id} did not air: {evidence:?}"
        );
    }
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let packets = packet_dts(&path);
    let frame = 1.0 / 30.0;
    for (stream, name) in [(0, "video"), (1, "audio")] {
        let dts: Vec<f64> = packets
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, d)| *d)
            .collect();
        assert!(
            dts.last().unwrap() - dts[0] > 7.0,
            "{name} spans {:?}..{:?}: four boundaries expected",
            dts.first(),
            dts.last()
        );
        for pair in dts.windows(2) {
            assert!(
                pair[1] > pair[0],
                "{name}: dts does not increase {} -> {}",
                pair[0],
                pair[1]
            );
        }
        if name == "video" {
            // 30 fps throughout: a boundary neither repeats nor skips more than a frame.
            for pair in dts.windows(2) {
                assert!(
                    pair[1] - pair[0] <= 2.0 * frame + 0.001,
                    "video dts jumps {} -> {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
    let pcr = pcr_seconds(&bytes);
    assert!(pcr.len() > 40, "only {} PCRs", pcr.len());
    for pair in pcr.windows(2) {
        assert!(
            pair[1] > pair[0] && pair[1] - pair[0] < 0.5,
            "pcr {} -> {}",
            pair[0],
            pair[1]
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
