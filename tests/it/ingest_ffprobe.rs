//! The ffprobe enricher on tiny real clips made with ffmpeg at test time: durations, codecs,
//! chapters, unreadable files and the timeout (contracts INGEST-012..015).

use crate::support_media;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use retrovue::ingest::enricher::IngestEnricher;
use retrovue::ingest::ffprobe::Ffprobe;
use retrovue::ingest::filesystem::discover_root;
use retrovue::ingest::{DiscoveredItem, Discovery};
use retrovue_core::model::AssetKind;
use support_media::{ensure_ffmpeg, make_clip, make_clip_with_chapters, TempDir};

fn item<'a>(discovery: &'a Discovery, key: &str) -> &'a DiscoveredItem {
    discovery
        .items
        .iter()
        .find(|i| i.canonical_key == key)
        .unwrap()
}

fn assert_near(actual: i64, expected: i64, what: &str) {
    assert!(
        (actual - expected).abs() <= 50,
        "{what}: {actual} ms is not within 50 ms of {expected} ms"
    );
}

// contract: INGEST-012, INGEST-015
#[test]
fn probes_duration_codecs_resolution_and_chapters_of_real_clips() {
    let dir = TempDir::new("probe");
    make_clip_with_chapters(
        &dir.join("Show/Season 01/Show - S01E01 - Pilot.mkv"),
        3,
        &[0, 1000, 2000],
    );
    make_clip(&dir.join("bumpers/next.mp4"), 2);
    let discovery = discover_root(&dir.path).unwrap();
    assert_eq!(discovery.items.len(), 2, "{:?}", discovery.skipped);
    let ffprobe = Ffprobe::default();
    assert_eq!(ffprobe.name(), "ffprobe");

    let episode = item(&discovery, "Show/Season 01/Show - S01E01 - Pilot.mkv").clone();
    assert!(episode.needs_probe());
    let before = episode.clone();
    let enriched = ffprobe.enrich(episode).unwrap();
    let probe = enriched.probe.clone().unwrap();
    assert_near(probe.duration_ms, 3000, "episode duration");
    assert_eq!(enriched.duration_ms, Some(probe.duration_ms));
    assert_eq!(probe.chapters_ms, [1000, 2000], "chapter at 0 is no break");
    assert_eq!(enriched.chapters_ms, [1000, 2000]);
    assert_eq!(probe.video_codec.as_deref(), Some("mpeg4"));
    assert_eq!(probe.audio_codec.as_deref(), Some("aac"));
    assert_eq!((probe.width, probe.height), (Some(160), Some(120)));
    assert!(!enriched.needs_probe());
    assert_eq!(
        enriched.editorial, before.editorial,
        "ffprobe leaves editorial alone"
    );
    assert_eq!(enriched.canonical_key, before.canonical_key);

    let bumper = ffprobe
        .enrich(item(&discovery, "bumpers/next.mp4").clone())
        .unwrap();
    assert_eq!(bumper.editorial.kind, AssetKind::Bumper);
    assert_near(bumper.duration_ms.unwrap(), 2000, "bumper duration");
    assert!(bumper.chapters_ms.is_empty());
}

// contract: INGEST-015, INGEST-006
#[test]
fn sidecar_pins_survive_the_probe() {
    let dir = TempDir::new("pins");
    make_clip_with_chapters(&dir.join("promos/fall.mkv"), 3, &[0, 1500]);
    dir.write(
        "promos/fall.mkv.retrovue.json",
        r#"{"chapters_ms": [2500], "title": "Fall"}"#,
    );
    let discovery = discover_root(&dir.path).unwrap();
    let promo = discovery.items[0].clone();
    assert!(
        promo.needs_probe(),
        "chapters alone do not make the probe unnecessary"
    );
    let enriched = Ffprobe::default().enrich(promo).unwrap();
    assert_eq!(enriched.chapters_ms, [2500], "the sidecar's chapters stand");
    assert_eq!(enriched.probe.as_ref().unwrap().chapters_ms, [1500]);
    assert_near(
        enriched.duration_ms.unwrap(),
        3000,
        "duration comes from the probe",
    );
    assert_eq!(enriched.editorial.title, "Fall");
    assert_eq!(
        enriched.pinned,
        BTreeSet::from(["chapters_ms".to_string(), "title".to_string()])
    );
}

// contract: INGEST-013
#[test]
fn unreadable_files_are_errors_with_the_reason() {
    ensure_ffmpeg();
    let dir = TempDir::new("unreadable");
    let fake = dir.write("movies/not a video.mkv", "this is text, not Matroska\n");
    let discovery = discover_root(&dir.path).unwrap();
    let error = Ffprobe::default()
        .enrich(discovery.items[0].clone())
        .unwrap_err();
    assert_eq!(error.location, fake.display().to_string());
    assert!(
        error.reason.starts_with("ffprobe failed: "),
        "{}",
        error.reason
    );
    assert!(
        error.reason.contains("Invalid data") || error.reason.contains("EBML"),
        "{}",
        error.reason
    );

    let missing = dir.join("missing.mkv");
    let error = Ffprobe::default().probe(&missing).unwrap_err();
    assert!(error.reason.contains("No such file"), "{}", error.reason);
    assert!(error
        .to_string()
        .starts_with(&missing.display().to_string()));

    let no_program = Ffprobe {
        program: PathBuf::from("/nonexistent/ffprobe"),
        timeout: Duration::from_secs(5),
    };
    let error = no_program.probe(&fake).unwrap_err();
    assert!(
        error.reason.starts_with("cannot run /nonexistent/ffprobe"),
        "{}",
        error.reason
    );

    let mut remote = discovery.items[0].clone();
    remote.local_path = None;
    let error = Ffprobe::default().enrich(remote).unwrap_err();
    assert!(error.reason.contains("no local file"), "{}", error.reason);
}

// contract: INGEST-014
#[test]
fn a_stalled_file_times_out_and_ffprobe_is_killed() {
    ensure_ffmpeg();
    let dir = TempDir::new("stall");
    // A FIFO nobody writes to: opening it blocks ffprobe forever, like a dead network mount.
    let fifo = dir.join("stalled.mkv");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let ffprobe = Ffprobe::with_timeout(Duration::from_secs(1));
    let error = ffprobe.probe(&fifo).unwrap_err();
    assert_eq!(error.reason, "ffprobe timed out after 1s");
    assert_eq!(
        error.to_string(),
        format!("{}: ffprobe timed out after 1s", fifo.display())
    );
    let fifo_name = fifo.display().to_string();
    let survivors = Command::new("pgrep")
        .args(["-f", &fifo_name])
        .output()
        .unwrap();
    assert!(
        survivors.stdout.is_empty(),
        "ffprobe still runs: {}",
        String::from_utf8_lossy(&survivors.stdout)
    );
}
