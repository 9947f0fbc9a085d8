//! The daemon under a set clock (`serve --clock`, DAEMON-008), end to end: a watched channel
//! going off the air at a day without a plan (DAEMON-010), a failed ScheduleDay build retried
//! until it succeeds (HORIZON-005, HORIZON-007, HTTP-007), and the health and invariant
//! metrics of a healthy daemon. Real daemon processes, real engines, real loopback sockets, a
//! real SQLite file. Every clock is set in the future (the store refuses to rewrite days whose
//! window began on the real clock), and every wait is bounded.

use crate::support;
use crate::support::{raw_get, RawAnswer, ReadSome};

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use support::daemon::{alive, children, eventually, retrovue, Daemon};
use support::TempDir;

/// A viewer on a raw socket: the response head is read, the body is left to the caller.
struct Viewer {
    socket: TcpStream,
    status: u16,
    head: String,
}

impl Viewer {
    fn tune(addr: &str, channel: &str) -> Viewer {
        let RawAnswer {
            socket,
            status,
            head,
        } = raw_get(addr, &format!("/channel/{channel}.ts"));
        Viewer {
            socket,
            status,
            head,
        }
    }

    /// Read at least `n` raw body bytes (chunk framing included).
    fn read_at_least(&mut self, n: usize) {
        let mut got_total = 0;
        let mut buf = vec![0u8; 65536];
        while got_total < n {
            let got = self
                .socket
                .read_some(&mut buf)
                .expect("stream keeps flowing");
            assert!(got > 0, "stream ended after {got_total} bytes");
            got_total += got;
        }
    }

    /// Read until the daemon ends the stream; panics at `deadline` or on a read timeout.
    fn read_to_end_by(&mut self, deadline: Instant) {
        let mut buf = vec![0u8; 65536];
        loop {
            assert!(
                Instant::now() < deadline,
                "the stream was still open at the deadline"
            );
            match self.socket.read_some(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => panic!("the stream neither flowed nor ended: {e}"),
            }
        }
    }
}

/// A date far enough ahead that no real clock has begun its broadcast day.
fn future_date(days: i64) -> NaiveDate {
    (Utc::now() + chrono::Duration::days(days)).date_naive()
}

