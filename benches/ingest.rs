//! Benchmark: ingest of a generated 10,000-file tree (durations from sidecars, so no probe) and a
//! no-change re-ingest of it, through the real pipeline and store, on SQLite and PostgreSQL.
//! `RETROVUE_TREE_FILES` changes the tree size. Prints the time of each run per backend.
//!
//! Then the probing ingest (INGEST-024): the same number of hard links to a few real MKV, MP4 and
//! TS clips, ingested with the ffprobe enricher (in-process readers, worker pool, batched saves)
//! on SQLite, re-ingested unchanged, and beside it plain sequential `ffprobe` on a sample of 500
//! of the same files, extrapolated to all of them.

#[path = "../tests/it/support/mod.rs"]
mod support;
#[path = "../tests/it/support_media/mod.rs"]
mod support_media;

use std::time::{Duration, Instant};

use retrovue::ingest::enricher::IngestEnricher;
use retrovue::ingest::ffprobe::Ffprobe;
use retrovue::ingest::pipeline::{ingest_collection, IngestOptions, IngestReport};
use retrovue::ingest::probe::{MediaProbe, ProbeMode};
use retrovue::ingest::testtree::generate_tree;
use retrovue::store::{self, CollectionRecord, SourceConfig, SourceRecord, Store};

fn timed(
    store: &mut dyn Store,
    source: &SourceRecord,
    collection: &CollectionRecord,
    now: i64,
) -> (Duration, IngestReport) {
    timed_with(store, source, collection, now, &[])
}

fn timed_with(
    store: &mut dyn Store,
    source: &SourceRecord,
    collection: &CollectionRecord,
    now: i64,
    enrichers: &[Box<dyn IngestEnricher>],
) -> (Duration, IngestReport) {
    let started = Instant::now();
    let report = ingest_collection(
        store,
        source,
        collection,
        enrichers,
        IngestOptions {
            now,
            dry_run: false,
            reprobe: false,
            ..IngestOptions::default()
        },
        &mut |_, _| {},
    )
    .expect("ingest");
    (started.elapsed(), report)
}

fn setup(url: &str, root: &std::path::Path) -> (Box<dyn Store>, SourceRecord, CollectionRecord) {
    let mut store = store::open(url).expect("open the store");
    let source = SourceRecord {
        id: "bench".into(),
        kind: "filesystem".into(),
        name: "bench".into(),
        config: SourceConfig {
            paths: vec![root.display().to_string()],
            ..SourceConfig::default()
        },
        created_at_ms: 0,
    };
    store.put_source(&source, true).expect("source");
    let found = retrovue::ingest::pipeline::discover_source(&source).expect("discover");
    let collection = store
        .discover_collections(&found)
        .expect("collections")
        .remove(0);
    (store, source, collection)
}

fn run(name: &str, url: &str, root: &std::path::Path, files: usize) {
    let (mut store, source, collection) = setup(url, root);
    let (first, report) = timed(store.as_mut(), &source, &collection, 1);
    assert_eq!(report.inserted, files, "{:?}", report.skipped.first());
    let (again, report) = timed(store.as_mut(), &source, &collection, 2);
    assert_eq!(report.unchanged, files);
    assert_eq!(report.inserted + report.updated + report.vanished, 0);
    println!(
        "ingest {name:<8} {files} files: first {:>7.0} ms ({:.0} files/s), no-change re-ingest {:>6.0} ms ({:.1}x cheaper)",
        first.as_secs_f64() * 1000.0,
        files as f64 / first.as_secs_f64(),
        again.as_secs_f64() * 1000.0,
        first.as_secs_f64() / again.as_secs_f64()
    );
}

fn main() {
    let files: usize = std::env::var("RETROVUE_TREE_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
        // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this
        // runs as a quick smoke run of the same code.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            10_000
        } else {
            300
        });
    let tree = support::TempDir::new("rvbench-tree-");
    let started = Instant::now();
    generate_tree(&tree.path, files).expect("generate the tree");
    println!(
        "generated {files} files with sidecars in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let discovery =
        retrovue::ingest::filesystem::discover(std::slice::from_ref(&tree.path)).expect("walk");
    println!(
        "discovery alone (walk + {} sidecars): {:.0} ms",
        discovery.items.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let sqlite = support::TestDb::sqlite();
    run("sqlite", sqlite.url(), &tree.path, files);
    let postgres = support::TestDb::postgres();
    run("postgres", postgres.url(), &tree.path, files);
    probing(files);
}

/// INGEST-024: probing ingest of `files` hard links to real clips vs sequential ffprobe.
fn probing(files: usize) {
    let clips = support_media::TempDir::new("rvbench-clips-");
    let mut sources = Vec::new();
    for (n, seconds) in [(0, 2), (1, 3), (2, 5)] {
        for ext in ["mkv", "mp4", "ts"] {
            let clip = clips.join(&format!("clip{n}.{ext}"));
            let vcodec = if n == 0 { "mpeg4" } else { "libx264" };
            support_media::make_encoded_clip(&clip, "320x240", 25, seconds, vcodec, "aac");
            sources.push(clip);
        }
    }
    let tree = support::TempDir::new("rvbench-probe-");
    let mut paths = Vec::new();
    for i in 0..files {
        let clip = &sources[i % sources.len()];
        let dir = tree.join(&format!("Show {:03}/Season 01", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!(
            "Show {:03} - S01E{:02}.{}",
            i / 100,
            i % 100 + 1,
            clip.extension().unwrap().to_str().unwrap()
        ));
        std::fs::hard_link(clip, &path).unwrap();
        paths.push(path);
    }
    let enrichers: Vec<Box<dyn IngestEnricher>> = vec![Box::new(MediaProbe {
        ffprobe: Ffprobe::default(),
        mode: ProbeMode::Auto,
    })];
    let mut timings = Vec::new();
    for (name, db) in [
        ("sqlite", support::TestDb::sqlite()),
        ("postgres", support::TestDb::postgres()),
    ] {
        let (mut store, source, collection) = setup(db.url(), &tree.path);
        let (first, report) = timed_with(store.as_mut(), &source, &collection, 1, &enrichers);
        assert_eq!(report.inserted, files, "{:?}", report.not_ready.first());
        assert_eq!(report.probed, files);
        assert!(
            report.not_ready.is_empty(),
            "{:?}",
            report.not_ready.first()
        );
        let (again, report) = timed_with(store.as_mut(), &source, &collection, 2, &enrichers);
        assert_eq!(
            (report.unchanged, report.reused, report.probed),
            (files, files, 0)
        );
        timings.push((name, first, again));
    }
    let sample = files.min(500);
    let ffprobe = Ffprobe::default();
    let started = Instant::now();
    for path in paths.iter().step_by(files / sample).take(sample) {
        ffprobe.probe(path).expect("ffprobe");
    }
    let sequential = started.elapsed().as_secs_f64() * files as f64 / sample as f64;
    for (name, first, again) in timings {
        println!(
            "probing ingest {name} {files} files (MKV/MP4/TS hard links): first {:>7.0} ms, no-change re-ingest {:>6.0} ms; sequential ffprobe {:>8.0} ms ({sample} files timed, extrapolated): {:.1}x faster",
            first.as_secs_f64() * 1000.0,
            again.as_secs_f64() * 1000.0,
            sequential * 1000.0,
            sequential / first.as_secs_f64()
        );
    }
}
