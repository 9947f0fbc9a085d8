//! Ingest speed: the in-process container readers agree with ffprobe on real clips, probing
//! runs on a worker pool with deterministic results, and a killed ingest keeps what it probed
//! (contracts INGEST-018..023, STORE-043).

use crate::support::{TempDir as Dir, TestDb};
use crate::support_cli::Rv;
use crate::support_media::{ensure_ffmpeg, make_clip, make_clip_with_chapters, make_encoded_clip};

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

// contract: INGEST-021
#[test]
fn transport_streams_give_the_picture_size_ffprobe_gives() {
    let dir = Dir::new("ts-sizes");
    // MPEG-2 (its sequence header), H.264 whose 1088 coded lines are cropped to 1080, and
    // H.265 at a size its 8-sample coding grid must crop.
    for (name, vcodec, size) in [
        ("mpeg2.ts", "mpeg2video", "720x480"),
        ("cropped.ts", "libx264", "1920x1080"),
        ("hevc.ts", "libx265", "646x362"),
    ] {
        let clip = dir.join(name);
        make_encoded_clip(&clip, size, 25, 1, vcodec, "aac");
        assert_agree(&clip, true);
        let read = read_container(&clip).unwrap();
        assert_eq!(
            format!("{}x{}", read.width.unwrap(), read.height.unwrap()),
            size
        );
    }
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
        assert_agree(&clip, true);
        let other = dir.join(&format!("h264.{ext}"));
        make_h264_ac3(&other, 3);
        assert_agree(&other, true);
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

/// A library of `count` hard links to one real 1 s clip, registered with an ffprobe enricher.
fn library(db: &TestDb, home: &Dir, count: usize) -> (Rv, PathBuf) {
    let root = home.join("library");
    let clip = home.join("clip.mkv");
    make_clip(&clip, 1);
    std::fs::create_dir_all(&root).unwrap();
    for n in 0..count {
        std::fs::hard_link(&clip, root.join(format!("Spot {n:04}.mkv"))).unwrap();
    }
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "filesystem",
        "--path",
        root.to_str().unwrap(),
    ]);
    rv.ok(&["source", "discover", "library"]);
    rv.ok(&["enricher", "add", "ffprobe", "--timeout", "20s"]);
    (rv, root)
}

fn ready_count(rv: &Rv) -> usize {
    rv.json(&["asset", "list", "--state", "ready"])
        .as_array()
        .unwrap()
        .len()
}

/// A killed ingest keeps the batches it saved; the re-run reuses them and probes the rest.
fn killed_ingest_keeps_its_probes(db: &TestDb) {
    let home = Dir::new("killed");
    let files = 300;
    let (rv, _) = library(db, &home, files);
    // A slow ffprobe (forced for every file) so the run can be killed midway.
    let bin = home.join("slowbin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ffprobe"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let wrapper = bin.join("ffprobe");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nsleep 0.1\nexec {} \"$@\"\n", real.trim()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args([
            "--db",
            db.url(),
            "--json",
            "collection",
            "ingest",
            "library",
            "--jobs",
            "2",
        ])
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_HOME", &home.path)
        .env("RETROVUE_PROBE", "ffprobe")
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut saved = 0;
    while saved == 0 {
        assert!(Instant::now() < deadline, "no probe was saved in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the ingest ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(100));
        saved = ready_count(&rv);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = ready_count(&rv);
    assert!(kept >= saved && kept < files, "kept {kept} of {files}");
    let enriching = rv.json(&["asset", "list", "--state", "enriching"]);
    assert_eq!(enriching.as_array().unwrap().len(), files - kept);

    let again = rv.json(&["collection", "ingest", "library"])["collections"][0].clone();
    assert_eq!(again["reused"], kept, "{again}");
    assert_eq!(again["probed"], files - kept, "{again}");
    assert_eq!(ready_count(&rv), files);
    // contract: INGEST-024 (the no-change re-ingest the benchmark times probes nothing; the
    // timings themselves are printed by benches/ingest.rs, never asserted)
    let third = rv.json(&["collection", "ingest", "library"])["collections"][0].clone();
    assert_eq!(
        (third["reused"].as_u64(), third["probed"].as_u64()),
        (Some(files as u64), Some(0))
    );
    assert_eq!(third["unchanged"], files);
}

// contract: INGEST-022, INGEST-023, STORE-043
#[test]
fn a_killed_ingest_keeps_its_probes_sqlite() {
    killed_ingest_keeps_its_probes(&TestDb::sqlite());
}

// contract: INGEST-022, INGEST-023, STORE-043
#[test]
fn a_killed_ingest_keeps_its_probes_postgres() {
    killed_ingest_keeps_its_probes(&TestDb::postgres());
}

fn catalog(rv: &Rv) -> Vec<serde_json::Value> {
    let mut assets = rv.json(&["asset", "list"]).as_array().unwrap().clone();
    for a in &mut assets {
        // The two libraries' clips were made apart: their times differ, nothing else may.
        a.as_object_mut().unwrap().remove("updated_at_ms");
        a.as_object_mut().unwrap().remove("mtime_ms");
    }
    assets
}

// contract: INGEST-018
#[test]
fn one_worker_and_many_give_the_same_catalog() {
    let (one_db, many_db) = (TestDb::sqlite(), TestDb::postgres());
    let (one_home, many_home) = (Dir::new("one"), Dir::new("many"));
    let (one, one_root) = library(&one_db, &one_home, 40);
    let (many, many_root) = library(&many_db, &many_home, 40);
    // One broken file among them, at the same place in both.
    for root in [&one_root, &many_root] {
        // Its own file, not the shared hard link's.
        std::fs::remove_file(root.join("Spot 0005.mkv")).unwrap();
        std::fs::write(root.join("Spot 0005.mkv"), "broken").unwrap();
    }
    let a = one.json(&["collection", "ingest", "library", "--jobs", "1"])["collections"][0].clone();
    let b =
        many.json(&["collection", "ingest", "library", "--jobs", "7"])["collections"][0].clone();
    let strip =
        |r: &serde_json::Value, root: &Path| r.to_string().replace(root.to_str().unwrap(), "ROOT");
    assert_eq!(
        strip(&a, &one_root),
        strip(&b, &many_root),
        "reports differ"
    );
    assert_eq!(a["not_ready"].as_array().unwrap().len(), 1, "{a}");
    let (left, right) = (catalog(&one), catalog(&many));
    assert_eq!(left.len(), 40);
    let rows = |assets: &[serde_json::Value], root: &Path| -> Vec<String> {
        assets.iter().map(|x| strip(x, root)).collect()
    };
    assert_eq!(rows(&left, &one_root), rows(&right, &many_root));

    // contract: INGEST-018, INGEST-021
    for jobs in ["0", "many"] {
        let out = one.run(&["collection", "ingest", "library", "--jobs", jobs]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--jobs"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_retrovue"))
        .args(["--db", one_db.url(), "collection", "ingest", "library"])
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_HOME", &one_home.path)
        .env("RETROVUE_PROBE", "fast")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RETROVUE_PROBE"));
}
