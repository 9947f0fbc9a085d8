//! Test support for ingest: self-cleaning temp folders, empty files, and tiny real clips made
//! with Debian's ffmpeg at test time.

#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Once;

/// The one temporary directory of the tests.
pub use crate::support::TempDir;

/// Installs ffmpeg/ffprobe when missing (once per test binary).
pub fn ensure_ffmpeg() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-ffmpeg.sh");
        let status = Command::new("bash").arg(script).status().unwrap();
        assert!(status.success(), "scripts/ensure-ffmpeg.sh failed");
    });
}

fn ffmpeg(args: &[&str]) {
    ensure_ffmpeg();
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A real `seconds`-long 160x120 clip with a sine tone at `path` (container from extension).
pub fn make_clip(path: &Path, seconds: u32) {
    make_encoded_clip(path, "160x120", 10, seconds, "mpeg4", "aac");
}

/// A real `seconds`-long clip of `size` test pictures at `rate` fps with a sine tone, encoded
/// with `vcodec` (x264/x265 at their fastest preset) and `acodec`; container from extension.
pub fn make_encoded_clip(
    path: &Path,
    size: &str,
    rate: u32,
    seconds: u32,
    vcodec: &str,
    acodec: &str,
) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let video = format!("testsrc=size={size}:rate={rate}:duration={seconds}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let mut args = vec![
        "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio, "-c:v", vcodec, "-c:a", acodec,
    ];
    match vcodec {
        "libx264" => args.extend(["-preset", "ultrafast"]),
        "libx265" => args.extend(["-preset", "ultrafast", "-x265-params", "log-level=error"]),
        _ => {}
    }
    args.extend(["-shortest", path.to_str().unwrap()]);
    ffmpeg(&args);
}

/// A real clip at `path` with chapters starting at each of `chapter_starts_ms` (ffmetadata).
pub fn make_clip_with_chapters(path: &Path, seconds: u32, chapter_starts_ms: &[i64]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let end_ms = i64::from(seconds) * 1000;
    let mut metadata = String::from(";FFMETADATA1\ntitle=Test clip\n");
    for (index, start) in chapter_starts_ms.iter().enumerate() {
        let end = chapter_starts_ms.get(index + 1).copied().unwrap_or(end_ms);
        metadata.push_str(&format!(
            "[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle=Part {}\n",
            index + 1
        ));
    }
    let metadata_path = path.with_extension("ffmeta.txt");
    fs::write(&metadata_path, metadata).unwrap();
    let video = format!("testsrc=size=160x120:rate=10:duration={seconds}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-i",
        metadata_path.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-map_metadata",
        "2",
        "-map_chapters",
        "2",
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    fs::remove_file(metadata_path).unwrap();
}
