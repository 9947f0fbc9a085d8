//! The Plex importer: library sections are collections, their episodes and movies are
//! discovered items, server file paths go through the path map (contract INGEST-009).

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
use super::naming::interstitial_kind_of_folders;
use super::pathmap::PathMap;

/// Where a Plex server is and how to read it.
#[derive(Debug, Clone)]
pub struct PlexConfig {
    pub url: String,
    pub token: String,
    pub path_map: PathMap,
    /// Items requested per page.
    pub page_size: usize,
    pub timeout: Duration,
}

impl PlexConfig {
    pub fn new(url: &str, token: &str, path_map: PathMap) -> PlexConfig {
        PlexConfig {
            url: url.to_string(),
            token: token.to_string(),
            path_map,
            page_size: 500,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A Plex server reached over its HTTP API.
pub struct PlexImporter {
    api: JsonApi,
    path_map: PathMap,
    page_size: usize,
}

/// The folders of a server path (`/` or `\` separated), without the file name.
pub(crate) fn server_folders(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    parts.pop();
    parts
}

/// A movie in an interstitial folder on the server takes that folder's kind (INGEST-005).
pub(crate) fn kind_for_server_path(kind: AssetKind, server_path: &str) -> AssetKind {
    if kind == AssetKind::Movie {
        interstitial_kind_of_folders(&server_folders(server_path)).unwrap_or(kind)
    } else {
        kind
    }
}

/// The file name of a server path without its extension: the title of last resort.
pub(crate) fn server_file_stem(path: &str) -> String {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.rsplit_once('.')
        .map_or(name, |(stem, _)| stem)
        .to_string()
}

fn container(body: &Value) -> Option<&Value> {
    body.get("MediaContainer")
}

impl PlexImporter {
    pub fn new(config: PlexConfig) -> AppResult<PlexImporter> {
        if config.page_size == 0 {
            return Err(AppError::bad("plex page size must be at least 1"));
        }
        Ok(PlexImporter {
            api: JsonApi::new(
                "plex",
                &config.url,
                "X-Plex-Token",
                &config.token,
                config.timeout,
            )?,
            path_map: config.path_map,
            page_size: config.page_size,
        })
    }

    /// The server's library sections.
    pub fn collections(&self) -> AppResult<Vec<RemoteCollection>> {
        let path = "/library/sections";
        let body = self.api.get_json(path, &[], &[])?;
        let media_container = container(&body).ok_or_else(|| {
            self.api
                .shape_error(path, "no MediaContainer in the response")
        })?;
        let directories = match media_container.get("Directory") {
            Some(Value::Array(list)) => list.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => {
                return Err(self
                    .api
                    .shape_error(path, "MediaContainer.Directory is not a list"))
            }
        };
        directories
            .iter()
            .map(|d| {
                let key = string_or_number(d.get("key"))
                    .ok_or_else(|| self.api.shape_error(path, "a Directory has no key"))?;
                Ok(RemoteCollection {
                    title: text(d.get("title")).unwrap_or_else(|| key.clone()),
                    kind: text(d.get("type")).unwrap_or_default(),
                    locations: d
                        .get("Location")
                        .and_then(Value::as_array)
                        .map(|l| l.iter().filter_map(|x| text(x.get("path"))).collect())
                        .unwrap_or_default(),
                    key,
                })
            })
            .collect()
    }

    /// Every episode (`show` sections) or movie (`movie` sections) of `collection`.
    pub fn discover(&self, collection: &RemoteCollection) -> AppResult<Discovery> {
        let (plex_type, kind) = match collection.kind.as_str() {
            "show" => ("4", AssetKind::Episode),
            "movie" => ("1", AssetKind::Movie),
            other => {
                return Err(AppError::bad(format!(
                    "plex section {} ({:?}) has type {other:?}: only show and movie sections \
                     can be ingested",
                    collection.key, collection.title
                )))
            }
        };
        let path = format!("/library/sections/{}/all", collection.key);
        let query = [
            ("type", plex_type.to_string()),
            ("includeChapters", "1".to_string()),
        ];
        let mut discovery = Discovery::default();
        let mut start = 0usize;
        loop {
            let headers = [
                ("X-Plex-Container-Start", start.to_string()),
                ("X-Plex-Container-Size", self.page_size.to_string()),
            ];
            let body = self.api.get_json(&path, &query, &headers)?;
            let media_container = container(&body).ok_or_else(|| {
                self.api
                    .shape_error(&path, "no MediaContainer in the response")
            })?;
            let page = match media_container.get("Metadata") {
                Some(Value::Array(list)) => list.as_slice(),
                None | Some(Value::Null) => &[],
                Some(_) => {
                    return Err(self
                        .api
                        .shape_error(&path, "MediaContainer.Metadata is not a list"))
                }
            };
            for metadata in page {
                match self.item(metadata, kind) {
                    Ok(item) => discovery.items.push(item),
                    Err(skipped) => discovery.skipped.push(skipped),
                }
            }
            start += page.len();
            let total = integer(media_container.get("totalSize"));
            let more = total.is_some_and(|t| (start as i64) < t);
            if page.is_empty() || !more {
                break;
            }
        }
        Ok(discovery)
    }

    fn item(&self, metadata: &Value, kind: AssetKind) -> Result<DiscoveredItem, SkippedItem> {
        let rating_key =
            string_or_number(metadata.get("ratingKey")).ok_or_else(|| SkippedItem {
                location: format!(
                    "plex item {:?}",
                    text(metadata.get("title")).unwrap_or_default()
                ),
                reason: "has no ratingKey".into(),
            })?;
        let media = metadata
            .get("Media")
            .and_then(Value::as_array)
            .and_then(|m| m.first());
        let part = media
            .and_then(|m| m.get("Part"))
            .and_then(Value::as_array)
            .and_then(|p| p.first());
        let file = part
            .and_then(|p| text(p.get("file")))
            .ok_or_else(|| SkippedItem {
                location: format!("plex item {rating_key}"),
                reason: "has no media file (Media[].Part[].file)".into(),
            })?;
        let title = text(metadata.get("title")).unwrap_or_else(|| server_file_stem(&file));
        let mut editorial = Editorial::new(kind_for_server_path(kind, &file), &title);
        if kind == AssetKind::Episode {
            editorial.series = text(metadata.get("grandparentTitle"));
            editorial.season =
                integer(metadata.get("parentIndex")).and_then(|n| u32::try_from(n).ok());
            editorial.episode = integer(metadata.get("index")).and_then(|n| u32::try_from(n).ok());
        }
        editorial.description = text(metadata.get("summary"));
        editorial.rating = text(metadata.get("contentRating"));
        editorial.year = integer(metadata.get("year")).and_then(|y| i32::try_from(y).ok());
        editorial.genres = metadata
            .get("Genre")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(|x| text(x.get("tag"))).collect())
            .unwrap_or_default();
        let duration_ms = integer(metadata.get("duration"))
            .or_else(|| media.and_then(|m| integer(m.get("duration"))))
            .filter(|d| *d > 0);
        let chapters = metadata
            .get("Chapter")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|x| integer(x.get("startTimeOffset")))
                    .collect()
            })
            .unwrap_or_default();
        Ok(DiscoveredItem {
            provider: Provider::Plex,
            external_id: rating_key.clone(),
            canonical_key: rating_key.clone(),
            uri: format!("{}/library/metadata/{rating_key}", self.api.base_url()),
            local_path: Some(self.path_map.map(&file)),
            size_bytes: part
                .and_then(|p| integer(p.get("size")))
                .and_then(|s| u64::try_from(s).ok()),
            mtime_ms: integer(metadata.get("updatedAt")).map(|s| s * 1000),
            editorial,
            duration_ms,
            chapters_ms: normalise_chapters(chapters),
            probe: None,
            pinned: BTreeSet::new(),
        })
    }
}
