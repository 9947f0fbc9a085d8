//! Benchmark: ingest of a generated 10,000-file tree (durations from sidecars, so no probe) and a
//! no-change re-ingest of it, through the real pipeline and store, on SQLite and PostgreSQL.
//! `RETROVUE_TREE_FILES` changes the tree size. Prints the time of each run per backend.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use retrovue::ingest::pipeline::{ingest_collection, IngestOptions, IngestReport};
use retrovue::ingest::testtree::generate_tree;
use retrovue::store::{self, CollectionRecord, SourceConfig, SourceRecord, Store};

fn timed(
    store: &mut dyn Store,
    source: &SourceRecord,
    collection: &CollectionRecord,
    now: i64,
) -> (Duration, IngestReport) {
    let started = Instant::now();
    let report = ingest_collection(
        store,
        source,
        collection,
        &[],
        IngestOptions {
            now,
            dry_run: false,
            reprobe: false,
            jobs: None,
        },
        &mut |_, _| {},
    )
    .expect("ingest");
    (started.elapsed(), report)
}

fn run(name: &str, url: &str, root: &std::path::Path, files: usize) {
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
}
