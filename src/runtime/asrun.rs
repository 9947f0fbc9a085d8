//! The as-run writer (ASRUN-001..004, MACHINE-001): one thread with its own store connection makes
//! every as-run record durable, in arrival order, each under the key of the engine session that
//! aired it, retrying a failed write (bounded), and drains what is left when the senders close.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use retrovue_core::model::AsRunRecord;

use crate::error::{AppError, AppResult};
use crate::store::{self, StoreError, StoreErrorKind};

/// One record to make durable, with its session key (ASRUN-003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session: String,
    pub record: AsRunRecord,
}

/// The waits before each retry of a failed write (ASRUN-004): at most 6 attempts, 7.75 s.
pub const RETRY_WAITS_MS: [u64; 5] = [250, 500, 1_000, 2_000, 4_000];

/// `<host>-<pid>-<start ms>`: this daemon's part of every session key (ASRUN-003).
pub fn session_prefix(started_ms: i64) -> String {
    let host = super::cluster::host_name();
    format!("{host}-{}-{started_ms}", std::process::id())
}

/// Write with `write`, retrying database failures after [`RETRY_WAITS_MS`]; bad input is never
/// retried. `sleep` waits (injected so the schedule is testable without waiting).
pub fn write_with_retry<T>(
    mut write: impl FnMut(u32) -> Result<T, StoreError>,
    mut sleep: impl FnMut(Duration),
) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        match write(attempt) {
            Ok(done) => return Ok(done),
            Err(e) if e.kind == StoreErrorKind::BadInput => return Err(e),
            Err(e) => match RETRY_WAITS_MS.get(attempt as usize) {
                Some(&wait) => {
                    log::warn!(
                        "as-run write failed (attempt {}), retrying in {wait} ms: {e}",
                        attempt + 1
                    );
                    sleep(Duration::from_millis(wait));
                    attempt += 1;
                }
                None => return Err(e),
            },
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
            let mut written = 0;
            for SessionRecord { session, record } in records {
                let result = write_with_retry(
                    |attempt| {
                        if attempt > 0 || store.is_none() {
                            // A fresh connection for every retry.
                            store = Some(store::connect(&db_url)?);
                        }
                        let open = store.as_mut().expect("opened above");
                        open.record_as_run(&record, &session)
                    },
                    std::thread::sleep,
                );
                match result {
                    Ok(_) => written += 1,
                    Err(e) => log::error!(
                        "as-run record {} of {} (session {session}) not written: {e}",
                        record.playlog_id,
                        record.channel
                    ),
                }
            }
            written
        })
        .map_err(|e| AppError::runtime(format!("cannot start the as-run writer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: ASRUN-004
    #[test]
    fn a_failed_write_is_retried_with_growing_waits_then_succeeds() {
        let mut waits = Vec::new();
        let result = write_with_retry(
            |attempt| {
                if attempt < 2 {
                    Err(StoreError::backend("connection lost"))
                } else {
                    Ok(attempt)
                }
            },
            |d| waits.push(d.as_millis() as u64),
        );
        assert_eq!(result, Ok(2));
        assert_eq!(waits, vec![250, 500]);
    }

    // contract: ASRUN-004
    #[test]
    fn a_write_that_keeps_failing_gives_up_within_the_bound() {
        let mut waits = Vec::new();
        let mut attempts = 0;
        let result: Result<(), _> = write_with_retry(
            |_| {
                attempts += 1;
                Err(StoreError::backend("connection refused"))
            },
            |d| waits.push(d.as_millis() as u64),
        );
        assert_eq!(result.unwrap_err().message, "connection refused");
        assert_eq!(attempts, 6);
        assert!(waits.iter().sum::<u64>() < 8_000, "{waits:?}");
    }

    // contract: ASRUN-004
    #[test]
    fn bad_input_is_never_retried() {
        let mut attempts = 0;
        let result: Result<(), _> = write_with_retry(
            |_| {
                attempts += 1;
                Err(StoreError::bad("constraint violated"))
            },
            |_| panic!("no wait for bad input"),
        );
        assert!(result.is_err());
        assert_eq!(attempts, 1);
    }
}
