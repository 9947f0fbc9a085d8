//! Cluster benchmark (`cargo bench --bench cluster`, contracts/cluster.md): failover time — from
//! `kill -9` of a channel's owner to the first stream byte from the node that takes it over —
//! p50/p99 over repeated kills, and the lease statements per second one node sends while it runs
//! 50 channels. Real daemons on loopback ports, a throwaway PostgreSQL, the synthetic engine.
//! `RETROVUE_BENCH_KILLS` (default 20) sets the number of kills at ttl 2 s and at the default 6 s.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::ReadSome;

use support::daemon::Daemon;
use support::TempDir;

/// A cluster node: `retrovue serve` on the shared database with its name and lease ttl.
fn node(db: &str, name: &str, ttl: u64, extra: &[&str]) -> Daemon {
    let ttl = ttl.to_string();
    let mut args = vec!["--db", db, "--node", name, "--lease-ttl", &ttl];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

/// GET a stream; (status, socket after the head).
fn tune(addr: &str, channel: &str) -> support::RawAnswer {
    support::raw_get(addr, &format!("/channel/{channel}.ts"))
}

fn lineup(dir: &TempDir, n: usize) -> String {
    let text: String = (0..n)
        .map(|i| {
            support::daemon::channel_toml(
                &format!("c{i}"),
                &format!("{}", i + 1),
                "synthetic:bars:1800000",
            )
        })
        .collect();
    dir.write("lineup.toml", &text).display().to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Kill the owner of c0 `kills` times; each time the survivor takes over and a new node joins.
fn failover(ttl: u64, kills: usize) {
    let db = support::fresh_postgres();
    let dir = TempDir::new("rv-bench-cl");
    let path = lineup(&dir, 1);
    let mut serial = 0;
    let mut next_name = || {
        serial += 1;
        format!("n{serial}")
    };
    let mut owner = node(&db.url, &next_name(), ttl, &["--lineup", &path]);
    let mut spare = node(&db.url, &next_name(), ttl, &[]);
    let mut spare_since = Instant::now();
    let mut times = Vec::new();
    for _ in 0..kills {
        let support::RawAnswer {
            status,
            socket: mut viewer,
            ..
        } = tune(&owner.addr, "c0");
        assert_eq!(status, 200, "the owner serves c0");
        let mut buf = [0u8; 4096];
        assert!(viewer.read_some(&mut buf).unwrap() > 0);
        // The spare must be settled (ttl + 2 s connected) to take a lease of another node.
        let settle = Duration::from_secs(ttl + 2) + Duration::from_millis(200);
        if let Some(left) = settle.checked_sub(spare_since.elapsed()) {
            std::thread::sleep(left);
        }
        let killed = Instant::now();
        drop(owner.kill());
        drop(viewer);
        let deadline = killed + Duration::from_secs(ttl * 3 + 10);
        let took = loop {
            assert!(Instant::now() < deadline, "no failover within the bound");
            // A refused connection or a cut head is a failover not done yet.
            let answer = support::try_raw_get(&spare.addr, "/channel/c0.ts");
            if let Ok(support::RawAnswer {
                status: 200,
                mut socket,
                ..
            }) = answer
            {
                if socket.read_some(&mut buf).unwrap_or(0) > 0 {
                    break killed.elapsed();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        times.push(took);
        owner = spare;
        spare = node(&db.url, &next_name(), ttl, &[]);
        spare_since = Instant::now();
    }
    times.sort();
    println!(
        "failover (ttl {ttl} s, {} kills): p50 {:.2} s, p99 {:.2} s, min {:.2} s, max {:.2} s",
        times.len(),
        percentile(&times, 0.5).as_secs_f64(),
        percentile(&times, 0.99).as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
}

/// One node running 50 channels: lease statements per second while it holds them.
fn lease_load(channels: usize, ttl: u64, window: Duration) {
    let db = support::fresh_postgres();
    let dir = TempDir::new("rv-bench-cl");
    let path = lineup(&dir, channels);
    // A long linger: the channels keep their engines (and leases) after the viewers go.
    let daemon = node(
        &db.url,
        "load",
        ttl,
        &["--lineup", &path, "--linger-ms", "600000"],
    );
    let before = daemon.metric("retrovue_cluster_statements_total");
    for i in 0..channels {
        let status = tune(&daemon.addr, &format!("c{i}")).status;
        assert_eq!(status, 200);
    }
    let tune_ins = daemon.metric("retrovue_cluster_statements_total") - before;
    assert_eq!(
        daemon.metric("retrovue_cluster_leases"),
        channels as i64 + 1
    );
    let start = daemon.metric("retrovue_cluster_statements_total");
    let t0 = Instant::now();
    std::thread::sleep(window);
    let sent = daemon.metric("retrovue_cluster_statements_total") - start;
    let per_second = sent as f64 / t0.elapsed().as_secs_f64();
    println!(
        "lease load ({channels} channels + keeper, ttl {ttl} s): {tune_ins} statements for \
         {channels} tune-ins, then {per_second:.2} statements/s steady ({sent} in {:.0} s); one \
         statement per lease per ttl/3 would be {:.1}/s",
        t0.elapsed().as_secs_f64(),
        (channels + 1) as f64 * 3.0 / ttl as f64
    );
}

fn main() {
    // `cargo bench` passes --bench: the full run. Under `cargo test --all-targets` this runs as a
    // quick smoke run of the same code (CI time).
    let full = std::env::args().any(|a| a == "--bench");
    let kills = std::env::var("RETROVUE_BENCH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(if full { 20 } else { 2 });
    let window = Duration::from_secs(if full { 20 } else { 4 });
    lease_load(50, 6, window);
    failover(2, kills);
    if full {
        failover(6, kills);
    }
}
