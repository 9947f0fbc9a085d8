//! `DiscoveredItem`: what an importer returns for one media file (contracts/ingest.md), never persisted.

use std::collections::BTreeSet;
use std::path::PathBuf;

use retrovue_core::model::AssetKind;
use serde::{Deserialize, Serialize};

/// Which kind of external system an item came from; the provider half of a ProviderRef.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Filesystem,
    Plex,
    Jellyfin,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Filesystem => "filesystem",
            Provider::Plex => "plex",
            Provider::Jellyfin => "jellyfin",
        }
    }

    pub fn parse(text: &str) -> Option<Provider> {
        [Provider::Filesystem, Provider::Plex, Provider::Jellyfin]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// Editorial metadata: what the item is, as a guide would describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Editorial {
    pub kind: AssetKind,
    /// For episodes the episode title; otherwise the item's title.
    pub title: String,
    pub series: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub description: Option<String>,
    pub rating: Option<String>,
    pub genres: Vec<String>,
    pub year: Option<i32>,
}

impl Editorial {
    /// A bare item of `kind` called `title`, everything else unknown.
    pub fn new(kind: AssetKind, title: &str) -> Editorial {
        Editorial {
            kind,
            title: title.to_string(),
            series: None,
            season: None,
            episode: None,
            description: None,
            rating: None,
            genres: Vec::new(),
            year: None,
        }
    }
}

/// What ffprobe (or the in-process container reader, INGEST-019) measured in the file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeData {
    pub duration_ms: i64,
    /// Chapter start times in ms, excluding 0, sorted and unique.
    pub chapters_ms: Vec<i64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The first audio stream's channel count. Absent from probes stored before it existed, and
    /// left out of the stored JSON when unknown, so those rows read back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<u32>,
}

/// Fields a sidecar can pin so that no enricher overrides them (contract INGEST-006).
pub const PINNABLE_FIELDS: [&str; 11] = [
    "kind",
    "title",
    "series",
    "season",
    "episode",
    "description",
    "rating",
    "genres",
    "year",
    "duration_ms",
    "chapters_ms",
];

/// One media file as an importer found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredItem {
    pub provider: Provider,
    /// The provider's id for the item (ProviderRef): relative path, Plex ratingKey, Jellyfin Id.
    pub external_id: String,
    /// Stable, case-preserving key, unique within the collection (contract INGEST-002).
    pub canonical_key: String,
    /// Where the item lives, as a URI (`file:///…`, or the provider's item URL).
    pub uri: String,
    /// The file's local path (after path mapping for remote providers), if known.
    pub local_path: Option<PathBuf>,
    pub size_bytes: Option<u64>,
    /// Modification time, UTC milliseconds.
    pub mtime_ms: Option<i64>,
    pub editorial: Editorial,
    /// Best known duration (sidecar › probe › provider); `None` until something measured it.
    pub duration_ms: Option<i64>,
    /// Best known chapter markers in ms (sidecar › probe › provider).
    pub chapters_ms: Vec<i64>,
    /// What ffprobe measured, once the item has been probed.
    pub probe: Option<ProbeData>,
    /// Fields the sidecar set; enrichers leave them alone.
    pub pinned: BTreeSet<String>,
}

impl DiscoveredItem {
    /// Whether the sidecar pinned `field` (one of [`PINNABLE_FIELDS`]).
    pub fn is_pinned(&self, field: &str) -> bool {
        self.pinned.contains(field)
    }

    /// Whether a probe is still needed: nothing pinned the duration and nothing probed it yet.
    pub fn needs_probe(&self) -> bool {
        !self.is_pinned("duration_ms") && self.probe.is_none()
    }
}

/// An item an importer could not return, with the reason (reported, never fatal for the run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// The file path or provider id of what was skipped.
    pub location: String,
    pub reason: String,
}

/// What one discovery run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub items: Vec<DiscoveredItem>,
    pub skipped: Vec<SkippedItem>,
}

/// A library section (Plex) or virtual folder (Jellyfin): what a Collection points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCollection {
    /// The provider's id of the section (`key` in Plex, `ItemId` in Jellyfin).
    pub key: String,
    pub title: String,
    /// The provider's type: Plex `show`/`movie`/`artist`…, Jellyfin `tvshows`/`movies`/….
    pub kind: String,
    /// Folders on the server the section reads (server paths, before mapping).
    pub locations: Vec<String>,
}

/// Sorts chapter markers, drops duplicates and anything at or before 0 (the start is no break).
pub fn normalise_chapters(mut chapters: Vec<i64>) -> Vec<i64> {
    chapters.retain(|&c| c > 0);
    chapters.sort_unstable();
    chapters.dedup();
    chapters
}
