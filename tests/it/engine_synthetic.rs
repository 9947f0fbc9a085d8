//! The synthetic playout engine as a real process: protocol, evidence and an H.264/AAC MPEG-TS
//! that ffprobe recognises and ffmpeg decodes (contracts/engine-protocol.md).

use crate::support::ts_check;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use retrovue::engine::h264::{Encoder, Picture, Ycbcr};
use retrovue::engine::protocol::{Block, Control, Evidence, Segment};
use retrovue::engine::ts;

const ENGINE: &str = env!("CARGO_BIN_EXE_retrovue-engine-synthetic");

use crate::support::one_at_a_time;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rv-engine-syn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `program` with `args`, feeding `input` on stdin; returns (success, stdout, stderr).
fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    (
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Decodes the video of `path` (first `frames` pictures) to raw 8-bit Y'CbCr 4:2:0.
fn decode_yuv(path: &Path, frames: usize) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-frames:v", &frames.to_string()])
        .args(["-pix_fmt", "yuv420p", "-f", "rawvideo", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

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

fn segment(id: &str, kind: &str, asset: Option<&str>, start: i64, end: i64) -> Segment {
    Segment {
        event_id: id.into(),
        asset_uri: asset.map(str::to_string),
        kind: kind.into(),
        in_point_ms: 0,
        duration_ms: end - start,
        start,
        end,
    }
}

/// Runs the engine: writes `lines`, waits `run_for`, then sends `stop` (or closes stdin when
/// `stop` is false). Returns (stdout bytes, evidence, exit code).
fn run_engine(
    args: &[&str],
    lines: &[String],
    run_for: Duration,
    stop: bool,
) -> (Vec<u8>, Vec<Evidence>, i32) {
    let mut child = Command::new(ENGINE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).expect("read stdout");
        bytes
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).expect("read stderr");
        text
    });
    let mut stdin = child.stdin.take().expect("stdin");
    for line in lines {
        writeln!(stdin, "{line}").expect("write control");
    }
    thread::sleep(run_for);
    if stop {
        writeln!(stdin, "{}", serde_json::to_string(&Control::Stop).unwrap()).expect("stop");
    }
    drop(stdin);
    let status = child.wait().expect("wait");
    let bytes = out_reader.join().expect("stdout thread");
    let text = err_reader.join().expect("stderr thread");
    let evidence = text.lines().filter_map(Evidence::parse_line).collect();
    (bytes, evidence, status.code().unwrap_or(-1))
}

fn start_line(join_at: i64, blocks: Vec<Block>) -> String {
    serde_json::to_string(&Control::Start {
        channel: "c1".into(),
        join_at,
        blocks,
    })
    .unwrap()
}

fn ffprobe(path: &Path, entries: &str) -> String {
    ffprobe_args(path, &["-show_entries", entries, "-of", "default=nw=1"])
}

/// `entries` of the selected streams (`v` or `a`) as `key=value` lines.
fn ffprobe_stream(path: &Path, select: &str, entries: &str) -> String {
    ffprobe_args(
        path,
        &[
            "-select_streams",
            select,
            "-show_entries",
            entries,
            "-of",
            "default=nw=1",
        ],
    )
}

/// `packet=pts,flags` of the selected streams as (pts, keyframe) pairs, in stream order.
fn ffprobe_packets(path: &Path, select: &str) -> Vec<(u64, bool)> {
    let text = ffprobe_args(
        path,
        &[
            "-select_streams",
            select,
            "-show_entries",
            "packet=pts,flags",
            "-of",
            "csv=p=0",
        ],
    );
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (pts, flags) = line.split_once(',').expect("pts,flags");
            (pts.parse().expect("pts"), flags.starts_with('K'))
        })
        .collect()
}

