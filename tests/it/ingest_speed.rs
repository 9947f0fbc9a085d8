//! Ingest speed: the in-process container readers agree with ffprobe on real clips, probing
//! runs on a worker pool with deterministic results, and a killed ingest keeps what it probed
//! (contracts INGEST-018..023, STORE-043).

use crate::support::{TempDir as Dir, TestDb};
use crate::support_cli::Rv;
use crate::support_media::{ensure_ffmpeg, make_clip, make_clip_with_chapters};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use retrovue::ingest::enricher::IngestEnricher;
use retrovue::ingest::ffprobe::Ffprobe;
use retrovue::ingest::probe::{read_container, MediaProbe, ProbeMode};

fn assert_agree(path: &Path, compare_size: bool) {
    let ours = read_container(path)
        .unwrap_or_else(|why| panic!("{}: not read in process: {why}", path.display()));
    let theirs = Ffprobe::default().probe(path).unwrap();
    let what = path.display();
    assert!(
        (ours.duration_ms - theirs.duration_ms).abs() <= 50,
        "{what}: in process {} ms, ffprobe {} ms",
        ours.duration_ms,
        theirs.duration_ms
    );
    assert_eq!(ours.video_codec, theirs.video_codec, "{what}: video");
    assert_eq!(ours.audio_codec, theirs.audio_codec, "{what}: audio");
    assert_eq!(
        ours.audio_channels, theirs.audio_channels,
        "{what}: channels"
    );
    assert_eq!(ours.chapters_ms, theirs.chapters_ms, "{what}: chapters");
    if compare_size {
        assert_eq!(
            (ours.width, ours.height),
            (theirs.width, theirs.height),
            "{what}: size"
        );
    }
}

/// A clip of `seconds` with h264 video and AC-3 audio, for codecs besides the default ones.
fn make_h264_ac3(path: &Path, seconds: u32) {
    ensure_ffmpeg();
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=320x240:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=220:sample_rate=48000:duration={seconds}"
        ))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "ac3",
            "-ac",
            "2",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

// contract: INGEST-019, INGEST-020, INGEST-021
#[test]
fn the_in_process_readers_agree_with_ffprobe_on_real_clips() {
    let dir = Dir::new("agree");
    let mkv = dir.join("chapters.mkv");
    make_clip_with_chapters(&mkv, 3, &[0, 1000, 2000]);
    assert_agree(&mkv, true);
    for ext in ["mkv", "mp4", "mov", "ts"] {
        let clip = dir.join(&format!("plain.{ext}"));
        make_clip(&clip, 2);
        assert_agree(&clip, ext != "ts");
        let other = dir.join(&format!("h264.{ext}"));
        make_h264_ac3(&other, 3);
        assert_agree(&other, ext != "ts");
    }
}

// contract: INGEST-021
#[test]
fn what_the_readers_cannot_read_goes_to_ffprobe() {
    let dir = Dir::new("fallback");
    // Unknown container, not a media file, a FIFO: never read in process.
    let avi = dir.join("clip.avi");
    make_clip(&avi, 1);
    assert!(read_container(&avi).is_err());
    let junk = dir.write("junk.mkv", "not a video");
    assert!(read_container(&junk).is_err());
    let junk_ts = dir.write("junk.ts", &"G".repeat(188 * 4));
    assert!(read_container(&junk_ts).is_err());
    let fifo = dir.join("stalled.mp4");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert_eq!(read_container(&fifo).unwrap_err(), "not a regular file");
    // An MP4 with chapters is left to ffprobe, which reads them.
    let chaptered = dir.join("chapters.mp4");
    make_clip_with_chapters(&chaptered, 3, &[0, 1500]);
    assert!(read_container(&chaptered).is_err());

    let auto = MediaProbe {
        ffprobe: Ffprobe::default(),
        mode: ProbeMode::Auto,
    };
    assert_eq!(auto.name(), "ffprobe");
    assert_eq!(auto.probe(&chaptered).unwrap().chapters_ms, [1500]);
    assert!(auto.probe(&avi).unwrap().duration_ms > 0);
    // Without ffprobe: what the reader reads still works, the rest says ffprobe is missing.
    let no_ffprobe = MediaProbe {
        ffprobe: Ffprobe {
            program: PathBuf::from("/nonexistent/ffprobe"),
            timeout: Duration::from_secs(5),
        },
        mode: ProbeMode::Auto,
    };
    let mkv = dir.join("ok.mkv");
    make_clip(&mkv, 1);
    assert!(no_ffprobe.probe(&mkv).is_ok());
    let error = no_ffprobe.probe(&avi).unwrap_err();
    assert!(
        error.reason.starts_with("cannot run /nonexistent/ffprobe"),
        "{}",
        error.reason
    );
    // Forced ffprobe never reads in process.
    let forced = MediaProbe {
        mode: ProbeMode::FfprobeOnly,
        ..no_ffprobe
    };
    assert!(forced.probe(&mkv).is_err());
}
