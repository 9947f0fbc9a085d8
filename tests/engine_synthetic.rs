//! The synthetic playout engine as a real process: protocol, evidence and an MPEG-TS that
//! ffprobe recognises (contracts/engine-protocol.md).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use retrovue::engine::protocol::{Block, Control, Evidence, Segment};

const ENGINE: &str = env!("CARGO_BIN_EXE_retrovue-engine-synthetic");

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
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            entries,
            "-of",
            "default=nw=1",
        ])
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
fn ffprobe_recognises_mpegts_with_video_and_audio() {
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
    let dir = std::env::temp_dir().join(format!("rv-engine-syn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let format = ffprobe(&path, "format=format_name");
    assert!(format.contains("format_name=mpegts"), "{format}");
    let streams = ffprobe(&path, "stream=codec_type,codec_name,width,height");
    assert!(
        streams.contains("codec_type=video") && streams.contains("codec_name=mpeg1video"),
        "{streams}"
    );
    assert!(
        streams.contains("width=640") && streams.contains("height=360"),
        "{streams}"
    );
    assert!(
        streams.contains("codec_type=audio") && streams.contains("codec_name=mp2"),
        "{streams}"
    );
    // The pictures decode without errors.
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );
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

#[test]
fn a_bad_bitrate_exits_two_with_a_message() {
    let output = Command::new(ENGINE)
        .args(["--bitrate", "12"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bitrate"));
}
