//! Sidecar files (`<file>.retrovue.json` / `.toml`): operator overrides for one media file
//! (contracts INGEST-006 and INGEST-007).

use std::path::Path;

use retrovue_core::model::AssetKind;
use serde_json::{Map, Value};

use super::discovered::{normalise_chapters, DiscoveredItem};

/// The sidecar file names that may belong to `file_name`, in lookup order.
pub fn sidecar_names(file_name: &str) -> Vec<String> {
    let mut names = vec![
        format!("{file_name}.retrovue.json"),
        format!("{file_name}.retrovue.toml"),
    ];
    if let Some((stem, _extension)) = file_name.rsplit_once('.') {
        if !stem.is_empty() {
            names.push(format!("{stem}.retrovue.json"));
            names.push(format!("{stem}.retrovue.toml"));
        }
    }
    names
}

/// Whether `file_name` is a sidecar (so the walker does not treat it as anything else).
pub fn is_sidecar_name(file_name: &str) -> bool {
    file_name.ends_with(".retrovue.json") || file_name.ends_with(".retrovue.toml")
}

/// A value an optional field is set to: a new value, or cleared (`null` in JSON).
pub type Clearable<T> = Option<Option<T>>;

/// What a sidecar sets; `None` means "not mentioned".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    pub kind: Option<AssetKind>,
    pub title: Option<String>,
    pub series: Clearable<String>,
    pub season: Clearable<u32>,
    pub episode: Clearable<u32>,
    pub description: Clearable<String>,
    pub rating: Clearable<String>,
    pub genres: Option<Vec<String>>,
    pub year: Clearable<i32>,
    pub duration_ms: Option<i64>,
    pub chapters_ms: Option<Vec<i64>>,
}

/// Reads and validates the sidecar at `path`; the error names the file and, when it is about
/// one key, the key.
pub fn read_sidecar(path: &Path) -> Result<Sidecar, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read sidecar: {e}", path.display()))?;
    parse_sidecar(path, &text)
}

/// Parses sidecar `text`; JSON or TOML is chosen by the file name `path`.
pub fn parse_sidecar(path: &Path, text: &str) -> Result<Sidecar, String> {
    let where_ = path.display();
    let value: Value = if path.to_string_lossy().ends_with(".toml") {
        let parsed: toml::Value =
            toml::from_str(text).map_err(|e| format!("{where_}: not valid TOML: {e}"))?;
        serde_json::to_value(parsed).map_err(|e| format!("{where_}: not valid TOML: {e}"))?
    } else {
        serde_json::from_str(text).map_err(|e| format!("{where_}: not valid JSON: {e}"))?
    };
    let Value::Object(map) = value else {
        return Err(format!(
            "{where_}: a sidecar must be an object of keys, got {}",
            type_name(&value)
        ));
    };
    sidecar_from_map(&map).map_err(|e| format!("{where_}: {e}"))
}

fn type_name(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
    }
}

fn wrong(key: &str, expected: &str, got: &Value) -> String {
    format!("key {key:?}: expected {expected}, got {}", type_name(got))
}

fn string_of(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(wrong(key, "a string", other)),
    }
}

fn clearable<T>(
    key: &str,
    value: &Value,
    read: impl Fn(&str, &Value) -> Result<T, String>,
) -> Result<Clearable<T>, String> {
    if value.is_null() {
        Ok(Some(None))
    } else {
        read(key, value).map(|v| Some(Some(v)))
    }
}

fn non_negative_u32(key: &str, value: &Value) -> Result<u32, String> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(key, "a non-negative integer", value))
}

fn year_of(key: &str, value: &Value) -> Result<i32, String> {
    value
        .as_i64()
        .filter(|y| (1..=9999).contains(y))
        .map(|y| y as i32)
        .ok_or_else(|| wrong(key, "a year (1..9999)", value))
}

fn positive_ms(key: &str, value: &Value) -> Result<i64, String> {
    let ms = value
        .as_i64()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| wrong(key, "a positive integer of milliseconds", value))?;
    // SCHED-008: nothing lasts longer than 7 days.
    retrovue_core::validate::check_duration(ms).map_err(|e| format!("key {key:?}: {e}"))
}

