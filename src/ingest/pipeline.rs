//! The ingest pipeline: importer → ingest enrichers → store, for one collection at a time
//! (contracts/assets.md ASSET-001..009). Re-ingest is idempotent: unchanged files are neither
//! probed nor written, changed files update their asset, vanished files are marked deleted —
//! but never because a root is missing, unreadable or suddenly empty, or a folder unreadable
//! (INGEST-025..027); moved files keep their asset (INGEST-028) and operator edits their values
//! (INGEST-030).

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use retrovue_core::model::{Asset, AssetState};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};
use crate::store::media_check::{vanished_media_after, VanishedDay};
use crate::store::{
    AssetFilter, CatalogAsset, CollectionRecord, EnricherRecord, IngestWrite, SourceRecord, Store,
};

use super::discovered::{DiscoveredItem, Discovery, RemoteCollection, SkippedItem};
use super::enricher::IngestEnricher;
use super::ffprobe::Ffprobe;
use super::filesystem;
use super::jellyfin::{JellyfinConfig, JellyfinImporter};
use super::pathmap::PathMap;
use super::plex::{PlexConfig, PlexImporter};
use super::probe::pool::{default_jobs, map_ordered};
use super::probe::{MediaProbe, ProbeMode};

/// The reason recorded on an asset nothing could measure.
pub const NO_ENRICHER_REASON: &str =
    "duration unknown and no ingest enricher is configured (add one: retrovue enricher add ffprobe)";

/// How an ingest run behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// The run's time (UTC ms): `updated_at`, `deleted_at`, the collection's last ingest.
    pub now: i64,
    /// Compute and report everything the real run would do, write nothing (INGEST-031:
    /// enrichers run, they only read files).
    pub dry_run: bool,
    /// Probe again unchanged files an enricher failed on before.
    pub reprobe: bool,
    /// INGEST-025/026: the operator confirms that a missing, unreadable or empty root means the
    /// library is gone, so its assets may be marked deleted.
    pub allow_empty: bool,
    /// Probe workers (INGEST-018); `None`: [`default_jobs`].
    pub jobs: Option<NonZeroUsize>,
}

/// A stored asset matched to a file at a new place (INGEST-028).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MovedItem {
    pub id: String,
    /// The canonical key it had.
    pub from: String,
    /// The canonical key it has now.
    pub to: String,
}

/// Probe results are saved every this many files (INGEST-022)…
pub const PROBE_BATCH_FILES: usize = 200;
/// …or after this long, whichever comes first.
pub const PROBE_BATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What one collection's ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub collection: String,
    pub discovered: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub vanished: usize,
    /// Assets an enricher ran on (a dry run runs them too, INGEST-031).
    pub enriched: usize,
    /// Discovered items whose asset is `ready` after the run.
    pub ready: usize,
    /// Stored assets matched to a file at a new place (also counted in `updated`).
    pub moved: Vec<MovedItem>,
    /// Stored assets kept as they were because their file or folder could not be read
    /// (INGEST-027): `location` is the canonical key, `reason` what could not be read.
    pub unreadable: Vec<SkippedItem>,
    /// Files the enrichers probed in this run (INGEST-023; a dry run probes too).
    pub probed: usize,
    /// Unchanged files whose stored probe was reused instead of probing again.
    pub reused: usize,
    /// Assets left `new`, with the reason.
    pub not_ready: Vec<SkippedItem>,
    /// Files the importer could not return.
    pub skipped: Vec<SkippedItem>,
    pub dry_run: bool,
    /// A dry run's writes, not applied: what the run would store (INGEST-031).
    #[serde(skip)]
    pub unwritten: Option<IngestWrite>,
}

/// A stable asset id for a collection's canonical key: a readable slug of the key plus a short
/// hash of (collection, key), so keys differing only in case get different ids (ASSET-002).
pub fn asset_id_for(collection_id: &str, canonical_key: &str) -> String {
    let stem = canonical_key
        .rsplit_once('.')
        .map_or(canonical_key, |(s, _)| s);
    let stem = stem.rsplit('/').next().unwrap_or(stem);
    let mut slug = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let mut hasher = Sha256::new();
    hasher.update(collection_id.as_bytes());
    hasher.update([0]);
    hasher.update(canonical_key.as_bytes());
    let hash: String = hasher.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if slug.is_empty() {
        format!("asset-{hash}")
    } else {
        format!("{slug}-{hash}")
    }
}

