//! The cluster's edges (contracts/cluster-ops.md): as-run once per (event, session) on both
//! backends, the session keys a real daemon writes, the single-node lock of a SQLite store with
//! two real daemons, and `cluster status` over cluster rows written by raw SQL.

use crate::support::{raw_get, ReadSome};
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use retrovue::store::{self, StoreErrorKind};
use retrovue_core::model::{AsRunRecord, AsRunStatus, EventKind};

use crate::support::daemon::{channel_toml, retrovue, Daemon};
use crate::support::{raw_sql, TempDir, TestDb};
use crate::support_cli::Rv;

fn record(event: &str) -> AsRunRecord {
    AsRunRecord {
        channel: "news".into(),
        playlog_id: format!("news:2030-01-07:{event}"),
        start: 1_893_996_000_000,
        end: 1_893_997_800_000,
        asset: None,
        kind: EventKind::Content,
        status: AsRunStatus::Aired,
        reason: None,
    }
}

fn as_run_once_per_event_and_session(db: &TestDb) {
    let mut s = store::open(db.url()).unwrap();
    let r = record("3");
    let first = s.record_as_run(&r, "tv1-41-1764459089000-1.1").unwrap();
    // The same write retried (after a lost connection, or re-sent after a failover): one record,
    // the same id.
    let again = s.record_as_run(&r, "tv1-41-1764459089000-1.1").unwrap();
    assert_eq!(first, again);
    let mut other = store::open(db.url()).unwrap();
    assert_eq!(
        other.record_as_run(&r, "tv1-41-1764459089000-1.1").unwrap(),
        first
    );
    assert_eq!(s.as_run("news", r.start, r.end).unwrap(), vec![r.clone()]);
    // Another session of the same event aired too: a second record.
    let second = s.record_as_run(&r, "tv2-77-1764459090000-4.2").unwrap();
    assert_ne!(second, first);
    assert_eq!(s.as_run("news", r.start, r.end).unwrap().len(), 2);
    // No session: refused, nothing written.
    let err = s.record_as_run(&record("4"), " ").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::BadInput, "{err}");
    assert_eq!(s.as_run("news", r.start, r.end).unwrap().len(), 2);
    // Records from before sessions were kept (NULL) never conflict with each other.
    for _ in 0..2 {
        raw_sql(
            db.url(),
            "INSERT INTO as_run (channel_id, playlog_id, start_ms, end_ms, kind, status) \
             VALUES ('news', 'news:2030-01-07:9', 1893999000000, 1893999060000, 'content', 'aired')",
        );
    }
    assert_eq!(
        s.as_run("news", 1_893_999_000_000, 1_893_999_060_000)
            .unwrap()
            .len(),
        2
    );
}

// contract: ASRUN-002
#[test]
fn as_run_is_stored_once_per_event_and_session_on_sqlite() {
    as_run_once_per_event_and_session(&TestDb::sqlite());
}

// contract: ASRUN-002
#[test]
fn as_run_is_stored_once_per_event_and_session_on_postgres() {
    as_run_once_per_event_and_session(&TestDb::postgres());
}

// contract: ASRUN-002
#[test]
fn asrun_show_output_is_unchanged_by_sessions() {
    let home = TempDir::new("rv-asrun");
    let db = TestDb::sqlite();
    let rv = Rv::new(db.url(), &home.path);
    let lineup = home.write(
        "lineup.toml",
        &channel_toml("news", "5", "synthetic:bars:1800000"),
    );
    rv.ok(&["lineup", "import", lineup.to_str().unwrap()]);
    let mut s = store::open(db.url()).unwrap();
    let mut r = record("3");
    r.start = 1_893_996_000_000; // 2030-01-07T06:00Z, inside the broadcast date
    r.end = r.start + 60_000;
    s.record_as_run(&r, "a-1-1-1.1").unwrap();
    s.record_as_run(&r, "a-1-1-1.1").unwrap();
    let json = rv.json(&["asrun", "show", "--channel", "news", "--date", "2030-01-07"]);
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    let mut keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "asset",
            "channel",
            "end",
            "kind",
            "playlog_id",
            "reason",
            "start",
            "status"
        ]
    );
}

