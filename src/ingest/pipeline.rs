//! The ingest pipeline: importer → ingest enrichers → store, for one collection at a time
//! (contracts/assets.md ASSET-001..009). Re-ingest is idempotent: unchanged files are neither
//! probed nor written, changed files update their asset, vanished files are marked deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use retrovue_core::model::{Asset, AssetState};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};
use crate::store::media_check::{vanished_media, VanishedDay};
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
    /// Compute and report everything, write nothing, run no enricher.
    pub dry_run: bool,
    /// Probe again unchanged files an enricher failed on before.
    pub reprobe: bool,
    /// Probe workers (INGEST-018); `None`: [`default_jobs`].
    pub jobs: Option<NonZeroUsize>,
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
    /// Assets an enricher ran on (in a dry run: would run on).
    pub enriched: usize,
    /// Files the enrichers probed in this run (INGEST-023; 0 in a dry run).
    pub probed: usize,
    /// Unchanged files whose stored probe was reused instead of probing again.
    pub reused: usize,
    /// Assets left `new`, with the reason.
    pub not_ready: Vec<SkippedItem>,
    /// Files the importer could not return.
    pub skipped: Vec<SkippedItem>,
    pub dry_run: bool,
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
                format!("{}-{}", source.id, slugify(&name))
                    .trim_end_matches('-')
                    .to_string()
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
    };
    if let Some(stored) = stored {
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
    let discovery = discover_collection(source, collection)?;
    ingest_discovery(store, collection, discovery, enrichers, options, progress)
}

/// The persisting half of [`ingest_collection`], for a discovery already made.
pub fn ingest_discovery(
    store: &mut dyn Store,
    collection: &CollectionRecord,
    discovery: Discovery,
    enrichers: &[Box<dyn IngestEnricher>],
    options: IngestOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> AppResult<IngestReport> {
    let IngestOptions {
        now,
        dry_run,
        reprobe,
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
    let mut report = IngestReport {
        collection: collection.id.clone(),
        discovered: discovery.items.len(),
        skipped: discovery.skipped.clone(),
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
    if two_phase {
        // INGEST-018, INGEST-022: probed on the worker pool, results taken in discovery order
        // and saved in batches (one transaction each) as they come.
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
                    if last_flush.elapsed() >= PROBE_BATCH_INTERVAL {
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
                // The row is stored (as `enriching`) already: settle it whatever it became.
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
        flush(&mut batch, &mut last_flush)?;
    } else {
        for (n, (id, item)) in pending.into_iter().enumerate() {
            if n % 16 == 0 {
                progress(total - pending_total + n, total);
            }
            let previous = stored.get(&item.canonical_key);
            report.enriched += 1;
            let (item, outcome) = if dry_run {
                (item, Ok(()))
            } else {
                report.probed += usize::from(!enrichers.is_empty());
                enrich(item, enrichers)
            };
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
    // A file the importer skipped (e.g. a broken sidecar) still exists: it has not vanished.
    let skipped_paths: BTreeSet<&str> =
        report.skipped.iter().map(|s| s.location.as_str()).collect();
    for (key, asset) in &stored {
        let skipped = asset
            .asset
            .path
            .as_deref()
            .is_some_and(|p| skipped_paths.contains(p));
        if !seen.contains(key) && !asset.asset.deleted && !skipped {
            write.vanished.push(asset.asset.id.clone());
        }
    }
    report.vanished = write.vanished.len();
    progress(total, total);
    if !dry_run {
        store.apply_ingest(&write)?;
    }
    Ok(report)
}

/// INGEST-017: after an ingest, the stored unaired days of every channel whose playlog names
/// media that is now deleted, retired, missing or unreadable (INGEST-016), checked at `now`.
pub fn vanished_after_ingest(store: &mut dyn Store, now: i64) -> AppResult<Vec<VanishedDay>> {
    Ok(vanished_media(store, None, now)?)
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
