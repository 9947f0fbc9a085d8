//! The filesystem importer: walks a collection's folder tree for video files and reads their
//! metadata from names, folders and sidecars (contracts INGEST-001..007).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{AppError, AppResult};

use super::discovered::{DiscoveredItem, Discovery, Provider, SkippedItem};
use super::naming::editorial_from_name;
use super::sidecar::{is_sidecar_name, read_sidecar, sidecar_names};

/// Extensions (lower case) of the files the importer treats as video.
pub const VIDEO_EXTENSIONS: [&str; 18] = [
    "mkv", "mp4", "m4v", "avi", "mov", "wmv", "flv", "webm", "ts", "m2ts", "mts", "mpg", "mpeg",
    "vob", "ogv", "3gp", "divx", "mpe",
];

/// Whether `file_name` has a video extension (case-insensitive).
pub fn is_video_file_name(file_name: &str) -> bool {
    if is_sidecar_name(file_name) {
        return false;
    }
    file_name.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.is_empty() && VIDEO_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
    })
}

/// A `file://` URI for an absolute path, percent-encoding everything but unreserved characters
/// and `/`.
pub fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut uri = String::with_capacity(text.len() + 8);
    uri.push_str("file://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// Discovers every video file under each root; a canonical key seen under an earlier root makes
/// the later file skipped (keys must be unique per collection).
pub fn discover(roots: &[PathBuf]) -> AppResult<Discovery> {
    let mut all = Discovery::default();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for root in roots {
        let found = discover_root(root)?;
        all.skipped.extend(found.skipped);
        for item in found.items {
            let path = item.local_path.clone().unwrap_or_default();
            if let Some(first) = seen.get(&item.canonical_key) {
                all.skipped.push(SkippedItem {
                    location: path.display().to_string(),
                    reason: format!(
                        "canonical key {:?} is already taken by {}",
                        item.canonical_key,
                        first.display()
                    ),
                });
                continue;
            }
            seen.insert(item.canonical_key.clone(), path);
            all.items.push(item);
        }
    }
    Ok(all)
}

/// INGEST-025: why a collection's root cannot be walked — `missing (…)`, `not a folder`,
/// `unreadable (…)` — or `None` when it can be listed. Checked before an ingest so that an
/// unmounted or unreadable library is never taken for a library whose files all vanished.
pub fn root_problem(root: &Path) -> Option<String> {
    match fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("missing ({e})"))
        }
        Err(e) => return Some(format!("unreadable ({e})")),
        Ok(m) if !m.is_dir() => return Some("not a folder".into()),
        Ok(_) => {}
    }
    match fs::read_dir(root) {
        Ok(_) => None,
        Err(e) => Some(format!("unreadable ({e})")),
    }
}

/// Discovers every video file under `root`, in byte order of names at every level.
pub fn discover_root(root: &Path) -> AppResult<Discovery> {
    let metadata = fs::metadata(root)
        .map_err(|_| AppError::bad(format!("filesystem root {} does not exist", root.display())))?;
    if !metadata.is_dir() {
        return Err(AppError::bad(format!(
            "filesystem root {} is not a directory",
            root.display()
        )));
    }
    let root = std::path::absolute(root)
        .map_err(|e| AppError::bad(format!("filesystem root {}: {e}", root.display())))?;
    let mut discovery = Discovery::default();
    let mut folders = Vec::new();
    walk(&root, &mut folders, &mut discovery);
    Ok(discovery)
}

fn walk(dir: &Path, folders: &mut Vec<String>, discovery: &mut Discovery) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            discovery.skipped.push(SkippedItem {
                location: dir.display().to_string(),
                reason: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    let mut names: Vec<(String, fs::DirEntry)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                discovery.skipped.push(SkippedItem {
                    location: dir.display().to_string(),
                    reason: format!("cannot read folder entry: {e}"),
                });
                continue;
            }
        };
        match entry.file_name().into_string() {
            Ok(name) => names.push((name, entry)),
            Err(raw) => discovery.skipped.push(SkippedItem {
                location: dir.join(&raw).display().to_string(),
                reason: "file name is not valid UTF-8".into(),
            }),
        }
    }
    // Byte order of names: the walk is the same on every run and every platform.
    names.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let name_set: BTreeSet<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    for (name, entry) in &names {
        if name.starts_with('.') {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if file_type.is_dir() {
            folders.push(name.clone());
            walk(&path, folders, discovery);
            folders.pop();
            continue;
        }
        if !is_video_file_name(name) {
            continue;
        }
        // A symlink to a file is followed; a symlink to a folder is not (loops).
        let metadata = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            Err(e) => {
                discovery.skipped.push(SkippedItem {
                    location: path.display().to_string(),
                    reason: format!("cannot read file: {e}"),
                });
                continue;
            }
        };
        match item_for_file(dir, folders, name, &metadata, &name_set) {
            Ok(item) => discovery.items.push(item),
            Err(reason) => discovery.skipped.push(SkippedItem {
                location: path.display().to_string(),
                reason,
            }),
        }
    }
}

fn item_for_file(
    dir: &Path,
    folders: &[String],
    name: &str,
    metadata: &fs::Metadata,
    names_in_dir: &BTreeSet<&str>,
) -> Result<DiscoveredItem, String> {
    let path = dir.join(name);
    let canonical_key = folders
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(name))
        .collect::<Vec<_>>()
        .join("/");
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let folder_refs: Vec<&str> = folders.iter().map(String::as_str).collect();
    let editorial = editorial_from_name(&folder_refs, stem);
    let mtime_ms = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    let mut item = DiscoveredItem {
        provider: Provider::Filesystem,
        external_id: canonical_key.clone(),
        canonical_key,
        uri: file_uri(&path),
        local_path: Some(path),
        size_bytes: Some(metadata.len()),
        mtime_ms,
        editorial,
        duration_ms: None,
        chapters_ms: Vec::new(),
        probe: None,
        pinned: BTreeSet::new(),
    };
    let sidecars: Vec<String> = sidecar_names(name)
        .into_iter()
        .filter(|s| names_in_dir.contains(s.as_str()))
        .collect();
    match sidecars.as_slice() {
        [] => {}
        [only] => read_sidecar(&dir.join(only))?.apply(&mut item),
        several => {
            return Err(format!(
                "{}: more than one sidecar ({}); keep one",
                dir.join(&several[0]).display(),
                several.join(", ")
            ))
        }
    }
    Ok(item)
}
