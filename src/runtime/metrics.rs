//! Counters and gauges of the daemon, per channel, read by `/metrics` and `/api/channels`
//! (HTTP-007). Lock-free atomics: the fan-out and the HTTP threads update them on hot paths.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One channel's numbers.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    pub viewers: AtomicI64,
    pub engine_running: AtomicI64,
    pub engine_starts: AtomicU64,
    pub restarts: AtomicU64,
    pub crashes: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped_viewers: AtomicU64,
    /// Viewers admitted and not gone (the cap's count, DAEMON-013).
    pub admitted: AtomicI64,
    /// Tune-ins refused because the channel was full.
    pub refused_full: AtomicU64,
}

impl ChannelMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn gauge(gauge: &AtomicI64) -> i64 {
        gauge.load(Ordering::Relaxed)
    }
}

/// Every channel's numbers; the set of channels is fixed at start.
#[derive(Debug, Default)]
pub struct Metrics {
    channels: BTreeMap<String, ChannelMetrics>,
    unknown: ChannelMetrics,
    /// Snapshot invariant violations the keeper found (HORIZON-008).
    pub invariant_violations: AtomicU64,
    /// Failed builds or publishes of the keeper (HORIZON-005).
    pub keeper_failures: AtomicU64,
    /// Retries the keeper made after them.
    pub keeper_retries: AtomicI64,
}

impl Metrics {
    pub fn new<'a>(ids: impl Iterator<Item = &'a str>) -> Metrics {
        Metrics {
            channels: ids
                .map(|id| (id.to_string(), ChannelMetrics::default()))
                .collect(),
            unknown: ChannelMetrics::default(),
            invariant_violations: AtomicU64::new(0),
            keeper_failures: AtomicU64::new(0),
            keeper_retries: AtomicI64::new(0),
        }
    }

    /// The channel's metrics (a shared sink for ids that are not served, which never happens).
    pub fn channel(&self, id: &str) -> &ChannelMetrics {
        self.channels.get(id).unwrap_or(&self.unknown)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ChannelMetrics)> {
        self.channels.iter()
    }
}
