//! Benchmark: `retrovue sim` workloads — the demo lineup × 7 days with viewer churn, and a
//! generated 50-channel lineup × 7 days with churn — including the JSON report and its digest.
//! Prints wall time per run and simulation steps; asserts nothing about speed.

use std::time::Instant;

/// The same allocator as the `retrovue` binary, so this measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use retrovue_core::generate::generate_lineup;
use retrovue_core::lineup::parse_lineup;
use retrovue_core::model::Lineup;
use retrovue_sim::{report, run, SimConfig};

fn measure(name: &str, lineup: &Lineup, days: u32) {
    let start = NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date");
    let config = SimConfig::new(0, start, days);
    let mut best = f64::INFINITY;
    let mut summary = String::new();
    for _ in 0..3 {
        let began = Instant::now();
        let outcome = run(lineup, &config);
        let json = report::to_json(&outcome);
        let seconds = began.elapsed().as_secs_f64();
        best = best.min(seconds);
        summary = format!(
            "{} channels, {} steps, {} tune-ins, {} violations, {:.1} MB JSON",
            outcome.channels.len(),
            outcome.stats.steps,
            outcome.stats.tune_ins,
            outcome.violation_count(),
            json.len() as f64 / 1e6
        );
    }
    println!("sim {name} × {days} days, churn: best of 3 {best:.3} s ({summary})");
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/lineup.toml");
    let text = std::fs::read_to_string(path).expect("demo lineup");
    let demo = parse_lineup(&text, path).expect("demo lineup parses");
    // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this runs as
    // a quick smoke run of the same code.
    if !std::env::args().any(|a| a == "--bench") {
        measure("demo lineup", &demo, 1);
        return;
    }
    measure("demo lineup", &demo, 7);
    measure("generated 50 channels", &generate_lineup(50, 0), 7);
}