/// STORE-054: an id derived from names, kept within 64 characters: a longer one is cut to 55 and
/// ends in 8 hex digits of its SHA-256, so distinct long names stay distinct.
pub fn bounded_id(id: String) -> String {
    let max = retrovue_core::validate::MAX_ID_LEN;
    if id.len() <= max {
        return id;
    }
    let hash: String = Sha256::digest(id.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{hash}", id[..max - 9].trim_end_matches('-'))
}

/// A lowercase slug of free text (`My TV` → `my-tv`), for ids derived from names.
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

fn path_map(rules: &[String]) -> AppResult<PathMap> {
    let mappings = rules
        .iter()
        .map(|r| PathMap::parse_rule(r))
        .collect::<AppResult<Vec<_>>>()?;
    PathMap::new(mappings)
}

fn remote_config(source: &SourceRecord, extra: &[String]) -> AppResult<(String, String, PathMap)> {
    let url = source
        .config
        .url
        .clone()
        .ok_or_else(|| AppError::bad(format!("source {:?} has no --url", source.id)))?;
    let token = source.config.token.clone().unwrap_or_default();
    let mut rules = source.config.path_map.clone();
    rules.extend(extra.iter().cloned());
    Ok((url, token, path_map(&rules)?))
}

/// The collections a source offers: one per filesystem root, or the server's library sections.
pub fn discover_source(source: &SourceRecord) -> AppResult<Vec<CollectionRecord>> {
    // One folder: the collection is the source, and takes its id.
    let single = source.kind == "filesystem" && source.config.paths.len() == 1;
    let record = |key: String, name: String, kind: String, locations: Vec<String>| {
        CollectionRecord {
            id: if single {
                source.id.clone()
            } else {
                bounded_id(
                    format!("{}-{}", source.id, slugify(&name))
                        .trim_end_matches('-')
                        .to_string(),
                )
            },
            source_id: source.id.clone(),
            external_key: key,
            name,
            kind,
            locations,
            path_map: Vec::new(),
            // A folder was named by the operator; a server's sections are opted into.
            ingest_enabled: source.kind == "filesystem",
            last_ingest_ms: None,
        }
    };
    match source.kind.as_str() {
        "filesystem" => source
            .config
            .paths
            .iter()
            .map(|path| {
                let absolute = std::path::absolute(path)
                    .map_err(|e| AppError::bad(format!("source path {path}: {e}")))?;
                if !absolute.is_dir() {
                    return Err(AppError::bad(format!(
                        "source {:?}: filesystem root {} does not exist or is not a directory",
                        source.id,
                        absolute.display()
                    )));
                }
                let name = absolute
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| "root".into());
                let key = absolute.display().to_string();
                Ok(record(key.clone(), name, "folder".into(), vec![key]))
            })
            .collect(),
        "plex" => {
            let (url, token, map) = remote_config(source, &[])?;
            let importer = PlexImporter::new(PlexConfig::new(&url, &token, map))?;
            Ok(importer
                .collections()?
                .into_iter()
                .map(|c| record(c.key, c.title, c.kind, c.locations))
                .collect())
        }
        "jellyfin" => {
            let (url, token, map) = remote_config(source, &[])?;
            let importer = JellyfinImporter::new(JellyfinConfig::new(&url, &token, map))?;
            Ok(importer
                .collections()?
                .into_iter()
                .map(|c| record(c.key, c.title, c.kind, c.locations))
                .collect())
        }
        other => Err(AppError::bad(format!("unknown source kind {other:?}"))),
    }
}

/// Runs the collection's importer.
pub fn discover_collection(
    source: &SourceRecord,
    collection: &CollectionRecord,
) -> AppResult<Discovery> {
    let remote = || RemoteCollection {
        key: collection.external_key.clone(),
        title: collection.name.clone(),
        kind: collection.kind.clone(),
        locations: collection.locations.clone(),
    };
    match source.kind.as_str() {
        "filesystem" => filesystem::discover(&[PathBuf::from(&collection.external_key)]),
        "plex" => {
            let (url, token, map) = remote_config(source, &collection.path_map)?;
            PlexImporter::new(PlexConfig::new(&url, &token, map))?.discover(&remote())
        }
        "jellyfin" => {
            let (url, token, map) = remote_config(source, &collection.path_map)?;
            JellyfinImporter::new(JellyfinConfig::new(&url, &token, map))?.discover(&remote())
        }
        other => Err(AppError::bad(format!("unknown source kind {other:?}"))),
    }
}

