//! Benchmark: the PostgreSQL side of a 100-node, 1,000-channel cluster (ARCHITECTURE.md, "Speed
//! and scale"): as-run writes with their retried duplicates (ASRUN-002), one batched lease
//! renewal per node (the statement shape of contracts/cluster.md), and `cluster status` over
//! 100 nodes and 1,001 leases. Prints numbers, asserts none.
//!
//! PostgreSQL is a throwaway cluster started like the tests do (or RETROVUE_TEST_DATABASE_URL).

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use retrovue::store::{self, cluster_status};
use retrovue_core::model::{AsRunRecord, AsRunStatus, EventKind};

fn per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (nodes, per_node, records) = if full { (100, 10, 5_000) } else { (4, 2, 50) };
    let db = support::TestDb::postgres();
    let url = db.url().to_string();
    let mut s = store::open(&url).expect("open the store");

    // As-run: new records, then the same records again (a retry after a lost connection).
    let record = |i: usize| AsRunRecord {
        channel: format!("ch{:04}", i % 1_000),
        playlog_id: format!("ch{:04}:2030-01-07:{}", i % 1_000, i / 1_000),
        start: 1_893_996_000_000 + i as i64 * 1_000,
        end: 1_893_996_000_000 + i as i64 * 1_000 + 900,
        asset: None,
        kind: EventKind::Content,
        status: AsRunStatus::Aired,
        reason: None,
    };
    let started = Instant::now();
    for i in 0..records {
        s.record_as_run(&record(i), "bench-1-1-1.1").unwrap();
    }
    let new = per_second(records, started);
    let started = Instant::now();
    for i in 0..records {
        s.record_as_run(&record(i), "bench-1-1-1.1").unwrap();
    }
    let dup = per_second(records, started);
    println!(
        "cluster/as-run: {records} records: {new:.0} new/s, {dup:.0} retried duplicates/s \
         (one durable transaction each)"
    );

    // The cluster tables, filled: `nodes` nodes holding `per_node` channel leases each.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS cluster_node (node_id TEXT PRIMARY KEY, \
               advertise_url TEXT, started_at TIMESTAMPTZ, heartbeat_at TIMESTAMPTZ);
             CREATE TABLE IF NOT EXISTS cluster_lease (name TEXT PRIMARY KEY, node_id TEXT, \
               token BIGINT, acquired_at TIMESTAMPTZ, renewed_at TIMESTAMPTZ, \
               expires_at TIMESTAMPTZ);",
        )
        .unwrap();
    for n in 0..nodes {
        client
            .execute(
                "INSERT INTO cluster_node VALUES ($1, $2, now(), now())",
                &[&format!("node-{n:03}"), &format!("http://10.0.{n}.1:8000")],
            )
            .unwrap();
        for c in 0..per_node {
            client
                .execute(
                    "INSERT INTO cluster_lease VALUES ($1, $2, 1, now(), now(), \
                     now() + interval '6 s')",
                    &[
                        &format!("channel:ch{:04}", n * per_node + c),
                        &format!("node-{n:03}"),
                    ],
                )
                .unwrap();
        }
    }
    client
        .execute(
            "INSERT INTO cluster_lease VALUES ('keeper', 'node-000', 1, now(), now(), \
             now() + interval '6 s')",
            &[],
        )
        .unwrap();

    // One renewal round: every node renews all its leases and its heartbeat in one transaction
    // (what each node does every ttl/3 = 2 s); durable, then without waiting for the flush (a
    // renewal lost in a database crash only shortens a lease).
    let rounds = if full { 20 } else { 2 };
    let wal = |client: &mut postgres::Client| -> String {
        client
            .query_one("SELECT pg_current_wal_lsn()::text AS lsn", &[])
            .unwrap()
            .get("lsn")
    };
    for durable in [true, false] {
        let lsn_before = wal(&mut client);
        let started = Instant::now();
        for _ in 0..rounds {
            for n in 0..nodes {
                let node = format!("node-{n:03}");
                let mut tx = client.transaction().unwrap();
                if !durable {
                    tx.batch_execute("SET LOCAL synchronous_commit = off")
                        .unwrap();
                }
                tx.execute(
                    "UPDATE cluster_node SET heartbeat_at = now() WHERE node_id = $1",
                    &[&node],
                )
                .unwrap();
                let renewed = tx
                    .execute(
                        "UPDATE cluster_lease SET renewed_at = now(), \
                         expires_at = now() + interval '6 s' WHERE node_id = $1",
                        &[&node],
                    )
                    .unwrap();
                assert_eq!(renewed as usize, per_node + usize::from(n == 0));
                tx.commit().unwrap();
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let lsn_after = wal(&mut client);
        let wal_bytes: i64 = client
            .query_one(
                "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::bigint AS n",
                &[&lsn_after, &lsn_before],
            )
            .unwrap()
            .get("n");
        let rows = rounds * (nodes * (per_node + 1) + 1);
        println!(
            "cluster/renewal WAL: {:.0} bytes per updated row",
            wal_bytes as f64 / rows as f64
        );
        let per_tx_ms = elapsed * 1_000.0 / (rounds * nodes) as f64;
        println!(
            "cluster/renewal ({}): {nodes} nodes × {per_node} leases: {per_tx_ms:.2} ms per node \
             transaction (heartbeat + batched renewal), one round {:.1} ms; at one round per \
             2 s that is {:.1} % of one connection's time",
            if durable {
                "durable"
            } else {
                "synchronous_commit=off"
            },
            per_tx_ms * nodes as f64,
            per_tx_ms * nodes as f64 / 2_000.0 * 100.0
        );
    }

    let reads = if full { 200 } else { 3 };
    let started = Instant::now();
    for _ in 0..reads {
        let status = cluster_status::status(&url).unwrap();
        assert_eq!(status.leases.len(), nodes * per_node + 1);
    }
    println!(
        "cluster/status: {nodes} nodes, {} leases: {:.1} ms per `cluster status` \
         (connect, migrate check, one snapshot)",
        nodes * per_node + 1,
        started.elapsed().as_secs_f64() * 1_000.0 / reads as f64
    );
}
