//! The Jellyfin importer: virtual folders are collections, their episodes and movies are
//! discovered items, server file paths go through the path map (contract INGEST-010).

use std::collections::BTreeSet;
use std::time::Duration;

use retrovue_core::model::AssetKind;
use serde_json::Value;

use crate::error::{AppError, AppResult};

use super::discovered::{
    normalise_chapters, DiscoveredItem, Discovery, Editorial, Provider, RemoteCollection,
    SkippedItem,
};
use super::http::{integer, string_or_number, text, JsonApi, DEFAULT_TIMEOUT};
use super::pathmap::PathMap;
use super::plex::{kind_for_server_path, server_file_stem};

/// Jellyfin counts time in ticks of 100 ns.
pub const TICKS_PER_MS: i64 = 10_000;

/// Where a Jellyfin server is and how to read it.
#[derive(Debug, Clone)]
pub struct JellyfinConfig {
    pub url: String,
    /// An API key (Dashboard → API Keys) or a user's access token.
    pub token: String,
    pub path_map: PathMap,
    /// Items requested per page.
    pub page_size: usize,
    pub timeout: Duration,
}

impl JellyfinConfig {
    pub fn new(url: &str, token: &str, path_map: PathMap) -> JellyfinConfig {
        JellyfinConfig {
            url: url.to_string(),
            token: token.to_string(),
            path_map,
            page_size: 500,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A Jellyfin server reached over its HTTP API.
pub struct JellyfinImporter {
    api: JsonApi,
    path_map: PathMap,
    page_size: usize,
}

impl JellyfinImporter {
    pub fn new(config: JellyfinConfig) -> AppResult<JellyfinImporter> {
        if config.page_size == 0 {
            return Err(AppError::bad("jellyfin page size must be at least 1"));
        }
        Ok(JellyfinImporter {
            api: JsonApi::new(
                "jellyfin",
                &config.url,
                "X-Emby-Token",
                &config.token,
                config.timeout,
            )?,
            path_map: config.path_map,
            page_size: config.page_size,
        })
    }

    /// The server's libraries (virtual folders).
    pub fn collections(&self) -> AppResult<Vec<RemoteCollection>> {
        let path = "/Library/VirtualFolders";
        let body = self.api.get_json(path, &[], &[])?;
        let Value::Array(folders) = body else {
            return Err(self
                .api
                .shape_error(path, "expected a list of virtual folders"));
        };
        folders
            .iter()
            .map(|folder| {
                let key = string_or_number(folder.get("ItemId"))
                    .ok_or_else(|| self.api.shape_error(path, "a virtual folder has no ItemId"))?;
                Ok(RemoteCollection {
                    title: text(folder.get("Name")).unwrap_or_else(|| key.clone()),
                    kind: text(folder.get("CollectionType")).unwrap_or_default(),
                    locations: folder
                        .get("Locations")
                        .and_then(Value::as_array)
                        .map(|l| l.iter().filter_map(|x| text(Some(x))).collect())
                        .unwrap_or_default(),
                    key,
                })
            })
            .collect()
    }

    /// Every episode and movie below `collection`.
    pub fn discover(&self, collection: &RemoteCollection) -> AppResult<Discovery> {
        let path = "/Items";
        let mut discovery = Discovery::default();
        let mut start = 0usize;
        loop {
            let query = [
                ("ParentId", collection.key.clone()),
                ("Recursive", "true".to_string()),
                ("IncludeItemTypes", "Episode,Movie".to_string()),
                (
                    "Fields",
                    "Path,Overview,Genres,Chapters,MediaSources".to_string(),
                ),
                ("StartIndex", start.to_string()),
                ("Limit", self.page_size.to_string()),
            ];
            let body = self.api.get_json(path, &query, &[])?;
            let page = match body.get("Items") {
                Some(Value::Array(list)) => list.as_slice(),
                _ => return Err(self.api.shape_error(path, "the response has no Items list")),
            };
            for entry in page {
                match self.item(entry) {
                    Ok(item) => discovery.items.push(item),
                    Err(skipped) => discovery.skipped.push(skipped),
                }
            }
            start += page.len();
            let total = integer(body.get("TotalRecordCount"));
            let more = total.is_some_and(|t| (start as i64) < t);
            if page.is_empty() || !more {
                break;
            }
        }
        Ok(discovery)
    }

    fn item(&self, entry: &Value) -> Result<DiscoveredItem, SkippedItem> {
        let name = text(entry.get("Name"));
        let id = string_or_number(entry.get("Id")).ok_or_else(|| SkippedItem {
            location: format!("jellyfin item {:?}", name.clone().unwrap_or_default()),
            reason: "has no Id".into(),
        })?;
        let kind = match entry.get("Type").and_then(Value::as_str) {
            Some("Episode") => AssetKind::Episode,
            Some("Movie") | None => AssetKind::Movie,
            Some(other) => {
                return Err(SkippedItem {
                    location: format!("jellyfin item {id}"),
                    reason: format!("has type {other:?}, not Episode or Movie"),
                })
            }
        };
        let file = text(entry.get("Path")).ok_or_else(|| SkippedItem {
            location: format!("jellyfin item {id}"),
            reason: "has no Path".into(),
        })?;
        let title = name.unwrap_or_else(|| server_file_stem(&file));
        let mut editorial = Editorial::new(kind_for_server_path(kind, &file), &title);
        if kind == AssetKind::Episode {
            editorial.series = text(entry.get("SeriesName"));
            editorial.season =
                integer(entry.get("ParentIndexNumber")).and_then(|n| u32::try_from(n).ok());
            editorial.episode =
                integer(entry.get("IndexNumber")).and_then(|n| u32::try_from(n).ok());
        }
        editorial.description = text(entry.get("Overview"));
        editorial.rating = text(entry.get("OfficialRating"));
        editorial.year = integer(entry.get("ProductionYear")).and_then(|y| i32::try_from(y).ok());
        editorial.genres = entry
            .get("Genres")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(|x| text(Some(x))).collect())
            .unwrap_or_default();
        let chapters = entry
            .get("Chapters")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|x| integer(x.get("StartPositionTicks")))
                    .map(|ticks| ticks / TICKS_PER_MS)
                    .collect()
            })
            .unwrap_or_default();
        let size_bytes = entry
            .get("MediaSources")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .and_then(|s| integer(s.get("Size")))
            .and_then(|s| u64::try_from(s).ok());
        Ok(DiscoveredItem {
            provider: Provider::Jellyfin,
            external_id: id.clone(),
            canonical_key: id.clone(),
            uri: format!("{}/Items/{id}", self.api.base_url()),
            local_path: Some(self.path_map.map(&file)),
            size_bytes,
            mtime_ms: None,
            editorial,
            duration_ms: integer(entry.get("RunTimeTicks"))
                .map(|t| t / TICKS_PER_MS)
                .filter(|d| *d > 0),
            chapters_ms: normalise_chapters(chapters),
            probe: None,
            pinned: BTreeSet::new(),
        })
    }
}