/// The configured enrichers, ready to run: `ffprobe` reads containers in process where it can
/// (INGEST-019..021) unless `RETROVUE_PROBE=ffprobe`, which is bad input if it says otherwise.
pub fn build_enrichers(records: &[EnricherRecord]) -> AppResult<Vec<Box<dyn IngestEnricher>>> {
    let mode = ProbeMode::from_env().map_err(AppError::bad)?;
    Ok(records
        .iter()
        .filter(|r| r.kind == "ffprobe")
        .map(|r| {
            Box::new(MediaProbe {
                ffprobe: Ffprobe::with_timeout(Duration::from_millis(r.timeout_ms.max(1) as u64)),
                mode,
            }) as Box<dyn IngestEnricher>
        })
        .collect())
}

/// The asset row for a discovered item. `enriched`: `Ok(Some(item))` when the item's duration
/// is known, `Err(reason)` when nothing could measure it.
fn asset_row(
    collection: &CollectionRecord,
    id: &str,
    item: &DiscoveredItem,
    outcome: Result<(), String>,
    stored: Option<&CatalogAsset>,
    now: i64,
) -> CatalogAsset {
    let duration_ms = item.duration_ms.unwrap_or(0);
    let (state, state_reason) = match outcome {
        Ok(()) if duration_ms == 0 => (AssetState::New, Some("duration is 0".to_string())),
        // SCHED-008: a negative or longer-than-7-days duration flags the item, never airs it.
        Ok(()) => match retrovue_core::validate::check_duration(duration_ms) {
            Ok(_) => (AssetState::Ready, None),
            Err(reason) => (AssetState::New, Some(format!("{}: {reason}", item.uri))),
        },
        Err(reason) => (AssetState::New, Some(reason)),
    };
    let editorial = &item.editorial;
    let mut row = CatalogAsset {
        asset: Asset {
            id: id.to_string(),
            kind: editorial.kind,
            title: editorial.title.clone(),
            series: editorial.series.clone(),
            season: editorial.season,
            episode: editorial.episode,
            description: editorial.description.clone(),
            rating: editorial.rating.clone(),
            genres: editorial.genres.clone(),
            year: editorial.year,
            duration_ms,
            chapters_ms: item.chapters_ms.clone(),
            path: item.local_path.as_ref().map(|p| p.display().to_string()),
            state,
            approved: false,
            deleted: false,
        },
        collection_id: Some(collection.id.clone()),
        canonical_key: Some(item.canonical_key.clone()),
        uri: Some(item.uri.clone()),
        size_bytes: item.size_bytes.map(|s| s as i64),
        mtime_ms: item.mtime_ms,
        provider: Some(item.provider.as_str().to_string()),
        external_id: Some(item.external_id.clone()),
        state_reason,
        probe_json: item
            .probe
            .as_ref()
            .map(|p| serde_json::to_string(p).expect("plain data")),
        deleted_at_ms: None,
        updated_at_ms: Some(now),
        edited_fields: Vec::new(),
    };
    if let Some(stored) = stored {
        keep_edits(&mut row, stored);
        // ASSET-004: approval survives a re-ingest unless the media itself changed.
        // An asset adopted from the catalog (STORE-042) has no file identity to compare.
        let identity_known = stored.size_bytes.is_some() || stored.mtime_ms.is_some();
        let media_changed = (identity_known
            && (stored.size_bytes != row.size_bytes || stored.mtime_ms != row.mtime_ms))
            || stored.asset.duration_ms != row.asset.duration_ms;
        row.asset.approved = stored.asset.approved && !media_changed;
        // The operator's retirement outlives any re-ingest.
        if stored.asset.state == AssetState::Retired {
            row.asset.state = AssetState::Retired;
        }
    }
    row
}

/// INGEST-030: the fields the operator edited keep the operator's values, whatever the name,
/// sidecar, probe or provider says; edited chapters outside new media's duration are dropped.
fn keep_edits(row: &mut CatalogAsset, stored: &CatalogAsset) {
    row.edited_fields = stored.edited_fields.clone();
    let (to, from) = (&mut row.asset, &stored.asset);
    for field in &stored.edited_fields {
        match field.as_str() {
            "kind" => to.kind = from.kind,
            "title" => to.title = from.title.clone(),
            "series" => to.series = from.series.clone(),
            "season" => to.season = from.season,
            "episode" => to.episode = from.episode,
            "description" => to.description = from.description.clone(),
            "rating" => to.rating = from.rating.clone(),
            "genres" => to.genres = from.genres.clone(),
            "year" => to.year = from.year,
            "chapters_ms" => {
                let duration = to.duration_ms;
                to.chapters_ms = from
                    .chapters_ms
                    .iter()
                    .copied()
                    .filter(|&c| c > 0 && c < duration)
                    .collect();
            }
            _ => {}
        }
    }
}

