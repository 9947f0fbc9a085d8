//! The ingest catalog in the store: sources, collections, ingest enrichers and assets with their
//! ingest identity (collection, canonical key, file size/mtime, provider ref, state reason).
//! Statements are written once against [`Tx`], like the rest of the store (contracts/assets.md).

use std::collections::BTreeMap;

use retrovue_core::model::{Asset, AssetKind, AssetState};
use serde::{Deserialize, Serialize};

use crate::store::codec::{self, json, json_column};
use crate::store::sql::{ColType, Row, Tx, Value};
use crate::store::{StoreError, StoreResult};

/// A source: an external library endpoint (contracts/ingest.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// A slug chosen by the operator (or derived from the name).
    pub id: String,
    /// `filesystem`, `plex` or `jellyfin`.
    pub kind: String,
    pub name: String,
    pub config: SourceConfig,
    pub created_at_ms: i64,
}

/// How to reach a source. Filesystem sources use `paths`; Plex and Jellyfin use `url`, `token`
/// and `path_map` (`SERVER=LOCAL` rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_map: Vec<String>,
}

/// A collection: an ingest scope inside a source (a folder, a library section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRecord {
    pub id: String,
    pub source_id: String,
    /// The provider's key of the scope: the root folder for filesystem sources, the section key
    /// for Plex, the library id for Jellyfin. Unique per source.
    pub external_key: String,
    pub name: String,
    /// `folder`, or the provider's library type (`show`, `movie`, `tvshows`, …).
    pub kind: String,
    /// Folders the collection reads (server paths for remote providers).
    pub locations: Vec<String>,
    /// `SERVER=LOCAL` rules applied after the source's own.
    pub path_map: Vec<String>,
    pub ingest_enabled: bool,
    pub last_ingest_ms: Option<i64>,
}

/// A configured ingest enricher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnricherRecord {
    pub id: String,
    /// Only `ffprobe` today.
    pub kind: String,
    pub timeout_ms: i64,
    /// Enrichers run in this order.
    pub position: i64,
}

/// An asset with its ingest identity: what `asset list/show` print and ingest compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogAsset {
    #[serde(flatten)]
    pub asset: Asset,
    pub collection_id: Option<String>,
    pub canonical_key: Option<String>,
    pub uri: Option<String>,
    pub size_bytes: Option<i64>,
    pub mtime_ms: Option<i64>,
    /// ProviderRef: the provider and its id for the item.
    pub provider: Option<String>,
    pub external_id: Option<String>,
    /// Why the asset is not ready (e.g. what ffprobe said), when it is not.
    pub state_reason: Option<String>,
    /// What ffprobe measured (codecs, resolution), as JSON text.
    pub probe_json: Option<String>,
    pub deleted_at_ms: Option<i64>,
    pub updated_at_ms: Option<i64>,
    /// STORE-047: the fields the operator set with `asset update` (names from
    /// [`EDITABLE_FIELDS`], sorted, unique); ingest keeps their values (INGEST-030).
    #[serde(default)]
    pub edited_fields: Vec<String>,
}

/// The asset fields an operator's edit pins against re-ingest (INGEST-030), as they are named
/// in `edited_fields`.
pub const EDITABLE_FIELDS: [&str; 10] = [
    "kind",
    "title",
    "series",
    "season",
    "episode",
    "description",
    "rating",
    "genres",
    "year",
    "chapters_ms",
];

impl CatalogAsset {
    /// An asset that did not come from ingest (lineup import), with no ingest identity.
    pub fn plain(asset: Asset) -> CatalogAsset {
        CatalogAsset {
            asset,
            collection_id: None,
            canonical_key: None,
            uri: None,
            size_bytes: None,
            mtime_ms: None,
            provider: None,
            external_id: None,
            state_reason: None,
            probe_json: None,
            deleted_at_ms: None,
            updated_at_ms: None,
            edited_fields: Vec::new(),
        }
    }

    /// Whether the operator edited `field` (one of [`EDITABLE_FIELDS`]).
    pub fn is_edited(&self, field: &str) -> bool {
        self.edited_fields.iter().any(|f| f == field)
    }

    /// Records that the operator edited `field`, keeping the list sorted and unique.
    pub fn mark_edited(&mut self, field: &str) {
        if let Err(at) = self
            .edited_fields
            .binary_search_by(|f| f.as_str().cmp(field))
        {
            self.edited_fields.insert(at, field.to_string());
        }
    }
}