/// Tune a channel on a raw socket and read `n` body bytes (bounded by the read timeout).
fn watch(addr: &str, channel: &str, n: usize) -> TcpStream {
    let answer = raw_get(addr, &format!("/channel/{channel}.ts"));
    assert_eq!(answer.status, 200, "{}", answer.head);
    let mut socket = answer.socket;
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    while got < n {
        let k = socket.read_some(&mut buf).expect("the stream flows");
        assert!(k > 0, "stream ended after {got} bytes");
        got += k;
    }
    socket
}

/// `retrovue serve` on `home` that must refuse to start: (exit code, stderr), bounded.
fn second_serve(home: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(retrovue())
        .args(["serve", "--bind", "127.0.0.1:0", "--engine", "synthetic"])
        .env("RETROVUE_HOME", home)
        .env_remove("RETROVUE_DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second serve on one SQLite file kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

// contract: DAEMON-030, DAEMON-031, ASRUN-003
#[test]
fn a_second_daemon_on_one_sqlite_file_is_refused_while_other_commands_work() {
    let dir = TempDir::new("rv-lock-lineup");
    let lineup = dir.write(
        "lineup.toml",
        &channel_toml("alpha", "10", "synthetic:bars:1800000"),
    );
    let home = TempDir::new("rv-lock");
    let home_path = home.path.clone();
    let db_file = home_path.join("retrovue.db");
    let lock_file = home_path.join("retrovue.db.serve.lock");
    let mut first = Daemon::start_in(home, &["--lineup", lineup.to_str().unwrap()]);

    // DAEMON-030: refused, exit 2, one line naming the file, the lock and the holder's pid.
    let (code, stderr) = second_serve(&home_path);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&db_file.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&lock_file.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {}", first.pid())), "{stderr}");
    assert!(stderr.contains("single-node"), "{stderr}");

    // DAEMON-031: the other commands use the file as before while the daemon serves it.
    let rv = Rv::new(&format!("sqlite://{}", db_file.display()), &home_path);
    rv.ok(&["db", "status"]);
    let backup = dir.join("backup.jsonl");
    rv.ok(&["db", "backup", backup.to_str().unwrap()]);
    assert!(backup.is_file());
    rv.ok(&["schedule", "build", "--all", "--from", "2030-01-07"]);
    rv.ok(&[
        "asrun",
        "show",
        "--channel",
        "alpha",
        "--date",
        "2030-01-07",
    ]);
    let status = rv.json(&["cluster", "status"]);
    assert_eq!(status["cluster"], false);

    // ASRUN-003: what aired is stored under this daemon's session keys.
    let viewer = watch(&first.addr, "alpha", 20_000);
    let exit = first.sigterm();
    drop(viewer);
    assert!(exit.success(), "{exit}");
    let conn = rusqlite::Connection::open(&db_file).unwrap();
    let sessions: Vec<String> = conn
        .prepare("SELECT session_id FROM as_run WHERE channel_id = 'alpha'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!sessions.is_empty(), "no as-run written");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    for key in &sessions {
        let rest = key
            .strip_prefix(&format!("{host}-{}-", first.pid()))
            .unwrap_or_else(|| panic!("session {key} does not name host {host} and the pid"));
        let (started, session) = rest.split_once('-').unwrap();
        assert!(started.parse::<i64>().unwrap() > 1_700_000_000_000, "{key}");
        let (run, engine) = session.split_once('.').unwrap();
        run.parse::<u64>().unwrap();
        engine.parse::<u64>().unwrap();
    }
    drop(conn);

    // The lock dies with the daemon, also on kill -9: the next serve starts.
    let home = first.kill();
    let second = Daemon::start_in(home, &[]);
    let home = second.kill();
    let third = Daemon::start_in(home, &[]);
    assert!(third.log_line("serve lock:", 10).contains(".serve.lock"));
}

// contract: CLI-100, CLI-102
#[test]
fn cluster_status_lists_nodes_leases_and_who_runs_what_on_postgres() {
    let db = TestDb::postgres();
    let home = TempDir::new("rv-cluster");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&["db", "migrate"]);
    // An empty cluster is no error.
    let empty = rv.json(&["cluster", "status"]);
    assert_eq!(empty["cluster"], true);
    assert_eq!(empty["nodes"].as_array().unwrap().len(), 0);
    assert!(empty["keeper"].is_null());
    raw_sql(
        db.url(),
        "INSERT INTO cluster_node VALUES
           ('node-b', 'http://10.0.0.2:8000', '2030-01-07 06:00:00+00', now() - interval '60 s'),
           ('node-a', 'http://10.0.0.1:8000', '2030-01-07 05:59:30.250+00', now() - interval '2 s');
         INSERT INTO cluster_node VALUES
           ('node-c', 'http://10.0.0.3:8000', '2030-01-07 06:00:00+00', now() - interval '30 s', 60000),
           ('node-d', 'http://10.0.0.4:8000', '2030-01-07 06:00:00+00', now() - interval '8 s', 6000);
         INSERT INTO cluster_lease VALUES
           ('channel:alpha', 'node-a', 7, now(), now(), now() + interval '5 s'),
           ('channel:beta', 'node-b', 4, now(), now(), now() - interval '3 s'),
           ('channel:gamma', 'node-b', 5, now(), now(), now() + interval '4 s'),
           ('keeper', 'node-a', 3, now(), now(), now() + interval '5 s');",
    );
    let s = rv.json(&["cluster", "status"]);
    assert_eq!(s["cluster"], true);
    assert_eq!(s["backend"], "postgres");
    let nodes = s["nodes"].as_array().unwrap();
    let ids: Vec<&str> = nodes
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["node-a", "node-b", "node-c", "node-d"]);
    assert_eq!(nodes[0]["advertise_url"], "http://10.0.0.1:8000");
    assert_eq!(nodes[0]["started_at"], "2030-01-07T05:59:30.250Z");
    let age = nodes[0]["heartbeat_age_ms"].as_i64().unwrap();
    assert!((2_000..6_000).contains(&age), "{age}");
    // contract: CLUSTER-012
    // Alive while the heartbeat is younger than the node's own ttl (6 s when none is recorded).
    assert_eq!(nodes[0]["alive_after_ms"], 6_000);
    assert_eq!(nodes[0]["alive"], true);
    assert!(nodes[1]["heartbeat_age_ms"].as_i64().unwrap() >= 60_000);
    assert_eq!(nodes[1]["alive"], false);
    assert_eq!(nodes[2]["alive_after_ms"], 60_000);
    assert_eq!(nodes[2]["alive"], true, "30 s late with a 60 s ttl");
    assert_eq!(nodes[3]["alive"], false, "8 s late with a 6 s ttl");

    let leases = s["leases"].as_array().unwrap();
    let names: Vec<&str> = leases.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["channel:alpha", "channel:beta", "channel:gamma", "keeper"]
    );
    assert_eq!(leases[0]["node_id"], "node-a");
    assert_eq!(leases[0]["token"], 7);
    let left = leases[0]["expires_in_ms"].as_i64().unwrap();
    assert!((1..=5_000).contains(&left), "{left}");
    assert_eq!(leases[0]["expired"], false);
    assert!(leases[1]["expires_in_ms"].as_i64().unwrap() <= -3_000);
    assert_eq!(leases[1]["expired"], true);

    // Who runs what: unexpired channel leases only; a dead node's unexpired lease still shows.
    let channels = s["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2, "{s}");
    assert_eq!(channels[0]["channel"], "alpha");
    assert_eq!(channels[0]["node_id"], "node-a");
    assert_eq!(channels[0]["node_alive"], true);
    assert_eq!(channels[1]["channel"], "gamma");
    assert_eq!(channels[1]["node_id"], "node-b");
    assert_eq!(channels[1]["node_alive"], false);
    assert_eq!(s["keeper"]["node_id"], "node-a");

    let text = rv.ok(&["cluster", "status"]);
    assert!(text.contains("nodes: 4 (2 alive"), "{text}");
    assert!(text.contains("node-b"), "{text}");
    assert!(text.contains("dead"), "{text}");
    assert!(text.contains("channel:beta"), "{text}");
    assert!(text.contains("expired"), "{text}");
    assert!(text.contains("alpha            → node-a"), "{text}");
    assert!(
        text.contains("gamma            → node-b (node dead)"),
        "{text}"
    );
    assert!(text.contains("keeper: node-a"), "{text}");
}

// contract: CLI-101
#[test]
fn cluster_status_on_sqlite_says_single_node() {
    let db = TestDb::sqlite();
    let home = TempDir::new("rv-cluster");
    let rv = Rv::new(db.url(), &home.path);
    assert_eq!(
        rv.ok(&["cluster", "status"]).trim_end(),
        "single node (SQLite store): no cluster"
    );
    let s = rv.json(&["cluster", "status"]);
    assert_eq!(
        s,
        serde_json::json!({"cluster": false, "backend": "sqlite", "nodes": [], "leases": [],
                           "channels": [], "keeper": null})
    );
}
