//! Benchmark: ScheduleDays + playlog + EPG for 100 channels × 7 days from the generated lineup.
//! Prints time per channel-day and peak memory; asserts nothing about speed.

use std::time::Instant;

/// The same allocator as the `retrovue` binary, so this measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use retrovue_core::build_channel_schedule;
use retrovue_core::generate::generate_lineup;
use retrovue_core::model::{RotationState, TrafficState};
use retrovue_core::schedule::SchedulingContext;

/// Peak resident set size of this process, from /proc (Linux), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    // `cargo bench` passes --bench: the full size. Under `cargo test --all-targets` this runs as
    // a quick smoke run of the same code.
    let full = std::env::args().any(|a| a == "--bench");
    let (channels, days, rounds) = if full { (100, 7, 5) } else { (5, 2, 1) };
    let lineup = generate_lineup(channels, 0);
    let start = NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date");
    let mut best = f64::INFINITY;
    let mut totals = (0usize, 0usize, 0usize);
    for _ in 0..rounds {
        let began = Instant::now();
        let ctx = SchedulingContext::new(&lineup.catalog, 0);
        let mut counts = (0, 0, 0);
        for channel in &lineup.channels {
            let s = build_channel_schedule(
                &ctx,
                channel,
                start,
                days,
                RotationState::default(),
                TrafficState::default(),
            );
            counts.0 += s.days.iter().map(|d| d.items.len()).sum::<usize>();
            counts.1 += s.playlog.len();
            counts.2 += s.epg.len();
        }
        best = best.min(began.elapsed().as_secs_f64());
        totals = counts;
    }
    let channel_days = (channels * days) as f64;
    println!(
        "core: {channels} channels x {days} days: best of {rounds} {:.1} ms total, {:.1} us per channel-day \
         ({} items, {} playlog events, {} guide rows); peak RSS {:.1} MiB",
        best * 1e3,
        best * 1e6 / channel_days,
        totals.0,
        totals.1,
        totals.2,
        peak_rss_mib()
    );
}
