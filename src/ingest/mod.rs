//! Ingest: importers (filesystem, Plex, Jellyfin) that turn external libraries into
//! `DiscoveredItem`s, and ingest enrichers (ffprobe) that add what the file itself says.
//! Nothing here persists; the store and the CLI decide what is written.

pub mod discovered;
pub mod enricher;
pub mod ffprobe;
pub mod filesystem;
pub mod http;
pub mod jellyfin;
pub mod naming;
pub mod pathmap;
pub mod pipeline;
pub mod plex;
pub mod probe;
pub mod sidecar;
pub mod testtree;

pub use discovered::{
    DiscoveredItem, Discovery, Editorial, ProbeData, Provider, RemoteCollection, SkippedItem,
};
pub use enricher::IngestEnricher;
pub use pathmap::{PathMap, PathMapping};
