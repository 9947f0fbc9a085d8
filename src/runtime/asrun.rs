//! The as-run writer (ASRUN-001..004, MACHINE-001): one thread with its own store connection makes
//! every as-run record durable, in arrival order, each under the key of the engine session that
//! aired it; records wait in memory while the database is away (retried until it answers) and
//! are drained, within a bound, when the senders close.

use std::collections::VecDeque;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};
use retrovue_core::model::AsRunRecord;

use crate::error::{AppError, AppResult};
use crate::store::{self, StoreError, StoreErrorKind};

/// One record to make durable, with its session key (ASRUN-003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session: String,
    pub record: AsRunRecord,
}

/// The waits before the first retries of a failed write (ASRUN-004); later retries wait the last.
pub const RETRY_WAITS_MS: [u64; 5] = [250, 500, 1_000, 2_000, 4_000];

/// How long the writer goes on trying after the last sender closed (ASRUN-004, DAEMON-006).
pub const SHUTDOWN_BOUND: Duration = Duration::from_secs(8);

/// How often a long outage is reported once the first retries were each logged.
const OUTAGE_REPORT_EVERY: Duration = Duration::from_secs(30);

/// `<host>-<pid>-<start ms>`: this daemon's part of every session key (ASRUN-003).
pub fn session_prefix(started_ms: i64) -> String {
    let host = super::cluster::host_name();
    format!("{host}-{}-{started_ms}", std::process::id())
}

/// The wait before retry number `retry` (0-based) of a failed write.
pub fn retry_wait(retry: usize) -> Duration {
    let last = RETRY_WAITS_MS[RETRY_WAITS_MS.len() - 1];
    Duration::from_millis(RETRY_WAITS_MS.get(retry).copied().unwrap_or(last))
}

/// The time the writer works with: `now` is a monotonic reading, `sleep` waits. Injected so the
/// retry schedule and the shutdown bound are testable without waiting.
pub trait WriterClock {
    fn now(&mut self) -> Duration;
    fn sleep(&mut self, wait: Duration);
}

/// The real clock: time since the writer started.
struct RealClock(std::time::Instant);

impl WriterClock for RealClock {
    fn now(&mut self) -> Duration {
        self.0.elapsed()
    }

    fn sleep(&mut self, wait: Duration) {
        std::thread::sleep(wait);
    }
}

/// A database outage as the writer sees it.
struct Outage {
    since: Duration,
    retries: usize,
    last_report: Duration,
    reason: String,
}

