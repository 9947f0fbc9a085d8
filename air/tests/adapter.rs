//! `retrovue-engine-air` end to end against the fake AIR (src/bin/retrovue-air-fake.rs), over
//! real loopback gRPC and a real Unix socket (contracts/engine-air.md). Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use retrovue::engine::protocol::{Block, Control, Evidence, Segment};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn segment(event: &str, kind: &str, asset: Option<&str>, start: i64, end: i64) -> Segment {
    Segment {
        event_id: event.into(),
        asset_uri: asset.map(str::to_string),
        kind: kind.into(),
        in_point_ms: 0,
        duration_ms: end - start,
        start,
        end,
    }
}

fn block(id: &str, segments: Vec<Segment>) -> Block {
    Block {
        id: id.into(),
        start: segments[0].start,
        end: segments.last().unwrap().end,
        segments,
    }
}

/// A running adapter with the fake AIR behind it.
struct Adapter {
    child: Child,
    stdin: Option<ChildStdin>,
    evidence: Receiver<Evidence>,
    seen: Vec<Evidence>,
    stdout: Arc<Mutex<Vec<u8>>>,
    log: PathBuf,
}

impl Adapter {
    fn start(env: &[(&str, &str)]) -> Adapter {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let log = std::env::temp_dir().join(format!("rv-fake-air-{}-{n}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_retrovue-engine-air"))
            .env("RETROVUE_AIR", env!("CARGO_BIN_EXE_retrovue-air-fake"))
            .env("FAKE_AIR_LOG", &log)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the adapter");
        let stderr = child.stderr.take().unwrap();
        let (tx, evidence) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match Evidence::parse_line(&line) {
                    Some(event) => {
                        let _ = tx.send(event);
                    }
                    None => assert!(!line.starts_with('{'), "bad evidence line {line}"),
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Adapter {
            stdin: child.stdin.take(),
            child,
            evidence,
            seen: Vec::new(),
            stdout,
            log,
        }
    }

    fn send(&mut self, control: &Control) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", serde_json::to_string(control).unwrap()).unwrap();
        stdin.flush().unwrap();
    }

    /// Reads evidence until `check` holds for one event (bounded).
    fn wait_for(&mut self, what: &str, check: impl Fn(&Evidence) -> bool) {
        if self.seen.iter().any(&check) {
            return;
        }
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.evidence.recv_timeout(left) {
                Ok(event) => {
                    let hit = check(&event);
                    self.seen.push(event);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no {what} in {:?}", self.seen),
            }
        }
    }

    /// Waits for the exit and returns (code, every evidence event, the fake AIR's log).
    fn finish(mut self) -> (i32, Vec<Evidence>, Vec<String>) {
        let until = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < until, "the adapter did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(event) = self.evidence.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(event);
        }
        let log = self.fake_log();
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.seen),
            log,
        )
    }

    fn fake_log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn position(log: &[String], prefix: &str) -> usize {
    log.iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in fake AIR log {log:?}"))
}

