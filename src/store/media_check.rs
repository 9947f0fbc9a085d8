//! Vanished media (contracts/ingest.md INGEST-016): stored unaired ScheduleDays whose playlog
//! names assets that cannot air — their file is missing or unreadable, or the catalog deleted or
//! retired them. Built only on the `Store` trait; reads files' metadata, writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;

use chrono::{Days, NaiveDate};
use retrovue_core::model::{AssetState, UtcMs};
use serde::Serialize;

use super::catalog::{CatalogAsset, IngestWrite};
use super::{Store, StoreError, StoreResult};

/// One stored unaired day that references assets whose files are gone or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VanishedDay {
    pub channel: String,
    pub date: NaiveDate,
    pub assets: Vec<VanishedAsset>,
}

/// One asset of a [`VanishedDay`] that cannot air.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VanishedAsset {
    pub asset: String,
    pub path: String,
    /// How many of the day's playlog events name it.
    pub events: usize,
    /// `missing`, `unreadable: REASON`, `deleted` or `retired`.
    pub problem: String,
}

impl VanishedDay {
    /// How many of the day's playlog events name vanished media.
    pub fn events(&self) -> usize {
        self.assets.iter().map(|a| a.events).sum()
    }

    /// `ID (PATH: PROBLEM), …` — the assets on one line.
    pub fn describe_assets(&self) -> String {
        self.assets
            .iter()
            .map(|a| format!("{} ({}: {})", a.asset, a.path, a.problem))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What one call has learned: per asset id its path and problem (None: it can air, or it has no
/// path), per path the file check's result. Each path is checked once.
#[derive(Default)]
struct Checks {
    assets: BTreeMap<String, Option<(String, String)>>,
    files: BTreeMap<String, Option<String>>,
    /// Rows an ingest not yet written would store (a dry run, INGEST-031), by asset id.
    pending_rows: BTreeMap<String, CatalogAsset>,
    /// Assets that ingest would mark deleted.
    pending_deleted: BTreeSet<String>,
}

impl Checks {
    fn asset(&mut self, store: &mut dyn Store, id: &str) -> StoreResult<Option<(String, String)>> {
        if let Some(known) = self.assets.get(id) {
            return Ok(known.clone());
        }
        let row = match self.pending_rows.get(id) {
            Some(pending) => Some(pending.clone()),
            None => store.catalog_asset(id)?,
        };
        let verdict = match row {
            // Unknown to the catalog: nothing says where its file would be (INGEST-016 counts
            // only assets with a path).
            None => None,
            Some(row) => match row.asset.path.clone() {
                None => None,
                Some(path) if row.asset.deleted || self.pending_deleted.contains(id) => {
                    Some((path, "deleted".to_string()))
                }
                Some(path) if row.asset.state == AssetState::Retired => {
                    Some((path, "retired".to_string()))
                }
                Some(path) => self.file(&path).map(|problem| (path, problem)),
            },
        };
        self.assets.insert(id.to_string(), verdict.clone());
        Ok(verdict)
    }

    fn file(&mut self, path: &str) -> Option<String> {
        if let Some(known) = self.files.get(path) {
            return known.clone();
        }
        let problem = file_problem(Path::new(path));
        self.files.insert(path.to_string(), problem.clone());
        problem
    }
}

/// Why the file at `path` cannot be played, if it cannot: `missing` or `unreadable: …`.
/// Metadata first, so a FIFO or a device is never opened (an open could block).
pub fn file_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Some("missing".to_string()),
        Err(e) => Some(format!("unreadable: {e}")),
        Ok(meta) if meta.is_dir() => Some("unreadable: is a directory".to_string()),
        Ok(meta) if !meta.is_file() => Some("unreadable: not a regular file".to_string()),
        Ok(_) => match std::fs::File::open(path) {
            Ok(_) => None,
            Err(e) => Some(format!("unreadable: {e}")),
        },
    }
}

/// Stored current days of `channel` (all channels when None) whose window has not begun at `now`
/// and whose playlog names an asset with a path whose file is missing or unreadable, or which the
/// catalog deleted or retired (INGEST-016). Sorted by channel then date, assets by id.
pub fn vanished_media(
    store: &mut dyn Store,
    channel: Option<&str>,
    now: UtcMs,
) -> StoreResult<Vec<VanishedDay>> {
    vanished_media_after(store, channel, now, &[])
}

/// [`vanished_media`] judged against the catalog as it will be once the `pending` ingest writes
/// are stored too (a dry run reporting what its run will, INGEST-031): their rows replace the
/// stored ones (a moved asset is checked at its new file) and their vanished assets count as
/// deleted.
pub fn vanished_media_after(
    store: &mut dyn Store,
    channel: Option<&str>,
    now: UtcMs,
    pending: &[&IngestWrite],
) -> StoreResult<Vec<VanishedDay>> {
    let channels: Vec<String> = match channel {
        Some(id) => {
            if store.load_channel(id)?.is_none() {
                return Err(StoreError::bad(format!("unknown channel {id:?}")));
            }
            vec![id.to_string()]
        }
        None => {
            let mut ids: Vec<String> = store
                .load_lineup()?
                .channels
                .into_iter()
                .map(|c| c.id)
                .collect();
            ids.sort();
            ids
        }
    };
    // A day whose window starts after `now` has a broadcast date no earlier than the day before
    // `now`'s UTC date (windows are at most 25 hours); two days of margin cover any day start.
    let today = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.date_naive())
        .unwrap_or(NaiveDate::MIN);
    let from = today.checked_sub_days(Days::new(2)).unwrap_or(today);
    let to = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
    let mut checks = Checks::default();
    for write in pending {
        for row in write.inserts.iter().chain(&write.updates) {
            checks
                .pending_rows
                .insert(row.asset.id.clone(), row.clone());
        }
        checks
            .pending_deleted
            .extend(write.vanished.iter().cloned());
    }
    let mut found = Vec::new();
    for channel in &channels {
        for stored in store.current_days(channel, from, to)? {
            if stored.is_locked(now) {
                continue;
            }
            let mut events: BTreeMap<String, usize> = BTreeMap::new();
            for event in store.day_playlog(stored.id)? {
                if let Some(asset) = event.asset {
                    *events.entry(asset).or_default() += 1;
                }
            }
            let mut assets = Vec::new();
            for (asset, count) in events {
                if let Some((path, problem)) = checks.asset(store, &asset)? {
                    assets.push(VanishedAsset {
                        asset,
                        path,
                        events: count,
                        problem,
                    });
                }
            }
            if !assets.is_empty() {
                found.push(VanishedDay {
                    channel: channel.clone(),
                    date: stored.day.date,
                    assets,
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.channel, a.date).cmp(&(&b.channel, b.date)));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: INGEST-016
    #[test]
    fn file_problems_name_missing_and_unreadable_files() {
        let dir = std::env::temp_dir().join(format!("rv-media-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.mkv");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(file_problem(&file), None);
        assert_eq!(
            file_problem(&dir.join("gone.mkv")).as_deref(),
            Some("missing")
        );
        assert_eq!(
            file_problem(&dir).as_deref(),
            Some("unreadable: is a directory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
