//! Cluster mode (contracts/cluster.md): several real `retrovue serve` nodes on loopback ports
//! sharing one real PostgreSQL, the synthetic engine, engines counted per node process. Every
//! wait is bounded; nothing asserts a timing.

use crate::support::{raw_get, RawAnswer, ReadSome};
use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use retrovue::store::cluster::{Acquire, ClusterDb};

use crate::support::daemon::{channel_toml, children, eventually, find_metric, retrovue, Daemon};
use crate::support::{fresh_postgres, PgInstance, TempDir};

const TTL: &str = "2";

/// A lineup of `n` channels `c0..` playing synthetic bars all day; its path.
fn lineup(dir: &TempDir, n: usize) -> String {
    let text: String = (0..n)
        .map(|i| {
            channel_toml(
                &format!("c{i}"),
                &format!("{}", i + 1),
                "synthetic:bars:1800000",
            )
        })
        .collect();
    dir.write("lineup.toml", &text).display().to_string()
}

/// A cluster node named `name` on `db`.
fn node(db: &str, name: &str, extra: &[&str]) -> Daemon {
    let mut args = vec!["--db", db, "--node", name, "--lease-ttl", TTL];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

fn query_one(db: &str, sql: &str) -> Vec<postgres::Row> {
    let mut client = postgres::Client::connect(db, postgres::NoTls).unwrap();
    client.query(sql, &[]).unwrap()
}

/// A viewer on a raw socket: the response head is read; the body is left to the caller.
struct Viewer {
    socket: TcpStream,
    status: u16,
    head: String,
}

impl Viewer {
    fn get(addr: &str, path: &str) -> Viewer {
        let RawAnswer {
            socket,
            status,
            head,
        } = raw_get(addr, path);
        Viewer {
            socket,
            status,
            head,
        }
    }

    fn location(&self) -> Option<String> {
        self.head
            .lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .map(|l| l.trim().to_string())
    }

    /// Tune in on `addr`, following one redirect to the owner: (viewer, redirected?).
    fn tune(addr: &str, path: &str) -> (Viewer, bool) {
        let first = Viewer::get(addr, path);
        if first.status != 307 {
            return (first, false);
        }
        let location = first.location().expect("a 307 names the owner");
        let rest = location.strip_prefix("http://").expect("http location");
        let (owner, owner_path) = rest.split_at(rest.find('/').unwrap());
        assert_eq!(owner_path, path, "the redirect keeps the path");
        (Viewer::get(owner, owner_path), true)
    }

    /// Read at least `n` raw body bytes.
    fn read_at_least(&mut self, n: usize) -> usize {
        let mut total = 0;
        let mut buf = vec![0u8; 65536];
        while total < n {
            let got = self
                .socket
                .read_some(&mut buf)
                .expect("stream keeps flowing");
            assert!(got > 0, "stream ended after {total} bytes");
            total += got;
        }
        total
    }
}

fn engines(nodes: &[&Daemon]) -> usize {
    nodes.iter().map(|d| children(d.pid()).len()).sum()
}

fn engine_running(d: &Daemon, channel: &str) -> i64 {
    let (_, text) = d.get("/metrics");
    find_metric(&text, "retrovue_engine_running", Some(channel)).unwrap_or(0)
}

#[test]
fn lease_statements_acquire_renew_release_with_fencing_tokens() {
    // contract: CLUSTER-003
    // contract: CLUSTER-004
    let db = fresh_postgres();
    drop(retrovue::store::open(&db.url).unwrap());
    let counter = Arc::new(AtomicU64::new(0));
    let mut c = ClusterDb::connect(&db.url, Arc::clone(&counter)).unwrap();
    let ttl = Duration::from_secs(5);
    c.register("a", "http://a:1/", ttl).unwrap();
    c.register("b", "http://b:2/", ttl).unwrap();
    let lease = "channel:x";
    assert_eq!(
        c.try_acquire(lease, "a", ttl, false).unwrap(),
        Acquire::Acquired { token: 1 }
    );
    // The owner keeps its token; another node is told who holds it.
    assert_eq!(
        c.try_acquire(lease, "a", ttl, false).unwrap(),
        Acquire::Acquired { token: 1 }
    );
    match c.try_acquire(lease, "b", ttl, true).unwrap() {
        Acquire::HeldBy(h) => {
            assert_eq!(
                (h.node.as_str(), h.advertise_url.as_str()),
                ("a", "http://a:1/")
            );
            assert!(h.live && h.fresh);
        }
        other => panic!("b took a live lease of a: {other:?}"),
    }
    // A stale token releases nothing; the right one does, and the next owner gets token 2.
    assert!(!c.release(lease, "a", 7).unwrap());
    assert!(c.release(lease, "a", 1).unwrap());
    assert_eq!(
        c.try_acquire(lease, "b", ttl, false).unwrap(),
        Acquire::Acquired { token: 2 }
    );
    // Expired (not released): an unsettled node may not take it, a settled one may.
    crate::support::raw_sql(
        &db.url,
        "UPDATE cluster_lease SET renewed_at = now() - interval '10 s', \
         expires_at = now() - interval '5 s' WHERE name = 'channel:x'",
    );
    assert!(matches!(
        c.try_acquire(lease, "a", ttl, false).unwrap(),
        Acquire::HeldBy(h) if !h.live
    ));
    assert_eq!(
        c.try_acquire(lease, "a", ttl, true).unwrap(),
        Acquire::Acquired { token: 3 }
    );
    // One renewal statement for all of a node's leases returns those kept.
    c.try_acquire("channel:y", "a", ttl, false).unwrap();
    let before = counter.load(Ordering::Relaxed);
    let kept = c
        .renew(
            "a",
            "http://a:1/",
            &[("channel:x".into(), 3), ("channel:y".into(), 1)],
            ttl,
        )
        .unwrap();
    assert_eq!(counter.load(Ordering::Relaxed), before + 1);
    assert_eq!(kept.len(), 2);
    let kept = c
        .renew("b", "http://b:2/", &[("channel:x".into(), 2)], ttl)
        .unwrap();
    assert!(kept.is_empty(), "b's lease was taken: {kept:?}");
}

#[test]
fn cluster_flags_are_checked_and_a_live_node_name_is_refused() {
    // contract: CLUSTER-001
    // contract: CLUSTER-002
    // contract: DAEMON-021
    let db = fresh_postgres();
    let run = |args: &[&str]| {
        let home = TempDir::new("rv-cl");
        let out = Command::new(retrovue())
            .arg("serve")
            .args(["--bind", "127.0.0.1:0", "--engine", "synthetic"])
            .args(args)
            .env("RETROVUE_HOME", &home.path)
            .env_remove("RETROVUE_DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    for (args, flag) in [
        (
            vec!["--db", db.url.as_str(), "--lease-ttl", "1"],
            "--lease-ttl",
        ),
        (
            vec!["--db", db.url.as_str(), "--lease-ttl", "61"],
            "--lease-ttl",
        ),
        (
            vec!["--db", db.url.as_str(), "--advertise", "ftp://x/"],
            "--advertise",
        ),
        (vec!["--advertise", "http://x:1/"], "--advertise"),
        (vec!["--node", "a"], "--node"),
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?} names {flag}: {stderr}");
    }
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 1);
    let mut a = node(&db.url, "a", &["--lineup", &path]);
    a.log_line("cluster: node a advertised at http://", 5);
    let (code, stderr) = run(&["--db", &db.url, "--node", "a"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("\"a\" is alive"), "{stderr}");
    // contract: CLUSTER-012
    let rows = query_one(
        &db.url,
        "SELECT lease_ttl_ms FROM cluster_node WHERE node_id = 'a'",
    );
    let ttl_ms: i64 = rows[0].get("lease_ttl_ms");
    assert_eq!(
        ttl_ms,
        TTL.parse::<i64>().unwrap() * 1_000,
        "the node records its ttl"
    );
    // A clean shutdown releases the leases and deletes the node row.
    assert!(a.sigterm().success());
    let rows = query_one(
        &db.url,
        "SELECT node_id FROM cluster_node WHERE node_id = 'a'",
    );
    assert!(rows.is_empty(), "the node row is deleted");
    let rows = query_one(
        &db.url,
        "SELECT name FROM cluster_lease WHERE node_id = 'a' AND expires_at > renewed_at",
    );
    assert!(rows.is_empty(), "every lease of a is released");
}

#[test]
fn three_nodes_run_one_engine_per_channel_and_redirect_to_the_owner() {
    // contract: CLUSTER-005
    // contract: CLUSTER-011
    // contract: HORIZON-009
    // contract: HTTP-040
    // contract: HTTP-041
    let db = fresh_postgres();
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 4);
    let a = node(&db.url, "a", &["--lineup", &path]);
    let b = node(&db.url, "b", &[]);
    let c = node(&db.url, "c", &[]);
    let nodes = [&a, &b, &c];
    // One keeper builds; the others serve the stored days.
    let keeper = query_one(
        &db.url,
        "SELECT node_id FROM cluster_lease WHERE name = 'keeper'",
    );
    assert_eq!(keeper[0].get::<_, String>("node_id"), "a");
    b.log_line("horizon keeper: read-only (keeper lease held by a)", 10);
    c.log_line("horizon keeper: read-only (keeper lease held by a)", 10);
    assert_eq!(b.log_count("built "), 0, "b builds nothing");

    // Viewers reach nodes in a scattered order; three per channel.
    let mut viewers = Vec::new();
    let mut redirected = 0;
    for i in 0..12usize {
        let channel = i % 4;
        let at = nodes[(i * 7 + channel) % 3];
        let (mut v, moved) = Viewer::tune(&at.addr, &format!("/channel/c{channel}.ts"));
        assert_eq!(v.status, 200, "{}", v.head);
        v.read_at_least(188 * 10);
        redirected += moved as usize;
        viewers.push(v);
    }
    assert!(redirected > 0, "some viewers reached a non-owner");
    eventually(15, "one engine per channel cluster-wide", || {
        engines(&nodes) == 4
            && (0..4).all(|ch| {
                let ch = format!("c{ch}");
                nodes.iter().map(|d| engine_running(d, &ch)).sum::<i64>() == 1
            })
    });

    // HLS on a non-owner: 307 to the owner, whose playlist names its own segments.
    let owner_of = |ch: &str| {
        let rows = query_one(
            &db.url,
            &format!("SELECT node_id FROM cluster_lease WHERE name = 'channel:{ch}'"),
        );
        rows[0].get::<_, String>("node_id")
    };
    let owner = owner_of("c1");
    let other = ["a", "b", "c"]
        .iter()
        .zip(nodes)
        .find(|(name, _)| **name != owner)
        .unwrap()
        .1;
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let answer = agent
        .get(&other.url("/channel/c1.m3u8?x=1"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 307);
    let location = answer.header("Location").unwrap().to_string();
    assert!(location.ends_with("/channel/c1.m3u8?x=1"), "{location}");
    let playlist = ureq::get(&location).call().unwrap().into_string().unwrap();
    let segment = playlist
        .lines()
        .find(|l| l.starts_with("http://"))
        .unwrap_or_else(|| panic!("no segment in {playlist}"));
    assert!(location.starts_with(&segment[..segment.find("/channel").unwrap()]));
    let (mut v, _) = Viewer::tune(&other.addr, &segment[segment.find("/channel").unwrap()..]);
    assert_eq!(v.status, 200, "{}", v.head);
    v.read_at_least(188);

    // Guide, playlists and metrics: every node answers itself, metrics labelled by node.
    for (d, name) in nodes.iter().zip(["a", "b", "c"]) {
        assert_eq!(d.get("/channellist.m3u").0, 200);
        assert_eq!(d.get("/epg.xml").0, 200);
        let (status, text) = d.get("/metrics");
        assert_eq!(status, 200);
        assert!(text.contains(&format!(
            "retrovue_viewers{{node=\"{name}\",channel=\"c0\"}}"
        )));
        assert!(text.contains(&format!(
            "retrovue_cluster_statements_total{{node=\"{name}\"}}"
        )));
        assert!(d.metric("retrovue_keeper_failures_total") == 0);
    }
    assert_eq!(engines(&nodes), 4, "HLS shares the owner's engines");
    drop(viewers);
}

#[test]
fn a_killed_owner_s_channels_and_keeper_move_within_the_lease_expiry() {
    // contract: CLUSTER-007
    // contract: HORIZON-010
    let db = fresh_postgres();
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 2);
    let a = node(&db.url, "a", &["--lineup", &path]);
    let b = node(&db.url, "b", &[]);
    let (mut v, moved) = Viewer::tune(&a.addr, "/channel/c0.ts");
    assert!(!moved && v.status == 200);
    v.read_at_least(188 * 10);
    // b is settled (one ttl + 2 s connected) before the kill.
    b.log_line("read-only", 10);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(Viewer::get(&b.addr, "/channel/c0.ts").status, 307);
    let killed = Instant::now();
    drop(a.kill());
    drop(v);
    // Served again from b within the lease expiry (2 s) + slack.
    let mut served = None;
    eventually(15, "b serves c0 after a died", || {
        let v = Viewer::get(&b.addr, "/channel/c0.ts");
        let ok = v.status == 200;
        if ok {
            served = Some(v);
        }
        ok
    });
    served.unwrap().read_at_least(188 * 10);
    eprintln!("failover took {:?}", killed.elapsed());
    assert_eq!(children(b.pid()).len(), 1);
    b.log_line("horizon keeper: took the keeper lease", 15);
}

