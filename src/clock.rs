//! The daemon's clock (DAEMON-008): the system clock, or — with `serve --clock START` — a
//! clock that starts at START and runs at real speed. Keeper thresholds, join times, as-run and
//! the HTTP pages all read it; the store's "has this day begun on the real clock" does not.

use std::sync::atomic::{AtomicI64, Ordering};

use retrovue_core::model::UtcMs;

/// Milliseconds added to the system clock.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// The real system clock, UTC milliseconds.
pub fn system_ms() -> UtcMs {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_millis() as UtcMs
}

/// The daemon's now.
pub fn now_ms() -> UtcMs {
    system_ms() + OFFSET_MS.load(Ordering::Relaxed)
}

/// From now on the daemon's clock reads `start` and runs on at real speed.
pub fn start_at(start: UtcMs) {
    OFFSET_MS.store(start - system_ms(), Ordering::Relaxed);
}