fn fake_pid(log: &[String]) -> u32 {
    log[position(log, "pid ")][4..].parse().unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn count(events: &[Evidence], check: impl Fn(&Evidence) -> bool) -> usize {
    events.iter().filter(|e| check(e)).count()
}

fn started(events: &[Evidence], id: &str) -> usize {
    count(
        events,
        |e| matches!(e, Evidence::SegmentStarted { event_id, .. } if event_id == id),
    )
}

fn aired(events: &[Evidence], id: &str) -> usize {
    count(
        events,
        |e| matches!(e, Evidence::SegmentAired { event_id, .. } if event_id == id),
    )
}

#[test]
fn start_feed_and_stop_drive_air_in_order() {
    // contract: AIR-001, AIR-002, AIR-003, AIR-005, AIR-006, AIR-008
    let t = now_ms();
    let mut adapter = Adapter::start(&[]);
    adapter.send(&Control::Start {
        channel: "ch1".into(),
        join_at: t,
        blocks: vec![
            block(
                "0",
                vec![
                    segment("e1", "content", Some("/m/a.mkv"), t, t + 300),
                    segment("e2", "commercial", Some("/m/b.mkv"), t + 300, t + 600),
                ],
            ),
            block("1", vec![segment("e3", "pad", None, t + 600, t + 900)]),
        ],
    });
    adapter.send(&Control::Feed {
        block: block(
            "2",
            vec![segment(
                "e4",
                "content",
                Some("/m/c.mkv"),
                t + 900,
                t + 1_200,
            )],
        ),
    });
    adapter.send(&Control::Feed {
        block: block(
            "3",
            vec![segment(
                "e5",
                "content",
                Some("/m/d.mkv"),
                t + 1_200,
                t + 120_000,
            )],
        ),
    });
    adapter.wait_for(
        "e5 on air",
        |e| matches!(e, Evidence::SegmentStarted { event_id, .. } if event_id == "e5"),
    );
    adapter.send(&Control::Stop);
    let pid = fake_pid(&adapter.fake_log());
    let stdout = Arc::clone(&adapter.stdout);
    let (code, events, log) = adapter.finish();
    let ts = stdout.lock().unwrap().clone();
    assert_eq!(code, 0, "{events:?}");

    // Evidence: every segment once, with actual times, the last truncated by the stop.
    assert!(
        matches!(&events[0], Evidence::SessionStarted { channel, join_at, .. } if channel == "ch1" && *join_at == t)
    );
    for id in ["e1", "e2", "e3", "e4"] {
        assert_eq!(started(&events, id), 1, "{id}: {events:?}");
        assert_eq!(aired(&events, id), 1, "{id}: {events:?}");
    }
    assert!(events.iter().any(|e| matches!(e,
        Evidence::SegmentTruncated { event_id, reason, actual_start, actual_end }
            if event_id == "e5" && reason == "stop" && actual_end >= actual_start)));
    assert_eq!(
        events.last(),
        Some(&Evidence::SessionEnded {
            reason: "stop".into()
        })
    );

    // AIR's calls, in AIR.md's order; feeds only after the first BlockStarted; no legacy RPC.
    let version = position(&log, "GetVersion");
    let attach = position(&log, "AttachStream 1 1 replace=true");
    let start = position(&log, "Start ");
    let subscribe = position(&log, "Subscribe 1");
    let credit = position(&log, "event BlockStarted 0");
    let feed = position(&log, "Feed 2@");
    assert!(
        version < attach && attach < start && start < subscribe && credit < feed,
        "{log:?}"
    );
    assert!(
        log[start].contains(&format!("join={t} a=0@{t}-{}", t + 600)),
        "{}",
        log[start]
    );
    assert!(
        log[start].contains(&format!("b=1@{}-{}", t + 600, t + 900)),
        "{}",
        log[start]
    );
    assert!(log[start].contains("channel=ch1"), "{}", log[start]);
    let accepted: Vec<&String> = log.iter().filter(|l| l.ends_with(" accepted")).collect();
    assert_eq!(accepted.len(), 2, "each fed block accepted once: {log:?}");
    assert!(!log.iter().any(|l| l.starts_with("LEGACY")), "{log:?}");

    // The fake's TS reached stdout as whole packets.
    assert!(!ts.is_empty());
    assert_eq!(ts.len() % 188, 0);
    assert!(ts.chunks(188).all(|p| p[0] == 0x47));
    assert!(!alive(pid), "AIR outlived the adapter");
}

#[test]
fn stop_detach_and_terminate_leave_no_air_behind() {
    // contract: AIR-006
    let t = now_ms();
    let mut adapter = Adapter::start(&[]);
    adapter.send(&Control::Start {
        channel: "c2".into(),
        join_at: t,
        blocks: vec![block(
            "0",
            vec![segment("only", "content", Some("/m/x.mkv"), t, t + 60_000)],
        )],
    });
    adapter.wait_for("the segment on air", |e| {
        matches!(e, Evidence::SegmentStarted { .. })
    });
    let log = adapter.fake_log();
    let pid = fake_pid(&log);
    assert!(alive(pid));
    // End of stdin ends the session like `stop`, with reason eof.
    drop(adapter.stdin.take());
    let (code, events, log) = adapter.finish();
    assert_eq!(code, 0);
    assert_eq!(
        events.last(),
        Some(&Evidence::SessionEnded {
            reason: "eof".into()
        })
    );
    assert!(position(&log, "Stop reason=eof") < position(&log, "DetachStream force=true"));
    assert!(!alive(pid), "AIR outlived the adapter");
    // A single seed block was split in two contiguous halves; one segment in our evidence.
    let start = &log[position(&log, "Start ")];
    assert!(
        start.contains(&format!("a=0@{t}-{}", t + 30_000)),
        "{start}"
    );
    assert!(
        start.contains(&format!("b=0+@{}-{}", t + 30_000, t + 60_000)),
        "{start}"
    );
    assert_eq!(started(&events, "only"), 1);
}

#[test]
fn a_join_in_progress_starts_air_at_the_join_with_the_offset_advanced() {
    // contract: AIR-004
    let t = now_ms();
    let mut adapter = Adapter::start(&[]);
    let mut first = segment("before", "content", Some("/m/a.mkv"), t - 5_000, t - 2_000);
    first.in_point_ms = 0;
    let mut joined = segment("joined", "content", Some("/m/b.mkv"), t - 2_000, t + 400);
    joined.in_point_ms = 1_000;
    adapter.send(&Control::Start {
        channel: "ch1".into(),
        join_at: t,
        blocks: vec![
            block("0", vec![first, joined]),
            block("1", vec![segment("next", "pad", None, t + 400, t + 60_000)]),
        ],
    });
    adapter.wait_for(
        "next on air",
        |e| matches!(e, Evidence::SegmentStarted { event_id, .. } if event_id == "next"),
    );
    adapter.send(&Control::Stop);
    let (code, events, log) = adapter.finish();
    assert_eq!(code, 0);
    let start = &log[position(&log, "Start ")];
    // Segment 0 is `joined` (CONTENT = 0) from offset 1000 + 2000, for the 400 ms left.
    assert!(
        start.contains(&format!(
            "join={t} a=0@{t}-{}[0:joined:0:3000:400]",
            t + 400
        )),
        "{start}"
    );
    assert_eq!(
        started(&events, "before"),
        0,
        "nothing before the join is reported"
    );
    assert!(events.iter().any(|e| matches!(e,
        Evidence::SegmentAired { event_id, actual_start, .. } if event_id == "joined" && *actual_start >= t)));
}

#[test]
fn air_crashing_makes_the_adapter_exit_non_zero() {
    // contract: AIR-007
    let t = now_ms();
    let mut adapter = Adapter::start(&[("FAKE_AIR_CRASH_AFTER_MS", "300")]);
    adapter.send(&Control::Start {
        channel: "ch1".into(),
        join_at: t,
        blocks: vec![
            block(
                "0",
                vec![segment("a", "content", Some("/m/a.mkv"), t, t + 60_000)],
            ),
            block(
                "1",
                vec![segment(
                    "b",
                    "content",
                    Some("/m/b.mkv"),
                    t + 60_000,
                    t + 120_000,
                )],
            ),
        ],
    });
    let (code, events, _) = adapter.finish();
    assert_ne!(code, 0, "{events:?}");
    match events.last() {
        Some(Evidence::SessionEnded { reason }) => {
            assert!(reason.starts_with("error:"), "{reason}")
        }
        other => panic!("last evidence {other:?}"),
    }
}

#[test]
fn evidence_replayed_after_a_reconnect_is_written_once() {
    // contract: AIR-009
    let t = now_ms();
    let mut adapter = Adapter::start(&[("FAKE_AIR_RECONNECT_AFTER", "4")]);
    let ids = ["s1", "s2", "s3", "s4", "s5"];
    let segments: Vec<Segment> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let start = t + i as i64 * 150;
            segment(id, "content", Some("/m/a.mkv"), start, start + 150)
        })
        .collect();
    adapter.send(&Control::Start {
        channel: "ch1".into(),
        join_at: t,
        blocks: vec![
            block("0", segments),
            block("1", vec![segment("tail", "pad", None, t + 750, t + 60_000)]),
        ],
    });
    adapter.wait_for(
        "tail on air",
        |e| matches!(e, Evidence::SegmentStarted { event_id, .. } if event_id == "tail"),
    );
    adapter.send(&Control::Stop);
    let (code, events, log) = adapter.finish();
    assert_eq!(code, 0);
    position(&log, "reconnecting after 4");
    // The fake replays records 1..=4 after the second Hello: none of them is written again.
    assert!(
        log.iter().filter(|l| l.starts_with("hello-acked")).count() >= 2,
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("ack-timeout")), "{log:?}");
    for id in ids {
        assert_eq!(started(&events, id), 1, "{id}: {events:?}");
        assert_eq!(aired(&events, id), 1, "{id}: {events:?}");
    }
    assert_eq!(
        count(
            &events,
            |e| matches!(e, Evidence::BlockStarted { block_id, .. } if block_id == "0")
        ),
        1
    );
}

#[test]
fn without_an_air_executable_the_adapter_refuses_to_start() {
    // contract: AIR-001
    let out = Command::new(env!("CARGO_BIN_EXE_retrovue-engine-air"))
        .env_remove("RETROVUE_AIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RETROVUE_AIR"));
}