fn list_of<T>(
    key: &str,
    value: &Value,
    expected: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, String> {
    let Value::Array(values) = value else {
        return Err(wrong(key, expected, value));
    };
    values
        .iter()
        .map(|v| read(v).ok_or_else(|| wrong(key, expected, v)))
        .collect()
}

fn sidecar_from_map(map: &Map<String, Value>) -> Result<Sidecar, String> {
    let mut sidecar = Sidecar::default();
    for (key, value) in map {
        let key = key.as_str();
        match key {
            "kind" => {
                let text = string_of(key, value)?;
                let kind = AssetKind::parse(&text).ok_or_else(|| {
                    let known: Vec<&str> = AssetKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!(
                        "key \"kind\": unknown kind {text:?} (known: {})",
                        known.join(", ")
                    )
                })?;
                sidecar.kind = Some(kind);
            }
            "title" => {
                let title = string_of(key, value)?;
                if title.trim().is_empty() {
                    return Err("key \"title\": must not be empty".into());
                }
                sidecar.title = Some(title);
            }
            "series" => sidecar.series = clearable(key, value, string_of)?,
            "description" => sidecar.description = clearable(key, value, string_of)?,
            "rating" => sidecar.rating = clearable(key, value, string_of)?,
            "season" => sidecar.season = clearable(key, value, non_negative_u32)?,
            "episode" => sidecar.episode = clearable(key, value, non_negative_u32)?,
            "year" => sidecar.year = clearable(key, value, year_of)?,
            "duration_ms" => sidecar.duration_ms = Some(positive_ms(key, value)?),
            "genres" => {
                sidecar.genres = Some(list_of(key, value, "a list of strings", |v| {
                    v.as_str().map(str::to_string)
                })?)
            }
            "chapters_ms" => {
                let chapters = list_of(
                    key,
                    value,
                    "a list of non-negative integers of milliseconds",
                    |v| v.as_i64().filter(|ms| *ms >= 0),
                )?;
                sidecar.chapters_ms = Some(normalise_chapters(chapters));
            }
            unknown => {
                return Err(format!(
                    "key {unknown:?}: unknown key (known: kind, title, series, season, episode, \
                     description, rating, genres, year, duration_ms, chapters_ms)"
                ))
            }
        }
    }
    if let (Some(duration), Some(chapters)) = (sidecar.duration_ms, &sidecar.chapters_ms) {
        if let Some(outside) = chapters.iter().find(|&&c| c >= duration) {
            return Err(format!(
                "key \"chapters_ms\": {outside} is not inside duration_ms {duration}"
            ));
        }
    }
    Ok(sidecar)
}

impl Sidecar {
    /// Applies the overrides to `item` and pins every field it set (contract INGEST-006).
    pub fn apply(&self, item: &mut DiscoveredItem) {
        let editorial = &mut item.editorial;
        let mut pinned = Vec::new();
        if let Some(kind) = self.kind {
            editorial.kind = kind;
            pinned.push("kind");
        }
        if let Some(title) = &self.title {
            editorial.title = title.clone();
            pinned.push("title");
        }
        if let Some(series) = &self.series {
            editorial.series = series.clone();
            pinned.push("series");
        }
        if let Some(season) = self.season {
            editorial.season = season;
            pinned.push("season");
        }
        if let Some(episode) = self.episode {
            editorial.episode = episode;
            pinned.push("episode");
        }
        if let Some(description) = &self.description {
            editorial.description = description.clone();
            pinned.push("description");
        }
        if let Some(rating) = &self.rating {
            editorial.rating = rating.clone();
            pinned.push("rating");
        }
        if let Some(genres) = &self.genres {
            editorial.genres = genres.clone();
            pinned.push("genres");
        }
        if let Some(year) = self.year {
            editorial.year = year;
            pinned.push("year");
        }
        if let Some(duration) = self.duration_ms {
            item.duration_ms = Some(duration);
            pinned.push("duration_ms");
        }
        if let Some(chapters) = &self.chapters_ms {
            item.chapters_ms = chapters.clone();
            pinned.push("chapters_ms");
        }
        item.pinned.extend(pinned.into_iter().map(str::to_string));
    }
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    // contract: SCHED-008
    #[test]
    fn a_sidecar_duration_above_seven_days_names_the_file() {
        let path = Path::new("/media/show/ep1.retrovue.json");
        let error = parse_sidecar(path, r#"{"duration_ms": 604800001}"#).unwrap_err();
        assert!(
            error.contains("ep1.retrovue.json") && error.contains("longer than 7 days"),
            "{error}"
        );
        let error = parse_sidecar(path, r#"{"duration_ms": -1}"#).unwrap_err();
        assert!(error.contains("ep1.retrovue.json"), "{error}");
    }
}