/// The words of a file name's stem, lower case: what "a similar name" compares (INGEST-028).
fn name_words(key: &str) -> BTreeSet<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    stem.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How alike two file names are, in per mille: 1000 for the same file name, else the shared
/// words of the stems over all their words.
fn name_similarity(a: &str, b: &str) -> u32 {
    let file = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
    if file(a) == file(b) {
        return 1000;
    }
    let (wa, wb) = (name_words(a), name_words(b));
    let union = wa.union(&wb).count();
    if union == 0 {
        return 0;
    }
    (wa.intersection(&wb).count() * 1000 / union) as u32
}

/// Whether a new file is the same media as a stored asset whose file vanished: same provider,
/// same size (not 0: an empty file is no evidence), and the same duration — known without probing (a sidecar, the provider) or, when
/// not, vouched for by the same mtime (a move keeps it, and the stored probe then stands).
fn same_media(item: &DiscoveredItem, asset: &CatalogAsset) -> bool {
    let size = item.size_bytes.map(|s| s as i64);
    let duration_same = match item.duration_ms {
        // INGEST-032: a probed duration may differ by a prober's rounding.
        Some(ms) if ms > 0 && item.probe.is_some() => {
            (ms - asset.asset.duration_ms).abs() <= PROBE_TOLERANCE_MS
        }
        Some(ms) if ms > 0 => ms == asset.asset.duration_ms,
        _ => item.mtime_ms.is_some() && item.mtime_ms == asset.mtime_ms,
    };
    asset.provider.as_deref() == Some(item.provider.as_str())
        && size.is_some_and(|s| s > 0)
        && size == asset.size_bytes
        && duration_same
}

/// How far two probes of the same media may differ in duration (INGEST-032).
const PROBE_TOLERANCE_MS: i64 = 50;

/// INGEST-032: probes, before matching, each new file that could be a vanished asset's media by
/// size but that neither a known duration nor an unchanged mtime vouches for (a copy). Returns
/// how many were probed; a failed probe leaves the item as it was.
fn probe_copy_candidates(
    discovery: &mut Discovery,
    stored: &BTreeMap<String, CatalogAsset>,
    enrichers: &[Box<dyn IngestEnricher>],
) -> usize {
    if enrichers.is_empty() {
        return 0;
    }
    let present: BTreeSet<String> = discovery
        .items
        .iter()
        .map(|i| i.canonical_key.clone())
        .collect();
    // Vanished assets by size: their mtimes.
    let mut gone: BTreeMap<i64, Vec<Option<i64>>> = BTreeMap::new();
    for (key, asset) in stored {
        if present.contains(key) || asset.asset.deleted {
            continue;
        }
        if let Some(size) = asset.size_bytes.filter(|s| *s > 0) {
            gone.entry(size).or_default().push(asset.mtime_ms);
        }
    }
    if gone.is_empty() {
        return 0;
    }
    let mut probed = 0;
    for item in &mut discovery.items {
        if stored.contains_key(&item.canonical_key) || !item.needs_probe() {
            continue;
        }
        if item.duration_ms.is_some_and(|ms| ms > 0) {
            continue;
        }
        let Some(mtimes) = item.size_bytes.and_then(|s| gone.get(&(s as i64))) else {
            continue;
        };
        if item.mtime_ms.is_some() && mtimes.contains(&item.mtime_ms) {
            continue;
        }
        probed += 1;
        let (enriched, outcome) = enrich(item.clone(), enrichers);
        if outcome.is_ok() {
            *item = enriched;
        }
    }
    probed
}