/// Filters of `asset list`; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    pub collection: Option<String>,
    pub kind: Option<AssetKind>,
    pub state: Option<AssetState>,
    pub series: Option<String>,
    pub approved: Option<bool>,
    /// Deleted assets are hidden unless asked for.
    pub include_deleted: bool,
}

/// Everything one ingest run writes for a collection, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestWrite {
    pub collection_id: String,
    /// Assets not stored before.
    pub inserts: Vec<CatalogAsset>,
    /// Stored assets whose row changed (matched by id).
    pub updates: Vec<CatalogAsset>,
    /// Ids of stored assets whose file vanished: marked deleted at `now`.
    pub vanished: Vec<String>,
    pub now: i64,
}

/// Who depends on an item: what a delete must refuse over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dependents {
    /// As-run records and stored playlog events (aired or scheduled history).
    pub history: usize,
    /// Programs, virtual assets and zones naming it.
    pub references: Vec<String>,
}

/// The `asset` table's ingest columns, after its editorial ones ([`codec::ASSET_COLUMN_TYPES`]).
const INGEST_COLUMN_TYPES: [(&str, ColType); 12] = [
    ("collection_id", ColType::Text),
    ("canonical_key", ColType::Text),
    ("uri", ColType::Text),
    ("size_bytes", ColType::Int),
    ("mtime_ms", ColType::Int),
    ("provider", ColType::Text),
    ("external_id", ColType::Text),
    ("state_reason", ColType::Text),
    ("probe_json", ColType::Text),
    ("deleted_at_ms", ColType::Int),
    ("updated_at_ms", ColType::Int),
    ("edited_fields", ColType::Text),
];

/// Every column of `asset`, editorial then ingest, in the order of [`asset_values`].
fn asset_column_types() -> Vec<(&'static str, ColType)> {
    codec::ASSET_COLUMN_TYPES
        .iter()
        .chain(INGEST_COLUMN_TYPES.iter())
        .copied()
        .collect()
}

fn asset_values(a: &CatalogAsset) -> Vec<Value> {
    let mut values = codec::asset_values(&a.asset);
    values.extend([
        Value::from(a.collection_id.as_ref()),
        Value::from(a.canonical_key.as_ref()),
        Value::from(a.uri.as_ref()),
        Value::from(a.size_bytes),
        Value::from(a.mtime_ms),
        Value::from(a.provider.as_ref()),
        Value::from(a.external_id.as_ref()),
        Value::from(a.state_reason.as_ref()),
        Value::from(a.probe_json.as_ref()),
        Value::from(a.deleted_at_ms),
        Value::from(a.updated_at_ms),
        json(&a.edited_fields),
    ]);
    values
}

/// An asset with its ingest identity: the one asset decoder ([`codec::asset`]) and the ingest
/// columns, by name.
fn catalog_asset(r: &Row) -> StoreResult<CatalogAsset> {
    let asset = codec::asset(r)?;
    let id = asset.id.clone();
    ingest_fields(r, asset).map_err(|e| codec::within(e, &format!("asset {id:?}")))
}