#[test]
fn losing_the_database_cuts_no_viewer_and_starts_nothing_twice() {
    // contract: CLUSTER-009
    // contract: CLUSTER-010
    // contract: HTTP-042
    let pg = PgInstance::new();
    let url = pg.create_database();
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 3);
    let a = node(&url, "a", &["--lineup", &path]);
    let b = node(&url, "b", &[]);
    let (va, _) = Viewer::tune(&a.addr, "/channel/c0.ts");
    let (vb, _) = Viewer::tune(&b.addr, "/channel/c1.ts");
    assert_eq!((va.status, vb.status), (200, 200));
    // Readers count bytes and say when a stream ends.
    let stop = Arc::new(AtomicBool::new(false));
    let read = |mut v: Viewer| {
        let bytes = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicBool::new(false));
        let (b2, e2, s2) = (Arc::clone(&bytes), Arc::clone(&ended), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !s2.load(Ordering::SeqCst) {
                match v.socket.read_some(&mut buf) {
                    Ok(0) | Err(_) => {
                        e2.store(true, Ordering::SeqCst);
                        return;
                    }
                    Ok(n) => {
                        b2.fetch_add(n as u64, Ordering::SeqCst);
                    }
                }
            }
        });
        (bytes, ended)
    };
    let (bytes_a, ended_a) = read(va);
    let (bytes_b, ended_b) = read(vb);
    eventually(10, "both viewers receive", || {
        bytes_a.load(Ordering::SeqCst) > 0 && bytes_b.load(Ordering::SeqCst) > 0
    });

    pg.stop();
    // A tune-in that needs a lease: 503 with the reason.
    eventually(10, "503 while the database is away", || {
        let v = Viewer::get(&a.addr, "/channel/c2.ts");
        let mut body = String::new();
        let _ = (&v.socket).take(4096).read_to_string(&mut body);
        v.status == 503 && body.contains("cluster database unreachable")
    });
    let (at_a, at_b) = (
        bytes_a.load(Ordering::SeqCst),
        bytes_b.load(Ordering::SeqCst),
    );
    // Longer than a ttl without the database: the running channels keep playing.
    std::thread::sleep(Duration::from_secs(4));
    assert!(bytes_a.load(Ordering::SeqCst) > at_a && bytes_b.load(Ordering::SeqCst) > at_b);

    pg.start();
    a.log_line("cluster: reconnected", 15);
    b.log_line("cluster: reconnected", 15);
    // Past the settle period: still one engine per channel, on its owner, viewers not cut.
    std::thread::sleep(Duration::from_secs(6));
    let (at_a, at_b) = (
        bytes_a.load(Ordering::SeqCst),
        bytes_b.load(Ordering::SeqCst),
    );
    eventually(10, "viewers keep receiving after recovery", || {
        bytes_a.load(Ordering::SeqCst) > at_a && bytes_b.load(Ordering::SeqCst) > at_b
    });
    assert!(!ended_a.load(Ordering::SeqCst) && !ended_b.load(Ordering::SeqCst));
    assert_eq!(children(a.pid()).len(), 1);
    assert_eq!(children(b.pid()).len(), 1);
    assert_eq!(Viewer::get(&b.addr, "/channel/c0.ts").status, 307);
    assert_eq!(Viewer::get(&a.addr, "/channel/c1.ts").status, 307);
    assert_eq!(engine_running(&a, "c1") + engine_running(&b, "c0"), 0);
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn as_run_that_aired_while_the_database_was_away_is_written_when_it_returns() {
    // contract: ASRUN-004
    let pg = PgInstance::new();
    let url = pg.create_database();
    let dir = TempDir::new("rv-cl");
    // A 25-minute programme, then a 5-minute break of 150 two-second spots; the daemon's clock
    // starts in that break, so many events end while the database is away.
    let spots: String = (0..150)
        .map(|i| {
            format!(
                "[[asset]]\nid = \"spot-{i}\"\nkind = \"commercial\"\ntitle = \"Spot {i}\"\n\
                 duration_ms = 2000\n\n"
            )
        })
        .collect();
    let channel = channel_toml("c0", "1", "synthetic:bars:1500000")
        .replace("interstitials = []", "interstitials = [\"commercial\"]");
    let path = dir
        .write("lineup.toml", &format!("{spots}{channel}"))
        .display()
        .to_string();
    let mut a = node(
        &url,
        "a",
        &["--lineup", &path, "--clock", "2030-01-07T07:25:04Z"],
    );
    // The daemon's clock, which stamps the as-run.
    let daemon_now = || {
        let at = a.json("/api/channels/c0/now")["at"]
            .as_str()
            .unwrap()
            .to_string();
        chrono::DateTime::parse_from_rfc3339(&at)
            .unwrap()
            .timestamp_millis()
    };
    let (mut viewer, _) = Viewer::tune(&a.addr, "/channel/c0.ts");
    assert_eq!(viewer.status, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let reading = Arc::clone(&stop);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !reading.load(Ordering::SeqCst) {
            if matches!(viewer.socket.read_some(&mut buf), Ok(0) | Err(_)) {
                return false;
            }
        }
        true
    });
    let rows = || -> Vec<(String, i64, i64)> {
        query_one(
            &url,
            "SELECT playlog_id, start_ms, end_ms FROM as_run WHERE channel_id = 'c0' \
             ORDER BY start_ms, end_ms",
        )
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    eventually(30, "as-run is written", || rows().len() >= 2);
    let stopped = daemon_now();
    pg.stop();
    // Longer than any bounded retry of a single record: the writer must keep what aired.
    std::thread::sleep(Duration::from_secs(14));
    pg.start();
    let restarted = daemon_now();
    a.log_line("as-run: the database answers again", 30);
    eventually(30, "the as-run of the outage is written", || {
        rows().last().is_some_and(|(_, _, end)| *end >= restarted)
    });
    // What aired from before the outage to after it is recorded without a hole.
    let rows = rows();
    let window: Vec<_> = rows
        .iter()
        .filter(|(_, start, end)| *end >= stopped - 2_000 && *start <= restarted + 2_000)
        .collect();
    assert!(
        window
            .first()
            .is_some_and(|(_, start, _)| *start <= stopped),
        "{window:?}"
    );
    assert!(
        window.len() >= 7,
        "events of the outage recorded: {window:?}"
    );
    for pair in window.windows(2) {
        assert!(
            pair[1].1 <= pair[0].2 + 500,
            "a hole in the as-run between {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap(), "the viewer was never cut");
    // Stopped while the database is away again: the daemon waits for it only within the bound
    // and says which records it lost.
    pg.stop();
    std::thread::sleep(Duration::from_secs(3));
    let asked = Instant::now();
    assert!(a.sigterm().success());
    eprintln!("exit with the database away took {:?}", asked.elapsed());
    a.log_line(
        "lost at shutdown: the database did not answer within 8 s",
        1,
    );
}

#[test]
fn a_lease_race_of_many_tune_ins_on_two_nodes_starts_one_engine() {
    // contract: CLUSTER-008
    let db = fresh_postgres();
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 1);
    let a = node(&db.url, "a", &["--lineup", &path]);
    let b = node(&db.url, "b", &[]);
    let addrs = [a.addr.clone(), b.addr.clone()];
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let (mut v, _) = Viewer::tune(&addr, "/channel/c0.ts");
                assert_eq!(v.status, 200, "{}", v.head);
                v.read_at_least(188 * 10);
                v
            })
        })
        .collect();
    let viewers: Vec<Viewer> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(engines(&[&a, &b]), 1, "one engine for the raced channel");
    drop(viewers);
}

