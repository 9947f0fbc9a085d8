//! Benchmark: store 100 channels × 7 days of ScheduleDays + playlog (from
//! `generate_lineup(100, 0)`) on SQLite and on PostgreSQL, one transaction per day.
//!
//! PostgreSQL is a throwaway cluster started like the tests do (or RETROVUE_TEST_DATABASE_URL).
//! Prints the time to build (core only) and the time to store, per backend.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::NaiveDate;
use retrovue::store::{self, DayWrite, Store};

const DAYS: u32 = 7;

/// Every channel's days with the state after each, built once by the core.
fn build_all(lineup: &retrovue_core::model::Lineup, from: NaiveDate) -> Vec<DayWrite> {
    let mut writes = Vec::new();
    for channel in &lineup.channels {
        let chain = retrovue_core::chain::DayChain::new(&lineup.catalog, channel, 0);
        let built = chain.build_days(from, DAYS, &Default::default());
        writes.extend(built.into_iter().map(DayWrite::from_chain));
    }
    writes
}

fn store_all(name: &str, url: &str, lineup: &retrovue_core::model::Lineup, writes: &[DayWrite]) {
    let channels = lineup.channels.len();
    let mut store: Box<dyn Store> = store::open(url).expect("open the store");
    let started = Instant::now();
    store.import_lineup(lineup).expect("import");
    let import = started.elapsed();
    let started = Instant::now();
    for write in writes {
        store.put_day(write, None, 0).expect("store a day");
    }
    let elapsed = started.elapsed();
    let events: usize = writes.iter().map(|w| w.playlog.len()).sum();
    println!(
        "store/{name}: {channels} channels × {DAYS} days = {} ScheduleDays + {events} playlog \
         events in {:.2} s ({:.1} ms/day); lineup import {:.2} s",
        writes.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / writes.len() as f64,
        import.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this runs as
    // a quick smoke test of the same path.
    let full = std::env::args().any(|a| a == "--bench");
    let channels: u32 = if full { 100 } else { 2 };
    let lineup = retrovue_core::generate::generate_lineup(channels, 0);
    let from: NaiveDate = "2030-01-07".parse().unwrap();
    let started = Instant::now();
    let writes = build_all(&lineup, from);
    println!(
        "store/build (core only): {} days in {:.2} s",
        writes.len(),
        started.elapsed().as_secs_f64()
    );
    let sqlite = support::TestDb::sqlite();
    store_all("sqlite", sqlite.url(), &lineup, &writes);
    let postgres = support::TestDb::postgres();
    store_all("postgres", postgres.url(), &lineup, &writes);
}
