//! Benchmark: `db backup` and `db restore` of a 50-channel × 30-day database (from
//! `generate_lineup(50, 0)`) on SQLite and PostgreSQL, and restores across backends.
//!
//! PostgreSQL is a throwaway cluster started like the tests do (or RETROVUE_TEST_DATABASE_URL).
//! Prints sizes and times; asserts nothing about speed.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::NaiveDate;
use retrovue::store::backup::backup_to_file;
use retrovue::store::{self, DayWrite, Store};

/// A store holding the lineup and `days` days of every channel.
fn fill(url: &str, lineup: &retrovue_core::model::Lineup, writes: &[DayWrite]) {
    let mut store: Box<dyn Store> = store::open(url).expect("open the store");
    store.import_lineup(lineup).expect("import");
    for write in writes {
        store.put_day(write, None, 0).expect("store a day");
    }
}

fn main() {
    // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this runs as
    // a quick smoke run of the same path.
    let full = std::env::args().any(|a| a == "--bench");
    let (channels, days) = if full { (50, 30) } else { (2, 2) };
    let lineup = retrovue_core::generate::generate_lineup(channels, 0);
    let from: NaiveDate = "2030-01-07".parse().unwrap();
    let mut writes = Vec::new();
    for channel in &lineup.channels {
        let chain = retrovue_core::chain::DayChain::new(&lineup.catalog, channel, 0);
        let built = chain.build_days(from, days, &Default::default());
        writes.extend(built.into_iter().map(DayWrite::from_chain));
    }
    let events: usize = writes.iter().map(|w| w.playlog.len()).sum();
    let dir = support::TempDir::new("rvbench-");
    let sources = [support::TestDb::sqlite(), support::TestDb::postgres()];
    for source in &sources {
        fill(source.url(), &lineup, &writes);
        let mut store = store::open(source.url()).unwrap();
        let name = store.backend_name();
        let file = dir.join(&format!("{name}.backup"));
        let started = Instant::now();
        let summary = backup_to_file(&file, |out| store.backup(out)).expect("backup");
        let backup = started.elapsed();
        let bytes = std::fs::metadata(&file).unwrap().len();
        println!(
            "backup/{name}: {channels} channels × {days} days ({} ScheduleDays, {events} playlog \
             events): {} rows, {:.1} MiB in {:.2} s",
            writes.len(),
            summary.rows,
            bytes as f64 / 1048576.0,
            backup.as_secs_f64()
        );
        for target in [support::TestDb::sqlite(), support::TestDb::postgres()] {
            let mut into = store::open(target.url()).unwrap();
            let input = std::fs::File::open(&file).unwrap();
            let mut input = std::io::BufReader::with_capacity(1 << 20, input);
            let started = Instant::now();
            let restored = into.restore(&mut input, false).expect("restore");
            assert_eq!(restored.rows, summary.rows);
            println!(
                "restore/{name}→{}: {} rows in {:.2} s",
                into.backend_name(),
                restored.rows,
                started.elapsed().as_secs_f64()
            );
        }
    }
}