/// INGEST-028: matches each discovered item the collection has no asset for with a stored
/// asset whose file vanished in this run and that holds the same media, and re-keys that
/// asset under the item's key so the run updates it in place (same id, approval, edits).
/// Among several candidates the most similar name wins; a tie is no match. Names sharing no
/// word are matched only when each is the other's only candidate.
fn match_moves(
    discovery: &Discovery,
    stored: &mut BTreeMap<String, CatalogAsset>,
) -> Vec<MovedItem> {
    let present: BTreeSet<&str> = discovery
        .items
        .iter()
        .map(|i| i.canonical_key.as_str())
        .collect();
    let fresh: Vec<&DiscoveredItem> = discovery
        .items
        .iter()
        .filter(|i| !stored.contains_key(&i.canonical_key))
        .collect();
    if fresh.is_empty() {
        return Vec::new();
    }
    let gone: Vec<&str> = stored
        .iter()
        .filter(|(k, a)| !present.contains(k.as_str()) && !a.asset.deleted)
        .map(|(k, _)| k.as_str())
        .collect();
    if gone.is_empty() {
        return Vec::new();
    }
    // Candidates per fresh item, and how many fresh items want each vanished asset.
    let candidates: Vec<Vec<&str>> = fresh
        .iter()
        .map(|item| {
            gone.iter()
                .copied()
                .filter(|k| same_media(item, &stored[*k]))
                .collect()
        })
        .collect();
    let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
    for list in &candidates {
        for k in list {
            *wanted.entry(*k).or_default() += 1;
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    for (item, list) in fresh.iter().zip(&candidates) {
        let mut scored: Vec<(u32, &str)> = list
            .iter()
            .filter(|k| !taken.contains(*k))
            .map(|k| (name_similarity(k, &item.canonical_key), *k))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let Some(&(score, key)) = scored.first() else {
            continue;
        };
        if scored.get(1).is_some_and(|second| second.0 == score) {
            continue;
        }
        let sole = list.len() == 1 && wanted[key] == 1;
        if score > 0 || sole {
            taken.insert(key);
            pairs.push((key.to_string(), item.canonical_key.clone()));
        }
    }
    let mtimes: BTreeMap<&str, Option<i64>> = fresh
        .iter()
        .map(|i| (i.canonical_key.as_str(), i.mtime_ms))
        .collect();
    let mut moved = Vec::new();
    for (from, to) in pairs {
        let mut asset = stored.remove(&from).expect("a vanished key is stored");
        // The same media at a new place: its new mtime is no media change (ASSET-004).
        asset.mtime_ms = mtimes[to.as_str()];
        moved.push(MovedItem {
            id: asset.asset.id.clone(),
            from,
            to: to.clone(),
        });
        stored.insert(to, asset);
    }
    moved
}

/// INGEST-027: why a stored asset must be kept although it was not discovered — its file, or a
/// folder above it, is among what the importer could not read — or `None`.
fn unreadable_reason(asset: &CatalogAsset, skipped: &[SkippedItem]) -> Option<String> {
    let path = asset.asset.path.as_deref()?;
    skipped
        .iter()
        .find(|s| under(path, &s.location))
        .map(|s| format!("{}: {}", s.location, s.reason))
}

/// Whether `path` is `location` or lies under it (a skipped file or folder).
fn under(path: &str, location: &str) -> bool {
    path == location
        || path
            .strip_prefix(location)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether two rows differ in anything but their update time.
fn same_row(a: &CatalogAsset, b: &CatalogAsset) -> bool {
    let mut a = a.clone();
    a.updated_at_ms = b.updated_at_ms;
    a == *b
}

/// What the stored row already knows about an unchanged file: the probe, so it is not rerun.
fn reuse_probe(item: &mut DiscoveredItem, stored: &CatalogAsset) -> bool {
    let same_file = stored.size_bytes == item.size_bytes.map(|s| s as i64)
        && stored.mtime_ms == item.mtime_ms
        && stored.asset.duration_ms > 0
        && matches!(stored.asset.state, AssetState::Ready | AssetState::Retired);
    let Some(probe) = stored
        .probe_json
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
    else {
        return false;
    };
    if !same_file {
        return false;
    }
    if !item.is_pinned("duration_ms") {
        item.duration_ms = Some(stored.asset.duration_ms);
    }
    if !item.is_pinned("chapters_ms") {
        item.chapters_ms = stored.asset.chapters_ms.clone();
    }
    item.probe = Some(probe);
    true
}

/// The reason an enricher gave for this very file (same size and mtime), if it failed on it.
fn failed_reason(item: &DiscoveredItem, stored: &CatalogAsset) -> Option<String> {
    let same_file =
        stored.size_bytes == item.size_bytes.map(|s| s as i64) && stored.mtime_ms == item.mtime_ms;
    let reason = stored.state_reason.as_ref()?;
    (same_file && stored.asset.state == AssetState::New && reason != NO_ENRICHER_REASON)
        .then(|| reason.clone())
}

/// STORE-042: a discovered item the collection does not hold yet may already be in the
/// catalog without a collection — imported from a lineup export or restored — under the id
/// the ingest would give it, or with its local path. That asset is adopted (updated, its id
/// kept) instead of a second one being inserted.
fn adopt_catalog_assets(
    store: &mut dyn Store,
    collection: &CollectionRecord,
    discovery: &Discovery,
    stored: &mut BTreeMap<String, CatalogAsset>,
) -> AppResult<()> {
    if discovery
        .items
        .iter()
        .all(|i| stored.contains_key(&i.canonical_key))
    {
        return Ok(());
    }
    let loose: Vec<CatalogAsset> = store
        .catalog_assets(&AssetFilter {
            include_deleted: true,
            ..AssetFilter::default()
        })?
        .into_iter()
        .filter(|a| a.collection_id.is_none())
        .collect();
    if loose.is_empty() {
        return Ok(());
    }
    let by_id: BTreeMap<&str, &CatalogAsset> =
        loose.iter().map(|a| (a.asset.id.as_str(), a)).collect();
    let by_path: BTreeMap<&str, &CatalogAsset> = loose
        .iter()
        .filter_map(|a| a.asset.path.as_deref().map(|p| (p, a)))
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for item in &discovery.items {
        if stored.contains_key(&item.canonical_key) {
            continue;
        }
        let id = asset_id_for(&collection.id, &item.canonical_key);
        let path = item.local_path.as_ref().map(|p| p.display().to_string());
        let found = by_id
            .get(id.as_str())
            .or_else(|| path.as_deref().and_then(|p| by_path.get(p)));
        if let Some(asset) = found {
            if taken.insert(asset.asset.id.clone()) {
                stored.insert(item.canonical_key.clone(), (*asset).clone());
            }
        }
    }
    Ok(())
}

/// Ingests one collection: discover, enrich what is new or changed, write (ASSET-003).
/// `progress(done, total)` is called as items are processed.
pub fn ingest_collection(
    store: &mut dyn Store,
    source: &SourceRecord,
    collection: &CollectionRecord,
    enrichers: &[Box<dyn IngestEnricher>],
    options: IngestOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> AppResult<IngestReport> {
    // INGEST-025: a root that cannot be walked is not a library whose files all vanished.
    let problem = match source.kind.as_str() {
        "filesystem" => filesystem::root_problem(std::path::Path::new(&collection.external_key)),
        _ => None,
    };
    let discovery = match problem {
        Some(problem) if !options.allow_empty => {
            return Err(AppError::runtime(format!(
                "collection {}: root {} is {problem}; nothing changed (if the library is gone \
                 for good, run again with --allow-empty to mark its assets deleted)",
                collection.id, collection.external_key
            )))
        }
        Some(_) => Discovery::default(),
        None => discover_collection(source, collection)?,
    };
    ingest_discovery(store, collection, discovery, enrichers, options, progress)
}

/// What a collection's root is called in messages: its folder, or the provider's locations.
fn root_name(collection: &CollectionRecord) -> String {
    if collection.locations.is_empty() {
        collection.external_key.clone()
    } else {
        collection.locations.join(", ")
    }
}

/// The persisting half of [`ingest_collection`], for a discovery already made.
pub fn ingest_discovery(
    store: &mut dyn Store,
    collection: &CollectionRecord,
    mut discovery: Discovery,
    enrichers: &[Box<dyn IngestEnricher>],
    options: IngestOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> AppResult<IngestReport> {
    let IngestOptions {
        now,
        dry_run,
        reprobe,
        allow_empty,
        jobs,
    } = options;
    let mut stored: BTreeMap<String, CatalogAsset> = store
        .catalog_assets(&AssetFilter {
            collection: Some(collection.id.clone()),
            include_deleted: true,
            ..AssetFilter::default()
        })?
        .into_iter()
        .filter_map(|a| a.canonical_key.clone().map(|k| (k, a)))
        .collect();
    adopt_catalog_assets(store, collection, &discovery, &mut stored)?;
    // INGEST-026: nothing discovered while assets are stored is an unmounted or emptied
    // library until the operator says otherwise.
    if discovery.items.is_empty() && !allow_empty {
        let live = stored
            .values()
            .filter(|a| !a.asset.deleted && unreadable_reason(a, &discovery.skipped).is_none())
            .count();
        if live > 0 {
            return Err(AppError::runtime(format!(
                "collection {}: root {} is empty while {live} assets are stored; nothing \
                 changed (if the library really is empty, run again with --allow-empty to mark \
                 them deleted)",
                collection.id,
                root_name(collection)
            )));
        }
    }
    let copies_probed = probe_copy_candidates(&mut discovery, &stored, enrichers);
    let moved = match_moves(&discovery, &mut stored);
    let mut report = IngestReport {
        collection: collection.id.clone(),
        discovered: discovery.items.len(),
        skipped: discovery.skipped.clone(),
        moved,
        enriched: copies_probed,
        probed: copies_probed,
        dry_run,
        ..IngestReport::default()
    };
    let total = discovery.items.len();
    let mut write = IngestWrite {
        collection_id: collection.id.clone(),
        now,
        ..IngestWrite::default()
    };
    let mut pending: Vec<(String, DiscoveredItem)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (done, mut item) in discovery.items.into_iter().enumerate() {
        if done % 256 == 0 {
            progress(done, total);
        }
        seen.insert(item.canonical_key.clone());
        let previous = stored.get(&item.canonical_key);
        let id = previous.map_or_else(
            || asset_id_for(&collection.id, &item.canonical_key),
            |p| p.asset.id.clone(),
        );
        let needs_probe = item.needs_probe();
        let reused = needs_probe && previous.is_some_and(|p| reuse_probe(&mut item, p));
        report.reused += usize::from(reused);
        if needs_probe && !reused {
            // ASSET-005: a file an enricher already failed on is not probed again while it
            // stays the same file (unless asked to).
            let failed_before = previous.and_then(|p| failed_reason(&item, p));
            match failed_before {
                Some(reason) if !reprobe => {
                    let row = asset_row(collection, &id, &item, Err(reason), previous, now);
                    report.not_ready.push(SkippedItem {
                        location: item.canonical_key.clone(),
                        reason: row.state_reason.clone().unwrap_or_default(),
                    });
                    place(&mut write, &mut report, row, previous);
                }
                _ => pending.push((id, item)),
            }
            continue;
        }
        let row = asset_row(collection, &id, &item, Ok(()), previous, now);
        place(&mut write, &mut report, row, previous);
    }
    // Items that need an enricher are recorded as `enriching` first (ASSET-005), so a crash
    // mid-probe leaves them visibly unfinished and the next run probes them again.
    let two_phase = !pending.is_empty() && !enrichers.is_empty() && !dry_run;
    if two_phase {
        let mut first = IngestWrite {
            collection_id: collection.id.clone(),
            now,
            ..IngestWrite::default()
        };
        for (id, item) in &pending {
            let previous = stored.get(&item.canonical_key);
            let mut row = asset_row(collection, id, item, Ok(()), previous, now);
            if row.asset.state != AssetState::Retired {
                row.asset.state = AssetState::Enriching;
            }
            row.state_reason = None;
            match previous {
                Some(_) => first.updates.push(row),
                None => first.inserts.push(row),
            }
        }
        store.apply_ingest(&first)?;
    }
    let pending_total = pending.len();
    if !pending.is_empty() && !enrichers.is_empty() {
        // INGEST-018, INGEST-022: probed on the worker pool, results taken in discovery order;
        // a real run saves them in batches (one transaction each) as they come. INGEST-031: a
        // dry run probes too (enrichers only read), so it reports what the real run will do.
        let mut batch = IngestWrite {
            collection_id: collection.id.clone(),
            now,
            ..IngestWrite::default()
        };
        let mut last_flush = Instant::now();
        let mut flush = |batch: &mut IngestWrite, last_flush: &mut Instant| -> AppResult<()> {
            if !batch.updates.is_empty() {
                store.apply_ingest(batch)?;
                batch.updates.clear();
            }
            *last_flush = Instant::now();
            Ok(())
        };
        let stored = &stored;
        let keys: Vec<(String, String)> = pending
            .iter()
            .map(|(id, item)| (id.clone(), item.canonical_key.clone()))
            .collect();
        map_ordered(
            pending.into_iter().map(|(_, item)| item).collect(),
            jobs.unwrap_or_else(default_jobs),
            PROBE_BATCH_INTERVAL,
            |item| enrich(item, enrichers),
            |delivered| -> AppResult<()> {
                let Some((n, (item, outcome))) = delivered else {
                    if two_phase && last_flush.elapsed() >= PROBE_BATCH_INTERVAL {
                        flush(&mut batch, &mut last_flush)?;
                    }
                    return Ok(());
                };
                if n % 16 == 0 {
                    progress(total - pending_total + n, total);
                }
                let (id, key) = &keys[n];
                let previous = stored.get(key);
                report.enriched += 1;
                report.probed += 1;
                let row = asset_row(collection, id, &item, outcome, previous, now);
                if row.asset.state == AssetState::New {
                    report.not_ready.push(SkippedItem {
                        location: item.canonical_key.clone(),
                        reason: row.state_reason.clone().unwrap_or_default(),
                    });
                }
                if !two_phase {
                    place(&mut write, &mut report, row, previous);
                    return Ok(());
                }
                // The row is stored (as `enriching`) already: settle it whatever it became.
                if row.asset.state == AssetState::Ready {
                    report.ready += 1;
                }
                match previous {
                    None => report.inserted += 1,
                    Some(p) if same_row(&row, p) => report.unchanged += 1,
                    Some(_) => report.updated += 1,
                }
                batch.updates.push(row);
                if batch.updates.len() >= PROBE_BATCH_FILES
                    || last_flush.elapsed() >= PROBE_BATCH_INTERVAL
                {
                    flush(&mut batch, &mut last_flush)?;
                }
                Ok(())
            },
        )?;
        if two_phase {
            flush(&mut batch, &mut last_flush)?;
        }
    } else {
        for (n, (id, item)) in pending.into_iter().enumerate() {
            if n % 16 == 0 {
                progress(total - pending_total + n, total);
            }
            let previous = stored.get(&item.canonical_key);
            report.enriched += 1;
            // No enricher: `enrich` only says why the item cannot become ready by itself.
            let (item, outcome) = enrich(item, enrichers);
            let row = asset_row(collection, &id, &item, outcome, previous, now);
            if row.asset.state == AssetState::New {
                report.not_ready.push(SkippedItem {
                    location: item.canonical_key.clone(),
                    reason: row.state_reason.clone().unwrap_or_default(),
                });
            }
            place(&mut write, &mut report, row, previous);
        }
    }
    // A file the importer skipped (e.g. a broken sidecar), or one under a folder it could not
    // read, may well still exist: it has not vanished (ASSET-007, INGEST-027).
    for (key, asset) in &stored {
        if seen.contains(key) || asset.asset.deleted {
            continue;
        }
        match unreadable_reason(asset, &report.skipped) {
            Some(reason) => report.unreadable.push(SkippedItem {
                location: key.clone(),
                reason,
            }),
            None => write.vanished.push(asset.asset.id.clone()),
        }
    }
    report.vanished = write.vanished.len();
    progress(total, total);
    if dry_run {
        report.unwritten = Some(write);
    } else {
        store.apply_ingest(&write)?;
    }
    Ok(report)
}

/// INGEST-017: after an ingest, the stored unaired days of every channel whose playlog names
/// media that is now deleted, retired, missing or unreadable (INGEST-016), checked at `now`.
/// A dry run's reports carry what the run would write; the days are judged as after it
/// (INGEST-031).
pub fn vanished_after_ingest(
    store: &mut dyn Store,
    now: i64,
    reports: &[IngestReport],
) -> AppResult<Vec<VanishedDay>> {
    let pending: Vec<&IngestWrite> = reports
        .iter()
        .filter_map(|r| r.unwritten.as_ref())
        .collect();
    Ok(vanished_media_after(store, None, now, &pending)?)
}

/// The warning line for one such day, naming the channel, the date, the assets and the fix.
pub fn vanished_warning(day: &VanishedDay) -> String {
    format!(
        "warning: channel {} {}: {} playlog events name vanished media: {}; rebuild it: retrovue schedule build --channel {} --from {}",
        day.channel,
        day.date,
        day.events(),
        day.describe_assets(),
        day.channel,
        day.date
    )
}

fn place(
    write: &mut IngestWrite,
    report: &mut IngestReport,
    mut row: CatalogAsset,
    previous: Option<&CatalogAsset>,
) {
    if row.asset.state == AssetState::Ready {
        report.ready += 1;
    }
    match previous {
        None => {
            report.inserted += 1;
            write.inserts.push(row);
        }
        Some(p) => {
            // Compare with the update time taken out (no clone: this runs for every file).
            let stamp = std::mem::replace(&mut row.updated_at_ms, p.updated_at_ms);
            if row == *p {
                report.unchanged += 1;
            } else {
                row.updated_at_ms = stamp;
                report.updated += 1;
                write.updates.push(row);
            }
        }
    }
}

/// Runs every enricher in order; the first failure leaves the item unmeasured with its reason.
fn enrich(
    mut item: DiscoveredItem,
    enrichers: &[Box<dyn IngestEnricher>],
) -> (DiscoveredItem, Result<(), String>) {
    if enrichers.is_empty() {
        // A provider (Plex, Jellyfin) may know the duration already; only nothing is a failure.
        return match item.duration_ms {
            Some(ms) if ms > 0 => (item, Ok(())),
            _ => (item, Err(NO_ENRICHER_REASON.to_string())),
        };
    }
    for enricher in enrichers {
        match enricher.enrich(item.clone()) {
            Ok(enriched) => item = enriched,
            Err(error) => {
                return (
                    item,
                    Err(format!("{}: {}", enricher.name(), one_line(&error.reason))),
                )
            }
        }
    }
    (item, Ok(()))
}

/// The last non-empty line of a tool's message: the one that says what went wrong, without
/// per-run noise (addresses, packet sizes) that would make every run's reason differ.
fn one_line(reason: &str) -> String {
    reason
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(reason)
        .to_string()
}

/// Draws `ingest NAME  done/total` on stderr, overwriting the line (for terminals only).
pub fn draw_progress(label: &str, done: usize, total: usize) {
    use std::io::Write;
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\r{label} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}