fn ingest_fields(r: &Row, asset: Asset) -> StoreResult<CatalogAsset> {
    Ok(CatalogAsset {
        asset,
        collection_id: r.opt_text("collection_id")?,
        canonical_key: r.opt_text("canonical_key")?,
        uri: r.opt_text("uri")?,
        size_bytes: r.opt_int("size_bytes")?,
        mtime_ms: r.opt_int("mtime_ms")?,
        provider: r.opt_text("provider")?,
        external_id: r.opt_text("external_id")?,
        state_reason: r.opt_text("state_reason")?,
        probe_json: r.opt_text("probe_json")?,
        deleted_at_ms: r.opt_int("deleted_at_ms")?,
        updated_at_ms: r.opt_int("updated_at_ms")?,
        edited_fields: json_column(r, "edited_fields")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Sources

fn source(r: &Row) -> StoreResult<SourceRecord> {
    Ok(SourceRecord {
        id: r.text("id")?,
        kind: r.text("kind")?,
        name: r.text("name")?,
        config: json_column(r, "config_json")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub fn sources(tx: &mut dyn Tx, only: Option<&str>) -> StoreResult<Vec<SourceRecord>> {
    let (filter, params) = match only {
        Some(id) => ("WHERE id = $1", vec![Value::from(id)]),
        None => ("", vec![]),
    };
    tx.query(
        &format!(
            "SELECT id, kind, name, config_json, created_at_ms FROM source {filter} ORDER BY id"
        ),
        &params,
    )?
    .iter()
    .map(source)
    .collect()
}

/// Insert (`create`) or update a source; creating an existing id is bad input.
pub fn put_source(tx: &mut dyn Tx, record: &SourceRecord, create: bool) -> StoreResult<()> {
    let exists = !sources(tx, Some(&record.id))?.is_empty();
    if create && exists {
        return Err(StoreError::bad(format!(
            "source {:?} already exists",
            record.id
        )));
    }
    if !create && !exists {
        return Err(StoreError::bad(format!("unknown source {:?}", record.id)));
    }
    let params = [
        Value::from(&record.id),
        Value::from(record.kind.as_str()),
        Value::from(&record.name),
        json(&record.config),
        Value::Int(record.created_at_ms),
    ];
    if create {
        crate::store::check_id("source", &record.id)?;
        tx.execute(
            "INSERT INTO source (id, kind, name, config_json, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            &params,
        )?;
    } else {
        tx.execute(
            "UPDATE source SET kind = $2, name = $3, config_json = $4, created_at_ms = $5 \
             WHERE id = $1",
            &params,
        )?;
    }
    Ok(())
}

/// Deletes a source, its collections and their assets; refuses when any of those assets has
/// history or is referenced (CLI-005).
pub fn delete_source(tx: &mut dyn Tx, id: &str, dry_run: bool) -> StoreResult<usize> {
    if sources(tx, Some(id))?.is_empty() {
        return Err(StoreError::bad(format!("unknown source {id:?}")));
    }
    let mut removed = 0;
    for collection in collections(tx, Some(id), None)? {
        removed += wipe_collection(tx, &collection.id, &format!("source {id:?}"), dry_run)?;
    }
    if dry_run {
        return Ok(removed);
    }
    tx.execute(
        "DELETE FROM collection WHERE source_id = $1",
        &[Value::from(id)],
    )?;
    tx.execute("DELETE FROM source WHERE id = $1", &[Value::from(id)])?;
    Ok(removed)
}

// ---------------------------------------------------------------------------------------------
// Collections

fn collection(r: &Row) -> StoreResult<CollectionRecord> {
    Ok(CollectionRecord {
        id: r.text("id")?,
        source_id: r.text("source_id")?,
        external_key: r.text("external_key")?,
        name: r.text("name")?,
        kind: r.text("kind")?,
        locations: json_column(r, "locations_json")?,
        path_map: json_column(r, "path_map_json")?,
        ingest_enabled: r.bool("ingest_enabled")?,
        last_ingest_ms: r.opt_int("last_ingest_ms")?,
    })
}

/// Collections of one source, or the one with id `only`, or all, ordered by id.
pub fn collections(
    tx: &mut dyn Tx,
    source: Option<&str>,
    only: Option<&str>,
) -> StoreResult<Vec<CollectionRecord>> {
    let (filter, params) = match (source, only) {
        (_, Some(id)) => ("WHERE id = $1", vec![Value::from(id)]),
        (Some(s), None) => ("WHERE source_id = $1", vec![Value::from(s)]),
        (None, None) => ("", vec![]),
    };
    tx.query(
        &format!(
            "SELECT id, source_id, external_key, name, kind, locations_json, path_map_json, \
             ingest_enabled, last_ingest_ms FROM collection {filter} ORDER BY id"
        ),
        &params,
    )?
    .iter()
    .map(collection)
    .collect()
}

/// Records what discovery found: new collections are inserted, known ones (same source and
/// external key) keep their id, ingest flag and path map and get the new name and locations.
pub fn discover_collections(
    tx: &mut dyn Tx,
    found: &[CollectionRecord],
) -> StoreResult<Vec<CollectionRecord>> {
    let mut out = Vec::new();
    for record in found {
        let existing = tx.query(
            "SELECT id FROM collection WHERE source_id = $1 AND external_key = $2",
            &[
                Value::from(&record.source_id),
                Value::from(&record.external_key),
            ],
        )?;
        match existing.first() {
            Some(row) => {
                let id = row.text("id")?;
                tx.execute(
                    "UPDATE collection SET name = $2, kind = $3, locations_json = $4 WHERE id = $1",
                    &[
                        Value::from(&id),
                        Value::from(&record.name),
                        Value::from(&record.kind),
                        json(&record.locations),
                    ],
                )?;
                out.extend(collections(tx, None, Some(&id))?);
            }
            None => {
                let mut id = record.id.clone();
                let mut n = 2;
                while !collections(tx, None, Some(&id))?.is_empty() {
                    id = format!("{}-{n}", record.id);
                    n += 1;
                }
                let record = CollectionRecord {
                    id,
                    ..record.clone()
                };
                put_collection(tx, &record, true)?;
                out.push(record);
            }
        }
    }
    Ok(out)
}

pub fn put_collection(tx: &mut dyn Tx, record: &CollectionRecord, create: bool) -> StoreResult<()> {
    let params = [
        Value::from(&record.id),
        Value::from(&record.source_id),
        Value::from(&record.external_key),
        Value::from(&record.name),
        Value::from(&record.kind),
        json(&record.locations),
        json(&record.path_map),
        Value::Bool(record.ingest_enabled),
        Value::from(record.last_ingest_ms),
    ];
    if create {
        crate::store::check_id("collection", &record.id)?;
        tx.execute(
            "INSERT INTO collection (id, source_id, external_key, name, kind, locations_json, \
             path_map_json, ingest_enabled, last_ingest_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &params,
        )?;
    } else {
        let changed = tx.execute(
            "UPDATE collection SET source_id = $2, external_key = $3, name = $4, kind = $5, \
             locations_json = $6, path_map_json = $7, ingest_enabled = $8, last_ingest_ms = $9 \
             WHERE id = $1",
            &params,
        )?;
        if changed == 0 {
            return Err(StoreError::bad(format!(
                "unknown collection {:?}",
                record.id
            )));
        }
    }
    Ok(())
}

/// Deletes every asset of a collection; refuses (naming `owner`) when one has history or is
/// referenced. Returns how many were deleted.
pub fn wipe_collection(
    tx: &mut dyn Tx,
    id: &str,
    owner: &str,
    dry_run: bool,
) -> StoreResult<usize> {
    let ids = tx
        .query(
            "SELECT id FROM asset WHERE collection_id = $1 ORDER BY id",
            &[Value::from(id)],
        )?
        .iter()
        .map(|r| r.text("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let aired = tx.query(
        "SELECT a.id FROM asset a WHERE a.collection_id = $1 AND (\
         EXISTS (SELECT 1 FROM as_run r WHERE r.asset_id = a.id) OR \
         EXISTS (SELECT 1 FROM playlog_event p WHERE p.asset_id = a.id)) ORDER BY a.id LIMIT 1",
        &[Value::from(id)],
    )?;
    if let Some(first) = aired.first() {
        return Err(StoreError::bad(format!(
            "{owner}: asset {:?} of collection {id:?} has aired or scheduled history; \
             retire assets instead (`retrovue asset retire`)",
            first.text("id")?
        )));
    }
    let referenced = tx.query(
        "SELECT a.id FROM asset a WHERE a.collection_id = $1 AND (\
         EXISTS (SELECT 1 FROM program_asset x WHERE x.asset_id = a.id) OR \
         EXISTS (SELECT 1 FROM virtual_asset_part x WHERE x.asset_id = a.id) OR \
         EXISTS (SELECT 1 FROM zone_item x WHERE x.asset_id = a.id)) ORDER BY a.id LIMIT 1",
        &[Value::from(id)],
    )?;
    if let Some(first) = referenced.first() {
        return Err(StoreError::bad(format!(
            "{owner}: asset {:?} of collection {id:?} is used by a program, virtual asset or \
             zone; remove it there first",
            first.text("id")?
        )));
    }
    if !dry_run {
        tx.execute(
            "DELETE FROM asset WHERE collection_id = $1",
            &[Value::from(id)],
        )?;
    }
    Ok(ids.len())
}

// ---------------------------------------------------------------------------------------------
// Enrichers

pub fn enrichers(tx: &mut dyn Tx) -> StoreResult<Vec<EnricherRecord>> {
    tx.query(
        "SELECT id, kind, timeout_ms, position FROM ingest_enricher ORDER BY position, id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(EnricherRecord {
            id: r.text("id")?,
            kind: r.text("kind")?,
            timeout_ms: r.int("timeout_ms")?,
            position: r.int("position")?,
        })
    })
    .collect()
}

/// Adds an enricher at the end of the order; an existing id is bad input.
pub fn add_enricher(tx: &mut dyn Tx, record: &EnricherRecord) -> StoreResult<EnricherRecord> {
    let existing = enrichers(tx)?;
    if existing.iter().any(|e| e.id == record.id) {
        return Err(StoreError::bad(format!(
            "enricher {:?} already exists",
            record.id
        )));
    }
    let record = EnricherRecord {
        position: existing.iter().map(|e| e.position + 1).max().unwrap_or(0),
        ..record.clone()
    };
    tx.execute(
        "INSERT INTO ingest_enricher (id, kind, timeout_ms, position) VALUES ($1, $2, $3, $4)",
        &[
            Value::from(&record.id),
            Value::from(&record.kind),
            Value::Int(record.timeout_ms),
            Value::Int(record.position),
        ],
    )?;
    Ok(record)
}

pub fn remove_enricher(tx: &mut dyn Tx, id: &str) -> StoreResult<()> {
    if tx.execute(
        "DELETE FROM ingest_enricher WHERE id = $1",
        &[Value::from(id)],
    )? == 0
    {
        return Err(StoreError::bad(format!("unknown enricher {id:?}")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Assets

pub fn catalog_assets(tx: &mut dyn Tx, filter: &AssetFilter) -> StoreResult<Vec<CatalogAsset>> {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    let mut add = |condition: &str, value: Value| {
        params.push(value);
        conditions.push(condition.replace('?', &format!("${}", params.len())));
    };
    if let Some(c) = &filter.collection {
        add("collection_id = ?", Value::from(c));
    }
    if let Some(k) = filter.kind {
        add("kind = ?", Value::from(k.as_str()));
    }
    if let Some(s) = filter.state {
        add("state = ?", Value::from(s.as_str()));
    }
    if let Some(s) = &filter.series {
        add("series = ?", Value::from(s));
    }
    if let Some(a) = filter.approved {
        add("approved = ?", Value::Bool(a));
    }
    if !filter.include_deleted {
        add("deleted = ?", Value::Bool(false));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    tx.query(
        &format!(
            "SELECT {} FROM asset {filter} ORDER BY id",
            codec::column_list(&asset_column_types())
        ),
        &params,
    )?
    .iter()
    .map(catalog_asset)
    .collect()
}

pub fn catalog_asset_by_id(tx: &mut dyn Tx, id: &str) -> StoreResult<Option<CatalogAsset>> {
    tx.query(
        &format!(
            "SELECT {} FROM asset WHERE id = $1",
            codec::column_list(&asset_column_types())
        ),
        &[Value::from(id)],
    )?
    .first()
    .map(catalog_asset)
    .transpose()
}

fn update_asset_row(tx: &mut dyn Tx, asset: &CatalogAsset) -> StoreResult<()> {
    let sets: Vec<String> = asset_column_types()
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, (name, _))| format!("{name} = ${}", i + 1))
        .collect();
    let changed = tx
        .execute(
            &format!("UPDATE asset SET {} WHERE id = $1", sets.join(", ")),
            &asset_values(asset),
        )
        .map_err(|e| StoreError::bad(format!("asset {:?}: {e}", asset.asset.id)))?;
    if changed == 0 {
        return Err(StoreError::bad(format!(
            "unknown asset {:?}",
            asset.asset.id
        )));
    }
    Ok(())
}

/// Writes an edited asset (update, approve, retire).
pub fn put_catalog_asset(tx: &mut dyn Tx, asset: &CatalogAsset) -> StoreResult<()> {
    update_asset_row(tx, asset)
}

/// Counts of what an ingest write changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestCounts {
    pub inserted: usize,
    pub updated: usize,
    pub vanished: usize,
}

/// ASSET-003: one collection's ingest, all or nothing.
pub fn apply_ingest(tx: &mut dyn Tx, write: &IngestWrite) -> StoreResult<IngestCounts> {
    let rows: Vec<Vec<Value>> = write.inserts.iter().map(asset_values).collect();
    tx.insert_rows("asset", &asset_column_types(), &rows)
        .map_err(|e| StoreError::bad(format!("collection {:?}: {e}", write.collection_id)))?;
    for asset in &write.updates {
        update_asset_row(tx, asset)?;
    }
    for id in &write.vanished {
        tx.execute(
            "UPDATE asset SET deleted = $2, deleted_at_ms = $3, updated_at_ms = $3 \
             WHERE id = $1 AND deleted = $4",
            &[
                Value::from(id),
                Value::Bool(true),
                Value::Int(write.now),
                Value::Bool(false),
            ],
        )?;
    }
    tx.execute(
        "UPDATE collection SET last_ingest_ms = $2 WHERE id = $1",
        &[Value::from(&write.collection_id), Value::Int(write.now)],
    )?;
    Ok(IngestCounts {
        inserted: write.inserts.len(),
        updated: write.updates.len(),
        vanished: write.vanished.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Deletes of scheduling nouns (CLI-005)

fn count(tx: &mut dyn Tx, sql: &str, id: &str) -> StoreResult<usize> {
    match tx.query(sql, &[Value::from(id)])?.first() {
        Some(r) => Ok(r.int_as("n")?),
        None => Ok(0),
    }
}

/// What depends on a channel: its stored days and as-run records.
pub fn channel_dependents(tx: &mut dyn Tx, id: &str) -> StoreResult<Dependents> {
    let history = count(
        tx,
        "SELECT COUNT(*) AS n FROM as_run WHERE channel_id = $1",
        id,
    )? + count(
        tx,
        "SELECT COUNT(*) AS n FROM schedule_day WHERE channel_id = $1",
        id,
    )?;
    Ok(Dependents {
        history,
        references: vec![],
    })
}

pub fn delete_channel(tx: &mut dyn Tx, id: &str, dry_run: bool) -> StoreResult<()> {
    let dependents = channel_dependents(tx, id)?;
    if dependents.history > 0 {
        return Err(StoreError::bad(format!(
            "channel {id:?} has aired or scheduled history ({} ScheduleDay/as-run records); \
             deactivate it instead: retrovue channel update {id} --active false",
            dependents.history
        )));
    }
    if dry_run {
        return Ok(());
    }
    if tx.execute("DELETE FROM channel WHERE id = $1", &[Value::from(id)])? == 0 {
        return Err(StoreError::bad(format!("unknown channel {id:?}")));
    }
    Ok(())
}

/// What depends on a program: zones naming it, and ScheduleDays whose rotation tracks it.
pub fn program_dependents(tx: &mut dyn Tx, id: &str) -> StoreResult<Dependents> {
    let mut references = BTreeMap::new();
    for r in tx.query(
        "SELECT z.channel_id, p.name AS plan_name, z.name AS zone_name FROM zone_item i \
         JOIN zone z ON z.channel_id = i.channel_id AND z.plan_position = i.plan_position \
         AND z.position = i.zone_position \
         JOIN schedule_plan p ON p.channel_id = i.channel_id AND p.position = i.plan_position \
         WHERE i.program_id = $1",
        &[Value::from(id)],
    )? {
        references.insert(
            format!(
                "channel {:?} plan {:?} zone {:?}",
                r.text("channel_id")?,
                r.text("plan_name")?,
                r.text("zone_name")?
            ),
            (),
        );
    }
    let history = count(
        tx,
        "SELECT COUNT(*) AS n FROM day_rotation WHERE program_id = $1",
        id,
    )?;
    Ok(Dependents {
        history,
        references: references.into_keys().collect(),
    })
}

pub fn delete_program(tx: &mut dyn Tx, id: &str, dry_run: bool) -> StoreResult<()> {
    let dependents = program_dependents(tx, id)?;
    if let Some(first) = dependents.references.first() {
        return Err(StoreError::bad(format!(
            "program {id:?} is used by {first}; remove it from the zone first"
        )));
    }
    if dependents.history > 0 {
        return Err(StoreError::bad(format!(
            "program {id:?} has scheduled history ({} ScheduleDays rotate it); it cannot be \
             deleted",
            dependents.history
        )));
    }
    if dry_run {
        return Ok(());
    }
    if tx.execute("DELETE FROM program WHERE id = $1", &[Value::from(id)])? == 0 {
        return Err(StoreError::bad(format!("unknown program {id:?}")));
    }
    Ok(())
}
