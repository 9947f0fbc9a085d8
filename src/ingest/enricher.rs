//! The ingest enricher interface: take a DiscoveredItem, return it with more metadata, or fail
//! with a reason. Enrichers never persist (contract INGEST-015).

use std::fmt;

use crate::error::AppError;

use super::discovered::DiscoveredItem;

/// Why an enricher could not enrich an item; the caller records `reason` on the asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichError {
    /// The file (or item) that could not be enriched.
    pub location: String,
    pub reason: String,
}

impl fmt::Display for EnrichError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

impl std::error::Error for EnrichError {}

impl From<EnrichError> for AppError {
    fn from(error: EnrichError) -> AppError {
        AppError::runtime(error.to_string())
    }
}

/// Something that adds metadata to a discovered item. Enrichers run on the probe workers'
/// threads (INGEST-018), so they are shareable.
pub trait IngestEnricher: Send + Sync {
    /// The enricher's name as operators see it (`enricher list`).
    fn name(&self) -> &'static str;

    /// Returns `item` enriched, or why it could not be.
    fn enrich(&self, item: DiscoveredItem) -> Result<DiscoveredItem, EnrichError>;
}
