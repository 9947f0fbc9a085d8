//! The as-run writer (ASRUN-001, MACHINE-001): one thread with its own store connection makes every as-run
//! record durable, in arrival order, and drains what is left when the senders close (shutdown).

use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use retrovue_core::model::AsRunRecord;

use crate::error::{AppError, AppResult};
use crate::store;

/// Spawn the writer; joining it returns how many records were written.
pub fn spawn_writer(db_url: String, records: Receiver<AsRunRecord>) -> AppResult<JoinHandle<u64>> {
    // Fail at start, not at the first record, when the store cannot be opened.
    let store = store::open(&db_url)?;
    drop(store);
    std::thread::Builder::new()
        .name("asrun-writer".into())
        .spawn(move || {
            let mut store = match store::open(&db_url) {
                Ok(store) => store,
                Err(e) => {
                    log::error!("as-run writer: cannot open the store: {e}");
                    return 0;
                }
            };
            let mut written = 0;
            for record in records {
                match store.record_as_run(&record) {
                    Ok(_) => written += 1,
                    Err(e) => log::error!(
                        "as-run record {} of {} not written: {e}",
                        record.playlog_id,
                        record.channel
                    ),
                }
            }
            written
        })
        .map_err(|e| AppError::runtime(format!("cannot start the as-run writer: {e}")))
}