fn ffprobe_args(path: &Path, args: &[&str]) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        output.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// contract: ENGINE-001
// contract: ENGINE-004
// contract: ENGINE-010
#[test]
fn ffprobe_recognises_mpegts_with_h264_and_aac_and_the_bars_decode_exactly() {
    ensure_ffmpeg();
    let join = now_ms();
    let block = Block {
        id: "b1".into(),
        start: join - 500,
        end: join + 60_000,
        segments: vec![
            segment(
                "e1",
                "content",
                Some("synthetic:bars"),
                join - 500,
                join + 1_000,
            ),
            segment(
                "e2",
                "commercial",
                Some("synthetic:ad"),
                join + 1_000,
                join + 60_000,
            ),
        ],
    };
    let (bytes, _, code) = run_engine(
        &[],
        &[start_line(join, vec![block])],
        Duration::from_millis(2_500),
        true,
    );
    assert_eq!(code, 0);
    assert!(bytes.len() > 100 * 188, "only {} bytes", bytes.len());
    assert_eq!(bytes.len() % 188, 0, "whole packets only");
    assert!(
        bytes.chunks(188).all(|p| p[0] == 0x47),
        "every packet starts with the sync byte"
    );
    let dir = temp_dir("probe");
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let _turn = one_at_a_time();
    let format = ffprobe(&path, "format=format_name");
    assert!(format.contains("format_name=mpegts"), "{format}");
    let video = ffprobe_stream(
        &path,
        "v",
        "stream=codec_name,profile,width,height,r_frame_rate",
    );
    for expected in [
        "codec_name=h264",
        "profile=Constrained Baseline",
        "width=1280",
        "height=720",
        "r_frame_rate=30/1",
    ] {
        assert!(video.contains(expected), "{expected} in {video}");
    }
    let audio = ffprobe_stream(&path, "a", "stream=codec_name,profile,sample_rate,channels");
    for expected in [
        "codec_name=aac",
        "profile=LC",
        "sample_rate=48000",
        "channels=2",
    ] {
        assert!(audio.contains(expected), "{expected} in {audio}");
    }
    // Video and audio decode without errors (the first 2 s: the stop may land while the last
    // picture is still being written, which is not what this checks).
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-t", "2", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );
    // The first picture is the bars exactly (limited-range luma of the first two bars) with the
    // white square at column 0 of the third macroblock row from the bottom.
    let frame = decode_yuv(&path, 1);
    assert_eq!(frame.len(), 1280 * 720 * 3 / 2);
    let luma = |x: usize, y: usize| frame[y * 1280 + x];
    assert_eq!((luma(8, 8), luma(8, 700)), (180, 180), "first bar");
    assert_eq!(luma(200, 360), 162, "second bar");
    assert_eq!(luma(8, 42 * 16 + 8), 235, "moving square");
    assert_eq!(luma(24, 42 * 16 + 8), 180, "beside the square");
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-003
// contract: ENGINE-005
// contract: ENGINE-006
// contract: ENGINE-008
#[test]
fn evidence_follows_the_plan_on_the_engine_clock_and_stop_exits_zero() {
    // A fixed join time far from now: the engine clock starts there, whatever the wall says.
    let join = 1_000_000_000_000;
    let block = Block {
        id: "b1".into(),
        start: join - 5_000,
        end: join + 60_000,
        segments: vec![
            segment(
                "a",
                "content",
                Some("synthetic:x"),
                join - 5_000,
                join + 600,
            ),
            segment("b", "promo", Some("synthetic:y"), join + 600, join + 60_000),
        ],
    };
    let (_, evidence, code) = run_engine(
        &[],
        &[start_line(join, vec![block])],
        Duration::from_millis(1_200),
        true,
    );
    assert_eq!(code, 0);
    assert!(matches!(&evidence[0], Evidence::SessionStarted { join_at, .. } if *join_at == join));
    assert_eq!(
        evidence[1],
        Evidence::BlockStarted {
            block_id: "b1".into(),
            at: join
        }
    );
    assert_eq!(
        evidence[2],
        Evidence::SegmentStarted {
            event_id: "a".into(),
            at: join
        }
    );
    assert_eq!(
        evidence[3],
        Evidence::SegmentAired {
            event_id: "a".into(),
            actual_start: join,
            actual_end: join + 600
        }
    );
    assert_eq!(
        evidence[4],
        Evidence::SegmentStarted {
            event_id: "b".into(),
            at: join + 600
        }
    );
    match &evidence[5] {
        Evidence::SegmentTruncated {
            event_id,
            actual_start,
            actual_end,
            reason,
        } => {
            assert_eq!(
                (event_id.as_str(), *actual_start, reason.as_str()),
                ("b", join + 600, "stop")
            );
            assert!(*actual_end > join + 600 && *actual_end < join + 60_000);
        }
        other => panic!("expected b truncated, got {other:?}"),
    }
    assert_eq!(
        evidence[6],
        Evidence::SessionEnded {
            reason: "stop".into()
        }
    );
    assert_eq!(evidence.len(), 7);
}

// contract: ENGINE-002
// contract: ENGINE-007
// contract: ENGINE-008
#[test]
fn bad_lines_are_reported_starvation_is_padded_and_eof_ends_cleanly() {
    let join = 2_000_000_000_000;
    let block = Block {
        id: "b1".into(),
        start: join,
        end: join + 300,
        segments: vec![segment("a", "content", None, join, join + 300)],
    };
    let lines = vec![
        r#"{"type":"feed","block":{"id":"x","start":1,"end":2,"segments":[]}}"#.to_string(),
        "not json".to_string(),
        start_line(join, vec![block]),
        r#"{"type":"rewind"}"#.to_string(),
    ];
    let (bytes, evidence, code) = run_engine(&[], &lines, Duration::from_millis(900), false);
    assert_eq!(code, 0);
    let errors: Vec<(u64, String)> = evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::ProtocolError { line, reason } => Some((*line, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, 1);
    assert!(errors[0].1.contains("feed before start"), "{}", errors[0].1);
    assert_eq!((errors[1].0, errors[2].0), (2, 4));
    assert!(
        evidence.contains(&Evidence::Starved { at: join + 300 }),
        "{evidence:?}"
    );
    assert_eq!(
        evidence.last(),
        Some(&Evidence::SessionEnded {
            reason: "eof".into()
        })
    );
    // Output kept flowing while starved: well past the 300 ms of planned content at 2 Mbit/s.
    assert!(
        bytes.len() > 2_000_000 / 8 / 2,
        "only {} bytes",
        bytes.len()
    );
}

// contract: ENGINE-012
#[test]
fn output_is_stamped_on_the_utc_playhead_of_join_at() {
    use retrovue::engine::ts;
    // A join far from now: the stamps follow `join_at`, not the host's wall clock.
    let join = 1_234_567_890_123;
    let block = Block {
        id: "b1".into(),
        start: join,
        end: join + 60_000,
        segments: vec![segment(
            "a",
            "content",
            Some("synthetic:x"),
            join,
            join + 60_000,
        )],
    };
    let (bytes, _, code) = run_engine(
        &[],
        &[start_line(join, vec![block])],
        Duration::from_millis(600),
        true,
    );
    assert_eq!(code, 0);
    let packets: Vec<&[u8]> = bytes.chunks(188).collect();
    let first_pcr = packets.iter().find_map(|p| ts::read_pcr(p)).expect("a PCR");
    let first_video_pts = packets
        .iter()
        .filter(|p| ts::packet_pid(p) == ts::VIDEO_PID)
        .find_map(|p| ts::read_pes_timestamps(p).0)
        .expect("a video PTS");
    // The first PCR goes out in one of the first packet slots after join_at (a slot is 0.75 ms
    // at 2 Mbit/s); the first frame is presented at join_at plus the 200 ms delay.
    let after_join = (first_pcr + ts::PCR_WRAP - ts::utc_pcr(join)) % ts::PCR_WRAP;
    assert!(
        after_join < 27_000 * 10,
        "first PCR {after_join} after join_at"
    );
    assert_eq!(
        first_video_pts,
        ts::wrap_add(ts::utc_90khz(join), 18_000),
        "first video PTS"
    );
}

// contract: ENGINE-004
// contract: ENGINE-010
// contract: ENGINE-013
#[test]
fn keyframes_start_every_segment_and_come_every_two_seconds_and_audio_is_continuous() {
    ensure_ffmpeg();
    // A fixed join far from now: every stamp is predictable from it (ENGINE-012).
    let join = 1_500_000_000_000;
    let block = Block {
        id: "b1".into(),
        start: join - 2_000,
        end: join + 60_000,
        segments: vec![
            segment(
                "a",
                "content",
                Some("synthetic:x"),
                join - 2_000,
                join + 500,
            ),
            segment(
                "b",
                "commercial",
                Some("synthetic:y"),
                join + 500,
                join + 1_000,
            ),
            segment(
                "c",
                "promo",
                Some("synthetic:z"),
                join + 1_000,
                join + 60_000,
            ),
        ],
    };
    let (bytes, _, code) = run_engine(
        &[],
        &[start_line(join, vec![block])],
        Duration::from_millis(4_000),
        true,
    );
    assert_eq!(code, 0);
    let report = ts_check::check(&bytes);
    assert!(report.ok(), "{:?}", report.problems);
    let dir = temp_dir("keys");
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let _turn = one_at_a_time();

    // Pictures are presented at join + n/30 s + 200 ms; keyframes at join (session start),
    // +500 ms and +1000 ms (segment starts), then every 2 s: +3000 ms.
    let first_pts = ts::wrap_add(ts::utc_90khz(join), 18_000);
    let video = ffprobe_packets(&path, "v");
    assert!(video.len() >= 90, "only {} pictures", video.len());
    let keys: Vec<u64> = video
        .iter()
        .filter(|(_, key)| *key)
        .map(|(pts, _)| (pts + ts::TIMESTAMP_WRAP - first_pts) % ts::TIMESTAMP_WRAP)
        .collect();
    assert_eq!(
        &keys[..4],
        &[0, 45_000, 90_000, 270_000],
        "keyframe PTS after join"
    );
    for pair in video.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 3_000, "one picture every 1/30 s");
    }
    let mut since_key = 0;
    for (_, key) in &video {
        since_key = if *key { 0 } else { since_key + 1 };
        assert!(since_key < 60, "a keyframe at least every 2 s");
    }

    // Audio: one AAC frame every 1024 samples at 48 kHz, no gaps, from the join on.
    let audio = ffprobe_packets(&path, "a");
    assert!(audio.len() > 150, "only {} audio frames", audio.len());
    assert_eq!(audio[0].0, first_pts, "audio starts with the video");
    for pair in audio.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 1_920, "1024 samples at 48 kHz");
    }

    // Each segment's first picture shows its colour: the promo's green at +1000 ms (frame 30).
    let frames = decode_yuv(&path, 31);
    let size = 1280 * 720 * 3 / 2;
    let promo = &frames[30 * size..31 * size];
    let (y, cb, cr) = (promo[0], promo[1280 * 720], promo[1280 * 720 + 640 * 360]);
    assert_eq!((y, cb, cr), (145, 54, 34), "promo green");
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-010
#[test]
fn the_h264_writer_decodes_to_exactly_the_pictures_it_was_given() {
    ensure_ffmpeg();
    // 8x6 macroblocks: every coding (raw, vertical, horizontal, skip) and changes between
    // pictures that are not keyframes.
    let (columns, rows) = (8u32, 6u32);
    let colour = |n: u32| {
        Ycbcr(
            16 + (n * 37 % 219) as u8,
            40 + (n * 23 % 180) as u8,
            200 - n as u8,
        )
    };
    let pictures: Vec<Picture> = (0..12u32)
        .map(|frame| {
            Picture::new(columns, rows, move |column, row| {
                if row == 2 && column == frame % columns {
                    colour(99)
                } else if frame >= 6 && row >= 4 {
                    colour(column / 2 + frame)
                } else {
                    colour(column / 3 + row / 2)
                }
            })
        })
        .collect();
    let mut encoder = Encoder::new(columns, rows, 25);
    let mut stream = Vec::new();
    for (n, picture) in pictures.iter().enumerate() {
        stream.extend(encoder.encode(picture, n % 5 == 0));
    }
    let _turn = one_at_a_time();
    let (ok, _, errors) = run_with_input(
        "ffprobe",
        &[
            "-v",
            "error",
            "-f",
            "h264",
            "-show_entries",
            "stream=codec_name,profile,width,height,r_frame_rate",
            "-of",
            "default=nw=1",
            "-",
        ],
        &stream,
    );
    assert!(ok, "{errors}");
    let (ok, raw, errors) = run_with_input(
        "ffmpeg",
        &[
            "-v", "error", "-f", "h264", "-i", "-", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-",
        ],
        &stream,
    );
    assert!(ok && errors.is_empty(), "{errors}");
    let (width, height) = ((columns * 16) as usize, (rows * 16) as usize);
    let size = width * height * 3 / 2;
    assert_eq!(raw.len(), size * pictures.len(), "every picture decoded");
    for (n, picture) in pictures.iter().enumerate() {
        let frame = &raw[n * size..(n + 1) * size];
        for y in 0..height {
            for x in 0..width {
                let Ycbcr(luma, cb, cr) = picture.at((x / 16) as u32, (y / 16) as u32);
                let chroma = (y / 2) * (width / 2) + x / 2;
                assert_eq!(
                    (
                        frame[y * width + x],
                        frame[width * height + chroma],
                        frame[width * height * 5 / 4 + chroma]
                    ),
                    (luma, cb, cr),
                    "picture {n} at ({x}, {y})"
                );
            }
        }
    }
}

#[test]
fn a_bad_bitrate_exits_two_with_a_message() {
    let output = Command::new(ENGINE)
        .args(["--bitrate", "12"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bitrate"));
}

#[test]
fn the_daemons_common_arguments_are_accepted_and_a_bad_profile_is_refused() {
    // contract: ENGINE-014
    let join = now_ms();
    let block = Block {
        id: "0".into(),
        start: join,
        end: join + 1_000,
        segments: vec![segment("a", "content", None, join, join + 1_000)],
    };
    let input = format!("{}\n{{\"type\":\"stop\"}}\n", start_line(join, vec![block]));
    let (ok, stdout, stderr) = run_with_input(
        ENGINE,
        &["--profile=1080p60:crf=20", "--channel-name=Retro One"],
        input.as_bytes(),
    );
    assert!(ok, "{stderr}");
    assert!(!stdout.is_empty() && stdout.len() % 188 == 0, "{stderr}");
    let (ok, _, stderr) = run_with_input(ENGINE, &["--profile=720q99"], b"");
    assert!(!ok);
    assert!(stderr.contains("--profile"), "{stderr}");
}