/// The instant `date` at `hh:mm` UTC, in ms.
fn at(date: NaiveDate, hour: u32, minute: u32) -> i64 {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
        .timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A one-channel lineup of synthetic bars in 30-minute slots, day start 06:00 UTC, planned on
/// the given weekdays (0 = Monday).
fn lineup(dir: &TempDir, id: &str, weekdays: &[u32]) -> String {
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let days: Vec<String> = weekdays
        .iter()
        .map(|d| format!("\"{}\"", names[*d as usize]))
        .collect();
    let text = format!(
        "[[channel]]\nid = \"{id}\"\nnumber = \"5\"\nname = \"{id}\"\ntimezone = \"UTC\"\n\
         grid_block_minutes = 30\nblock_start_offsets_minutes = [0, 30]\n\
         programming_day_start = \"06:00\"\nbreak_policy = \"end\"\n\n  [[channel.plan]]\n\
         name = \"Plan\"\n  days = [{}]\n\n    [[channel.plan.zone]]\n    name = \"All\"\n\
         start = \"06:00\"\n    end = \"06:00\"\n    items = [\"synthetic:bars:1800000\"]\n",
        days.join(", ")
    );
    let path = dir.join("lineup.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

/// As-run rows `(start_ms, end_ms, status, reason)` of a channel, by end.
fn as_run(db: &Path, channel: &str) -> Vec<(i64, i64, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT start_ms, end_ms, status, COALESCE(reason, '') FROM as_run \
             WHERE channel_id = ?1 ORDER BY end_ms, start_ms",
        )
        .unwrap();
    let rows = stmt
        .query_map([channel], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Guide rows of a channel overlapping `[from, to)`, from `/api/epg`.
fn guide_rows(daemon: &Daemon, channel: &str, from: i64, to: i64) -> usize {
    let (status, body) = daemon.get(&format!(
        "/api/epg?channel={channel}&from={}&to={}",
        rfc3339(from),
        rfc3339(to)
    ));
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    rows.as_array().unwrap().len()
}

#[test]
fn a_watched_channel_goes_off_the_air_at_a_day_without_a_plan() {
    // contract: DAEMON-010
    // contract: DAEMON-008
    // contract: MGR-010
    // contract: MACHINE-004
    let gap_day = future_date(400);
    let dark = gap_day.weekday().num_days_from_monday();
    let planned: Vec<u32> = (0..7).filter(|d| *d != dark).collect();
    let dir = TempDir::new("rv-gap-");
    let lineup = lineup(&dir, "gappy", &planned);
    let gap = at(gap_day, 6, 0);
    let lead = Duration::from_secs(20);
    let started = Instant::now();
    let clock = rfc3339(gap - lead.as_millis() as i64);
    let daemon = Daemon::start(&["--lineup", &lineup, "--clock", &clock]);
    // The daemon's clock reads a moment before the gap's real-time instant; the gap starts
    // at `started + lead` real time, plus the few milliseconds before the clock was set.
    let real_gap = started + lead;

    let mut viewer = Viewer::tune(&daemon.addr, "gappy");
    assert_eq!(viewer.status, 200, "{}", viewer.head);
    viewer.read_at_least(10_000);
    let engines = children(daemon.pid());
    assert_eq!(engines.len(), 1, "one engine for the viewer");
    assert!(
        Instant::now() < real_gap,
        "the daemon took too long to start: the gap began before the viewer was watching"
    );

    // The viewer's stream ends at the gap start, within a few seconds, not before.
    viewer.read_to_end_by(real_gap + Duration::from_secs(8));
    let ended = Instant::now();
    assert!(
        ended >= real_gap,
        "the stream ended {:?} before the gap",
        real_gap - ended
    );
    assert!(
        ended < real_gap + Duration::from_secs(5),
        "the stream ended {:?} after the gap start",
        ended - real_gap
    );
    // The engine process is gone, and none replaced it.
    eventually(5, "the engine stopped", || !alive(engines[0]));
    eventually(5, "no engine during the gap", || {
        children(daemon.pid()).is_empty()
    });

    // A tune-in during the gap: 503, and no engine is started.
    let (status, body) = daemon.get("/channel/gappy.ts");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("gap"), "{body}");
    assert!(children(daemon.pid()).is_empty(), "no engine for a 503");
    assert_eq!(daemon.get("/api/channels/gappy/now").0, 503);

    // The session's as-run is closed at the gap start (within a second), nothing after it.
    let db = daemon.db();
    eventually(5, "as-run records of the session", || {
        !as_run(&db, "gappy").is_empty()
    });
    let records = as_run(&db, "gappy");
    let last = records.last().unwrap();
    assert!(
        (last.1 - gap).abs() <= 1_000,
        "the last as-run record ends at {} (gap at {}): {records:?}",
        rfc3339(last.1),
        rfc3339(gap)
    );
    assert!(
        records.iter().all(|r| r.0 < gap && r.1 <= gap + 1_000),
        "as-run inside the gap: {records:?}"
    );

    // A while into the gap: the channel is not retried every second (the old bug).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daemon.get("/channel/gappy.ts").0, 503);
    let warnings = daemon.log_count("playlog ends");
    assert!(
        warnings <= 1,
        "{warnings} \"playlog ends\" warnings: the channel keeps retrying the gap"
    );
    assert!(children(daemon.pid()).is_empty(), "no engine in the gap");
}

#[test]
fn a_failed_build_is_retried_until_the_store_heals() {
    // contract: HORIZON-005
    // contract: HORIZON-007
    // contract: HTTP-007
    // contract: DAEMON-008
    let day = future_date(500);
    let dir = TempDir::new("rv-fail-");
    let lineup = lineup(&dir, "steady", &[0, 1, 2, 3, 4, 5, 6]);
    // The clock starts before `day`'s 06:00 day start: at that threshold the keeper must build
    // `day + 3` (days ahead 3), which the store then refuses.
    let threshold = at(day, 6, 0);
    let lead = Duration::from_secs(15);
    let started = Instant::now();
    let clock = rfc3339(threshold - lead.as_millis() as i64);
    let daemon = Daemon::start(&["--lineup", &lineup, "--clock", &clock]);
    let new_day = day + chrono::Days::new(3);
    let (new_from, new_to) = (at(new_day, 6, 0), at(new_day, 12, 0));
    assert_eq!(
        guide_rows(&daemon, "steady", new_from, new_to),
        0,
        "{new_day} is not built before its threshold"
    );
    assert_eq!(daemon.get("/healthz"), (200, "ok\n".to_string()));

    // The store fails every ScheduleDay write (a real error from SQLite, at once: a lock would
    // only make the keeper wait out the busy timeout).
    let conn = rusqlite::Connection::open(daemon.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER test_store_fails BEFORE INSERT ON schedule_day \
         BEGIN SELECT RAISE(ABORT, 'injected store failure'); END;",
    )
    .unwrap();
    assert!(
        started.elapsed() + Duration::from_secs(1) < lead,
        "the daemon took too long to start: the threshold passed before the failure was armed"
    );

    // At the threshold the build fails: /healthz names the channel and the failure.
    let mut health = (0, String::new());
    eventually(
        lead.as_secs() + 20,
        "/healthz reports the failed build",
        || {
            health = daemon.get("/healthz");
            health.0 == 503
        },
    );
    assert!(
        health.1.contains("channel steady") && health.1.contains("failure"),
        "{health:?}"
    );
    assert!(daemon.metric("retrovue_keeper_failures_total") >= 1);
    assert!(daemon.log_count("injected store failure") >= 1);
    assert_eq!(guide_rows(&daemon, "steady", new_from, new_to), 0);

    // The store heals: a retry (backoff 1 s doubling) builds the day and health comes back.
    conn.execute_batch("DROP TRIGGER test_store_fails;")
        .unwrap();
    drop(conn);
    eventually(15, "/healthz ok again after the store healed", || {
        daemon.get("/healthz") == (200, "ok\n".to_string())
    });
    assert!(
        guide_rows(&daemon, "steady", new_from, new_to) >= 12,
        "{new_day}'s guide rows are published"
    );
    assert!(daemon.metric("retrovue_keeper_retries_total") >= 1);
    assert_eq!(daemon.metric("retrovue_invariant_violations_total"), 0);
}

#[test]
fn a_healthy_daemon_reports_no_violations_at_its_set_clock() {
    // contract: HTTP-007
    // contract: DAEMON-008
    // The demo lineup (every channel shape it has), its days built at a clock years ahead.
    let day = future_date(700);
    let clock = at(day, 11, 17);
    let daemon = Daemon::start(&["--clock", &rfc3339(clock)]);
    assert_eq!(daemon.get("/healthz"), (200, "ok\n".to_string()));
    let (status, metrics) = daemon.get("/metrics");
    assert_eq!(status, 200);
    for line in [
        "# TYPE retrovue_invariant_violations_total counter",
        "retrovue_invariant_violations_total 0",
        "# TYPE retrovue_keeper_failures_total counter",
        "retrovue_keeper_failures_total 0",
        "# TYPE retrovue_keeper_retries_total counter",
        "retrovue_keeper_retries_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    // The daemon's now is the set clock, running at real speed.
    let (status, now) = daemon.get("/api/channels/retro-one/now");
    assert_eq!(status, 200, "{now}");
    let now: serde_json::Value = serde_json::from_str(&now).unwrap();
    let reads = chrono::DateTime::parse_from_rfc3339(now["at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!(
        (clock..clock + 60_000).contains(&reads),
        "the daemon's now {} is not the set clock {}",
        rfc3339(reads),
        rfc3339(clock)
    );
}

#[test]
fn a_malformed_clock_is_bad_input_naming_the_flag() {
    // contract: DAEMON-008
    // contract: CLI-002
    let home = TempDir::new("rv-badclock-");
    let out = Command::new(retrovue())
        .args(["serve", "--bind", "127.0.0.1:0", "--clock", "garbage"])
        .env("RETROVUE_HOME", &home.path)
        .env_remove("RETROVUE_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run retrovue serve");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--clock"), "{stderr}");
    assert!(stderr.contains("garbage"), "{stderr}");
    assert!(out.stdout.is_empty(), "it never listened: {out:?}");
}

#[test]
fn stored_unaired_days_naming_vanished_media_are_rebuilt_without_it() {
    // contract: DAEMON-009
    // contract: HORIZON-006
    let day = future_date(600);
    let dir = TempDir::new("rv-vanish-");
    let mut assets = String::new();
    for (i, title) in ["Doomed", "Survivor"].iter().enumerate() {
        let path = dir.join(&format!("ep{i}.mkv"));
        std::fs::write(&path, b"not played: nobody tunes in").unwrap();
        assets.push_str(&format!(
            "[[asset]]\nid = \"ep{i}\"\nkind = \"episode\"\ntitle = \"{title}\"\n\
             series = \"Vault\"\nseason = 1\nepisode = {}\nduration_ms = 1800000\n\
             path = \"{}\"\n\n",
            i + 1,
            path.display()
        ));
    }
    let text = format!(
        "{assets}[[program]]\nid = \"vault\"\ntitle = \"Vault\"\nplay_mode = \"sequential\"\n\
         series = \"Vault\"\n\n[[channel]]\nid = \"vault\"\nnumber = \"8\"\nname = \"Vault\"\n\
         timezone = \"UTC\"\ngrid_block_minutes = 30\nblock_start_offsets_minutes = [0, 30]\n\
         programming_day_start = \"06:00\"\nbreak_policy = \"end\"\n\n  [[channel.plan]]\n\
         name = \"Plan\"\n\n    [[channel.plan.zone]]\n    name = \"All\"\n\
         start = \"06:00\"\n    end = \"06:00\"\n    items = [\"vault\"]\n"
    );
    let lineup = dir.join("lineup.toml");
    std::fs::write(&lineup, text).unwrap();
    let clock = rfc3339(at(day, 12, 0));
    // Tomorrow's day start through the end of the days-ahead horizon: days not begun.
    let (from, to) = (
        at(day + chrono::Days::new(1), 6, 0),
        at(day + chrono::Days::new(4), 6, 0),
    );
    let guide = |daemon: &Daemon| {
        let (status, body) = daemon.get(&format!(
            "/api/epg?channel=vault&from={}&to={}",
            rfc3339(from),
            rfc3339(to)
        ));
        assert_eq!(status, 200, "{body}");
        body
    };

    let first = Daemon::start(&["--lineup", lineup.to_str().unwrap(), "--clock", &clock]);
    let before = guide(&first);
    assert!(
        before.contains("Doomed") && before.contains("Survivor"),
        "{before}"
    );
    let home = first.kill();

    std::fs::remove_file(dir.join("ep0.mkv")).unwrap();
    let second = Daemon::start_in(home, &["--clock", &clock]);
    // The log lines come on stderr, the address on stdout: wait for the reader.
    eventually(5, "the log names the asset whose file is missing", || {
        second.log_count("asset ep0: file") >= 1 && second.log_count("is missing") >= 1
    });
    let after = guide(&second);
    assert!(
        !after.contains("Doomed"),
        "a day still airs the deleted file: {after}"
    );
    let rows: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert!(
        rows.as_array().unwrap().len() >= 3 * 40,
        "three whole days of guide rows after the rebuild: {after}"
    );
    // Today's day has begun on the daemon's clock: it is kept as it was.
    let (status, today) = second.get(&format!(
        "/api/epg?channel=vault&from={}&to={}",
        rfc3339(at(day, 12, 0)),
        rfc3339(from)
    ));
    assert_eq!(status, 200);
    assert!(
        today.contains("Doomed"),
        "a begun day was rewritten: {today}"
    );
    assert_eq!(second.get("/healthz"), (200, "ok\n".to_string()));
    assert_eq!(second.metric("retrovue_invariant_violations_total"), 0);
}

#[test]
fn an_engine_that_cannot_start_is_answered_503_with_its_reason_within_3_s() {
    // contract: MGR-011
    // An "engine" that exits at once without output (what a missing ffmpeg looks like).
    let dir = TempDir::new("rv-onetruth-engine-");
    let engine = dir.path.join("broken-engine");
    std::fs::write(&engine, "#!/bin/sh\necho 'cannot run ffmpeg' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&engine, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let daemon = Daemon::start(&["--engine", engine.to_str().unwrap()]);
    let asked = Instant::now();
    let (status, body) = daemon.get("/channel/retro-one.ts");
    let waited = asked.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("unavailable") && body.contains("exit"),
        "{body}"
    );
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    // The failure was logged with its reason, and no engine is left behind.
    eventually(5, "the failure logged", || {
        daemon.log_count("engine session 1 failed") >= 1
    });
    eventually(5, "no engine left", || children(daemon.pid()).is_empty());
}

#[test]
fn a_full_channel_and_a_busy_server_answer_503_and_give_places_back() {
    // contract: DAEMON-013
    let daemon = Daemon::start(&[
        "--engine",
        "synthetic",
        "--max-viewers-per-channel",
        "1",
        "--max-connections",
        "3",
    ]);
    let mut first = Viewer::tune(&daemon.addr, "retro-one");
    assert_eq!(first.status, 200, "{}", first.head);
    first.read_at_least(1_000);
    // The channel is full: refused without touching its engine.
    let (status, body) = daemon.get("/channel/retro-one.ts");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("full"), "{body}");
    // Another channel still admits one.
    let mut second = Viewer::tune(&daemon.addr, "movie-one");
    assert_eq!(second.status, 200, "{}", second.head);
    second.read_at_least(1_000);
    let mut third = Viewer::tune(&daemon.addr, "toon-town");
    assert_eq!(third.status, 200, "{}", third.head);
    third.read_at_least(1_000);
    // Three streams hold the three places: any further request is "busy".
    let (status, body) = daemon.get("/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("busy"), "{body}");
    // Places come back when streams end.
    drop(third);
    eventually(10, "a connection place given back", || {
        daemon.get("/healthz").0 == 200
    });
    drop(first);
    eventually(10, "the channel's place given back", || {
        let again = Viewer::tune(&daemon.addr, "retro-one");
        again.status == 200
    });
}

#[test]
fn repeated_notices_of_one_kind_are_held_back() {
    // contract: DAEMON-014
    let dir = TempDir::new("rv-onetruth-engine-");
    let engine = dir.path.join("broken-engine");
    std::fs::write(&engine, "#!/bin/sh\nexit 3\n").unwrap();
    std::fs::set_permissions(&engine, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let daemon = Daemon::start(&["--engine", engine.to_str().unwrap()]);
    for _ in 0..4 {
        assert_eq!(daemon.get("/channel/retro-one.ts").0, 503);
    }
    // Give the log a moment to arrive, then count: one line, not four.
    eventually(5, "the first failure logged", || {
        daemon.log_count("failed: engine exited on its own") >= 1
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(daemon.log_count("failed: engine exited on its own"), 1);
}
