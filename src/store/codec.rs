//! How the store's values are written to and read from columns, shared by every statement of the
//! store: JSON text columns, enum and date columns, and the asset row (its one decoder).
//! `catalog` and `sql_store` both use this module; it uses neither (STORE-016).

use chrono::{NaiveDate, Weekday};
use retrovue_core::model::{Asset, AssetKind, AssetState};

use crate::store::sql::{ColType, Row, Value};
use crate::store::{StoreError, StoreResult};

/// A value stored as JSON text.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Text(serde_json::to_string(value).expect("plain data serialises"))
}

/// A JSON text column, decoded; malformed JSON names the column.
pub(super) fn json_column<T: serde::de::DeserializeOwned>(row: &Row, name: &str) -> StoreResult<T> {
    serde_json::from_str(&row.text(name)?).map_err(|e| {
        StoreError::backend(format!("stored {} is malformed: {e}", row.describe(name)))
    })
}

/// A text column holding one of an enum's names.
pub(super) fn enum_column<T>(
    row: &Row,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> StoreResult<T> {
    let text = row.text(name)?;
    parse(&text).ok_or_else(|| unknown(row, name, &text))
}

/// A stored value the program does not know.
pub(super) fn unknown(row: &Row, name: &str, value: &str) -> StoreError {
    StoreError::backend(format!(
        "stored {} has an unknown value {value:?}",
        row.describe(name)
    ))
}

/// A `YYYY-MM-DD` text column.
pub(super) fn date_column(row: &Row, name: &str) -> StoreResult<NaiveDate> {
    let text = row.text(name)?;
    text.parse().map_err(|_| unknown(row, name, &text))
}

/// A nullable `YYYY-MM-DD` text column.
pub(super) fn opt_date_column(row: &Row, name: &str) -> StoreResult<Option<NaiveDate>> {
    match row.opt_text(name)? {
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| unknown(row, name, &text)),
        None => Ok(None),
    }
}

/// A weekday as stored in a plan's `days` column.
pub(super) fn weekday_name(day: Weekday) -> String {
    day.to_string().to_lowercase()
}

/// The `asset` table's editorial columns (what a lineup holds), with their types, in the order
/// of [`asset_values`]; the ingest columns follow them in the catalog's statements.
pub(super) const ASSET_COLUMN_TYPES: [(&str, ColType); 16] = [
    ("id", ColType::Text),
    ("kind", ColType::Text),
    ("title", ColType::Text),
    ("series", ColType::Text),
    ("season", ColType::Int),
    ("episode", ColType::Int),
    ("description", ColType::Text),
    ("rating", ColType::Text),
    ("genres_json", ColType::Text),
    ("year", ColType::Int),
    ("duration_ms", ColType::Int),
    ("chapters_json", ColType::Text),
    ("path", ColType::Text),
    ("state", ColType::Text),
    ("approved", ColType::Bool),
    ("deleted", ColType::Bool),
];

/// Column names of a `(name, type)` list, for a SELECT or INSERT list.
pub(super) fn column_list(columns: &[(&str, ColType)]) -> String {
    columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An asset's editorial columns, in the order of [`ASSET_COLUMN_TYPES`].
pub(super) fn asset_values(asset: &Asset) -> Vec<Value> {
    vec![
        Value::from(&asset.id),
        Value::from(asset.kind.as_str()),
        Value::from(&asset.title),
        Value::from(asset.series.as_ref()),
        Value::from(asset.season),
        Value::from(asset.episode),
        Value::from(asset.description.as_ref()),
        Value::from(asset.rating.as_ref()),
        json(&asset.genres),
        Value::from(asset.year.map(i64::from)),
        Value::Int(asset.duration_ms),
        json(&asset.chapters_ms),
        Value::from(asset.path.as_ref()),
        Value::from(asset.state.as_str()),
        Value::Bool(asset.approved),
        Value::Bool(asset.deleted),
    ]
}

/// The one asset decoder: an [`Asset`] from a row holding the editorial columns (by name; the
/// row may hold more). Every read of assets goes through it. Errors name the asset too.
pub(super) fn asset(r: &Row) -> StoreResult<Asset> {
    let id = r.text("id")?;
    asset_fields(r, id.clone()).map_err(|e| within(e, &format!("asset {id:?}")))
}

/// `error`, its message prefixed with what was being read.
pub(super) fn within(error: StoreError, what: &str) -> StoreError {
    StoreError::new(error.kind, format!("{what}: {}", error.message))
}

fn asset_fields(r: &Row, id: String) -> StoreResult<Asset> {
    Ok(Asset {
        id,
        kind: enum_column(r, "kind", AssetKind::parse)?,
        title: r.text("title")?,
        series: r.opt_text("series")?,
        season: r.opt_int_as("season")?,
        episode: r.opt_int_as("episode")?,
        description: r.opt_text("description")?,
        rating: r.opt_text("rating")?,
        genres: json_column(r, "genres_json")?,
        year: r.opt_int_as("year")?,
        duration_ms: r.int("duration_ms")?,
        chapters_ms: json_column(r, "chapters_json")?,
        path: r.opt_text("path")?,
        state: enum_column(r, "state", AssetState::parse)?,
        approved: r.bool("approved")?,
        deleted: r.bool("deleted")?,
    })
}