#[test]
fn a_lost_lease_stops_the_channel_at_once_and_an_idle_channel_releases_it() {
    // contract: CLUSTER-006
    let db = fresh_postgres();
    let dir = TempDir::new("rv-cl");
    let path = lineup(&dir, 2);
    let a = node(&db.url, "a", &["--lineup", &path]);
    let (mut v, _) = Viewer::tune(&a.addr, "/channel/c0.ts");
    assert_eq!(v.status, 200);
    v.read_at_least(188 * 10);
    assert_eq!(children(a.pid()).len(), 1);
    // Another node takes the lease (a new owner, a new token).
    crate::support::raw_sql(
        &db.url,
        "UPDATE cluster_lease SET node_id = 'thief', token = token + 1 WHERE name = 'channel:c0'",
    );
    a.log_line("lease channel:c0 lost", 10);
    eventually(10, "the engine is stopped", || children(a.pid()).is_empty());
    let mut buf = vec![0u8; 65536];
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match v.socket.read_some(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < until, "the viewer's stream ends"),
        }
    }
    // An idle channel releases its lease (CLUSTER-005): watch c1, leave, wait for the linger.
    let (mut v, _) = Viewer::tune(&a.addr, "/channel/c1.ts");
    v.read_at_least(188);
    drop(v);
    a.log_line("cluster: released lease channel:c1", 10);
    let rows = query_one(
        &db.url,
        "SELECT name FROM cluster_lease WHERE name = 'channel:c1' AND expires_at <= renewed_at",
    );
    assert_eq!(rows.len(), 1, "c1's lease is marked released");
}