/// Make every record from `records` durable with `write` (its flag: the previous attempt failed,
/// so use a fresh connection), oldest first, under ASRUN-004: a database failure is retried for
/// as long as records can still arrive, and for [`SHUTDOWN_BOUND`] after they cannot; bad input
/// is logged and skipped. Returns how many records were written.
pub fn write_all(
    records: &Receiver<SessionRecord>,
    mut write: impl FnMut(&SessionRecord, bool) -> Result<(), StoreError>,
    clock: &mut dyn WriterClock,
) -> u64 {
    let mut waiting: VecDeque<SessionRecord> = VecDeque::new();
    let mut closed_at: Option<Duration> = None;
    let mut outage: Option<Outage> = None;
    let mut written = 0;
    loop {
        // Block only when nothing waits; then take in whatever else has arrived.
        if waiting.is_empty() && closed_at.is_none() {
            match records.recv() {
                Ok(record) => waiting.push_back(record),
                Err(_) => closed_at = Some(clock.now()),
            }
        }
        loop {
            match records.try_recv() {
                Ok(record) => waiting.push_back(record),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if closed_at.is_none() {
                        closed_at = Some(clock.now());
                    }
                    break;
                }
            }
        }
        let Some(oldest) = waiting.front() else {
            if closed_at.is_some() {
                return written;
            }
            continue;
        };
        match write(oldest, outage.is_some()) {
            Ok(()) => {
                written += 1;
                waiting.pop_front();
                if let Some(gone) = outage.take() {
                    log::info!(
                        "as-run: the database answers again after {:.1} s; {} waiting records \
                         are being written",
                        (clock.now() - gone.since).as_secs_f64(),
                        waiting.len() + 1
                    );
                }
            }
            Err(e) if e.kind == StoreErrorKind::BadInput => {
                log::error!(
                    "as-run record {} of {} (session {}) not written: {e}",
                    oldest.record.playlog_id,
                    oldest.record.channel,
                    oldest.session
                );
                waiting.pop_front();
            }
            Err(e) => {
                let now = clock.now();
                if let Some(closed) = closed_at {
                    if now.saturating_sub(closed) >= SHUTDOWN_BOUND {
                        for lost in waiting.drain(..) {
                            log::error!(
                                "as-run record {} of {} (session {}) lost at shutdown: the \
                                 database did not answer within {} s: {e}",
                                lost.record.playlog_id,
                                lost.record.channel,
                                lost.session,
                                SHUTDOWN_BOUND.as_secs()
                            );
                        }
                        return written;
                    }
                }
                let gone = outage.get_or_insert(Outage {
                    since: now,
                    retries: 0,
                    last_report: now,
                    reason: String::new(),
                });
                gone.reason = e.to_string();
                let wait = retry_wait(gone.retries);
                if gone.retries < RETRY_WAITS_MS.len() {
                    log::warn!(
                        "as-run write failed (attempt {}), retrying in {} ms: {e}",
                        gone.retries + 1,
                        wait.as_millis()
                    );
                    gone.last_report = now;
                } else if now.saturating_sub(gone.last_report) >= OUTAGE_REPORT_EVERY {
                    log::warn!(
                        "as-run: the database has not answered for {:.0} s; {} records waiting, \
                         retrying every {} s: {}",
                        (now - gone.since).as_secs_f64(),
                        waiting.len(),
                        wait.as_secs(),
                        gone.reason
                    );
                    gone.last_report = now;
                }
                gone.retries += 1;
                let wait = match closed_at {
                    Some(closed) => wait.min(SHUTDOWN_BOUND.saturating_sub(now - closed)),
                    None => wait,
                };
                clock.sleep(wait);
            }
        }
    }
}

/// Spawn the writer; joining it returns how many records were written.
pub fn spawn_writer(
    db_url: String,
    records: Receiver<SessionRecord>,
) -> AppResult<JoinHandle<u64>> {
    // Fail at start, not at the first record, when the store cannot be opened.
    let store = store::open(&db_url)?;
    drop(store);
    std::thread::Builder::new()
        .name("asrun-writer".into())
        .spawn(move || {
            let mut store = match store::open(&db_url) {
                Ok(store) => Some(store),
                Err(e) => {
                    log::error!("as-run writer: cannot open the store: {e}");
                    None
                }
            };
            let write = |entry: &SessionRecord, failed_before: bool| {
                if failed_before || store.is_none() {
                    // A fresh connection for every retry.
                    store = Some(store::connect(&db_url)?);
                }
                let open = store.as_mut().expect("opened above");
                open.record_as_run(&entry.record, &entry.session)
                    .map(|_| ())
            };
            write_all(&records, write, &mut RealClock(std::time::Instant::now()))
        })
        .map_err(|e| AppError::runtime(format!("cannot start the as-run writer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use retrovue_core::model::{AsRunStatus, EventKind};

    /// Virtual time: `sleep` advances it, nothing waits.
    struct FakeClock {
        now: Duration,
        slept: Vec<u64>,
    }

    impl WriterClock for FakeClock {
        fn now(&mut self) -> Duration {
            self.now
        }
        fn sleep(&mut self, wait: Duration) {
            self.slept.push(wait.as_millis() as u64);
            self.now += wait;
        }
    }

    fn fake_clock() -> FakeClock {
        FakeClock {
            now: Duration::ZERO,
            slept: Vec::new(),
        }
    }

    fn entry(n: usize) -> SessionRecord {
        SessionRecord {
            session: "tv1-1-1-1.1".into(),
            record: AsRunRecord {
                channel: "news".into(),
                playlog_id: format!("news:2030-01-07:{n}"),
                start: n as i64 * 1_000,
                end: n as i64 * 1_000 + 1_000,
                asset: None,
                kind: EventKind::Content,
                status: AsRunStatus::Aired,
                reason: None,
            },
        }
    }

    /// `n` records waiting, and the sender that keeps the queue open.
    fn queue(
        n: usize,
    ) -> (
        crossbeam_channel::Sender<SessionRecord>,
        Receiver<SessionRecord>,
    ) {
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..n {
            tx.send(entry(i)).unwrap();
        }
        (tx, rx)
    }

    /// `n` records waiting and no sender left: the daemon is shutting down.
    fn closed_queue(n: usize) -> Receiver<SessionRecord> {
        queue(n).1
    }

    // contract: ASRUN-004
    #[test]
    fn a_long_outage_loses_nothing_and_writes_in_arrival_order() {
        let (tx, rx) = queue(5);
        let mut sender = Some(tx);
        let mut stored = Vec::new();
        let mut fresh_flags = Vec::new();
        let mut clock = fake_clock();
        let started = clock.now;
        // The database is away for the first 25 attempts (over 80 s of virtual time).
        let mut attempts = 0;
        let written = write_all(
            &rx,
            |e, fresh| {
                attempts += 1;
                fresh_flags.push(fresh);
                if attempts <= 25 {
                    return Err(StoreError::backend("connection refused"));
                }
                stored.push(e.record.playlog_id.clone());
                if stored.len() == 5 {
                    sender.take();
                }
                Ok(())
            },
            &mut clock,
        );
        assert_eq!(written, 5);
        let expected: Vec<String> = (0..5).map(|n| format!("news:2030-01-07:{n}")).collect();
        assert_eq!(stored, expected);
        // 0.25, 0.5, 1, 2, 4 s, then every 4 s.
        assert_eq!(
            &clock.slept[..7],
            &[250, 500, 1_000, 2_000, 4_000, 4_000, 4_000]
        );
        assert_eq!(clock.slept.len(), 25);
        assert!(clock.now - started > Duration::from_secs(80));
        // Every retry is on a fresh connection; once it works, the old one is used again.
        assert!(!fresh_flags[0] && fresh_flags[1..=25].iter().all(|f| *f));
        assert!(!fresh_flags[26]);
    }

    // contract: ASRUN-004
    #[test]
    fn at_shutdown_an_absent_database_is_waited_for_only_within_the_bound() {
        let (rx, mut clock) = (closed_queue(3), fake_clock());
        let mut attempts = 0;
        let written = write_all(
            &rx,
            |_, _| {
                attempts += 1;
                Err(StoreError::backend("connection refused"))
            },
            &mut clock,
        );
        assert_eq!(written, 0);
        assert_eq!(clock.now, SHUTDOWN_BOUND, "{:?}", clock.slept);
        // At 0, 0.25, 0.75, 1.75, 3.75, 7.75 and 8 s.
        assert_eq!(attempts, 7);
    }

    // contract: ASRUN-004
    #[test]
    fn at_shutdown_a_database_back_within_the_bound_gets_everything() {
        let (rx, mut clock) = (closed_queue(3), fake_clock());
        let mut attempts = 0;
        let written = write_all(
            &rx,
            |_, _| {
                attempts += 1;
                if attempts <= 4 {
                    Err(StoreError::backend("connection refused"))
                } else {
                    Ok(())
                }
            },
            &mut clock,
        );
        assert_eq!(written, 3);
        assert_eq!(clock.slept, vec![250, 500, 1_000, 2_000]);
    }

    // contract: ASRUN-004
    #[test]
    fn bad_input_is_never_retried_and_the_next_record_is_written() {
        let (rx, mut clock) = (closed_queue(2), fake_clock());
        let mut tried = Vec::new();
        let written = write_all(
            &rx,
            |e, _| {
                tried.push(e.record.playlog_id.clone());
                if tried.len() == 1 {
                    Err(StoreError::bad("constraint violated"))
                } else {
                    Ok(())
                }
            },
            &mut clock,
        );
        assert_eq!(written, 1);
        assert_eq!(tried.len(), 2, "{tried:?}");
        assert!(clock.slept.is_empty());
    }
}
