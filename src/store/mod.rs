//! Persistence (STORE-001..017): the `Store` boundary, its SQLite and PostgreSQL backends, and
//! database URL selection. All SQL of the program lives under this module.

pub mod backup;
pub mod build;
pub mod catalog;
pub mod cluster;
pub mod cluster_status;
mod codec;
pub mod media_check;
pub mod migrations;
pub mod postgres;
pub mod serve_lock;
pub mod sql;
mod sql_store;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;
use retrovue_core::chain::{ChainDay, ChainState};
use retrovue_core::model::{
    AsRunRecord, Catalog, Channel, Lineup, PlaylogEvent, RotationState, ScheduleDay, TrafficState,
    UtcMs,
};
use serde::Serialize;

use crate::error::AppError;
pub use catalog::{
    AssetFilter, CatalogAsset, CollectionRecord, Dependents, EnricherRecord, IngestCounts,
    IngestWrite, SourceConfig, SourceRecord, EDITABLE_FIELDS,
};
pub use migrations::{MigrationState, MigrationStatus};
use sql::{DbError, DbErrorKind};
pub use sql_store::SqlStore;

/// Why a store call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// A constraint violation, an unknown reference or a request that can never succeed.
    BadInput,
    /// Another writer changed what this one expected (a racing builder); retrying may succeed.
    Conflict,
    /// The ScheduleDay's window has started: it is never rewritten.
    Locked,
    /// A changed or missing applied migration, or a failed one.
    Migration,
    /// The database itself failed (connection, I/O).
    Backend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::BadInput, message)
    }

    pub fn conflict(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Conflict, message)
    }

    pub fn migration(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Migration, message)
    }

    pub fn backend(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Backend, message)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StoreErrorKind::Conflict => write!(f, "conflict: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<DbError> for StoreError {
    /// Constraint violations are the caller's input; anything else is the database's failure.
    fn from(error: DbError) -> StoreError {
        match error.kind {
            DbErrorKind::Other => StoreError::backend(format!("database error: {}", error.message)),
            // STORE-016: the message names the column and its table.
            DbErrorKind::Decode => StoreError::backend(error.message),
            _ => StoreError::bad(format!("constraint violated: {}", error.message)),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error.kind {
            StoreErrorKind::BadInput | StoreErrorKind::Locked => AppError::bad(error.to_string()),
            StoreErrorKind::Conflict | StoreErrorKind::Migration | StoreErrorKind::Backend => {
                AppError::runtime(error.to_string())
            }
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A stored ScheduleDay record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredDay {
    pub id: i64,
    /// The record this one overrides (STORE-008).
    pub supersedes: Option<i64>,
    /// False once an override superseded it.
    pub current: bool,
    pub built_at_ms: UtcMs,
    pub day: ScheduleDay,
}

impl StoredDay {
    /// STORE-005: a day is locked once its window has started.
    pub fn is_locked(&self, now: UtcMs) -> bool {
        self.day.window_start <= now
    }
}

/// Everything written for one day, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayWrite {
    pub day: ScheduleDay,
    pub playlog: Vec<PlaylogEvent>,
    /// Rotation and traffic state after this day.
    pub rotation: RotationState,
    pub traffic: TrafficState,
    /// The chain's carry-out after this day (SCHED-007): the later of what was carried into it
    /// and its own last slot end. `None` stores the day's own last slot end.
    pub previous_slot_end: Option<UtcMs>,
}

impl DayWrite {
    /// The write of one day built by the core's `DayChain`.
    pub fn from_chain(built: ChainDay) -> DayWrite {
        DayWrite {
            day: built.day,
            playlog: built.playlog,
            rotation: built.after.rotation,
            traffic: built.after.traffic,
            previous_slot_end: built.after.previous_slot_end,
        }
    }

    /// What the next day is built from (stored with this day).
    pub fn after(&self) -> ChainState {
        ChainState {
            previous_slot_end: self.previous_slot_end.max(self.day.last_slot_end()),
            rotation: self.rotation.clone(),
            traffic: self.traffic.clone(),
        }
    }
}

/// What building day D starts from (STORE-007): the state after the stored day before it
/// (`previous_slot_end` only when that day is D−1).
pub type DayState = ChainState;

/// One stored day of a chain with the state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub stored: StoredDay,
    pub after: ChainState,
    /// As-run records exist within `[effective_start, covers_until)`.
    pub has_as_run: bool,
    /// The operator overrides this record applies (STORE-030; empty: none).
    pub pins: Vec<OverridePin>,
}

/// One operator override of a slot (STORE-030, CLI-040).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OverridePin {
    /// The slot's start (UTC ms).
    pub at: UtcMs,
    pub item: retrovue_core::model::ItemRef,
    pub reason: Option<String>,
    pub made_at_ms: UtcMs,
}

impl OverridePin {
    pub fn core(&self) -> retrovue_core::schedule::Pin {
        retrovue_core::schedule::Pin {
            at: self.at,
            item: self.item.clone(),
        }
    }
}

/// A stored ScheduleDay record an override produced (STORE-030).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideRecord {
    /// The ScheduleDay record's id (what `schedule override delete` takes).
    pub id: i64,
    pub channel: String,
    pub date: NaiveDate,
    pub supersedes: Option<i64>,
    pub current: bool,
    pub created_at_ms: UtcMs,
    pub pins: Vec<OverridePin>,
}

/// What becomes of the record an entry of a chain write replaces (STORE-030).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryHistory {
    /// Deleted (a rebuild); the new record has no history.
    Replace,
    /// Kept as history: marked not current, the new record supersedes it and applies `pins`
    /// (an override).
    Supersede { pins: Vec<OverridePin> },
    /// Deleted; the new record supersedes `supersedes` (a record kept as history) and applies
    /// `pins` (an overridden day rebuilt, or one of its overrides removed).
    ReplaceKeeping {
        supersedes: i64,
        pins: Vec<OverridePin>,
    },
    /// Deleted, and the stored record `0` (which it superseded) becomes current again; the
    /// entry carries no write (an override removed whose superseded record still fits).
    Restore(i64),
}

impl ChainLink {
    /// STORE-014: aired (never rewritten) when its window began by `lock_at` or it has as-run
    /// records.
    pub fn is_aired(&self, lock_at: UtcMs) -> bool {
        self.stored.is_locked(lock_at) || self.has_as_run
    }
}

/// A channel's stored chain from a date on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredChain {
    /// The latest current day before the date, if any.
    pub predecessor: Option<ChainLink>,
    /// Every current day from the date on, in date order.
    pub days: Vec<ChainLink>,
}

/// One date of a chain write: the record the builder read there (`expected`, None: no day) and
/// what replaces it (None: kept as it is, only verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub date: NaiveDate,
    pub expected: Option<i64>,
    pub write: Option<DayWrite>,
}

/// A run of days written in one transaction (STORE-012, STORE-013).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainWrite {
    pub channel: String,
    /// The current record of the latest day before the first entry the builder built on.
    pub predecessor: Option<i64>,
    /// Entries in date order.
    pub entries: Vec<ChainEntry>,
    /// The current record of the first day after the last entry, as read.
    pub next: Option<i64>,
}

/// The lock instant: `--now` may only lock more days than the real clock (STORE-014).
pub fn lock_instant(now: UtcMs) -> UtcMs {
    now.max(now_ms())
}

/// Counts of what an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub assets: usize,
    pub programs: usize,
    pub virtual_assets: usize,
    pub channels: usize,
}

/// The persistence boundary. Every writing call is one transaction: it either happens entirely
/// or leaves the database as it was.
pub trait Store {
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
    /// Verify applied migrations (MIGRATE-003) and list every known one. Writes nothing.
    fn migration_status(&mut self) -> StoreResult<Vec<MigrationStatus>>;
    /// Apply pending migrations (MIGRATE-001).
    fn migrate(&mut self) -> StoreResult<Vec<MigrationStatus>>;

    /// STORE-002: upsert the catalog, upsert channels and replace their plans, all or nothing.
    fn import_lineup(&mut self, lineup: &Lineup) -> StoreResult<ImportSummary>;
    /// Everything stored: the catalog and every channel (ordered by id).
    fn load_lineup(&mut self) -> StoreResult<Lineup>;
    fn load_catalog(&mut self) -> StoreResult<Catalog>;
    fn load_channel(&mut self, id: &str) -> StoreResult<Option<Channel>>;

    /// The current record of a day, if stored.
    fn current_day(&mut self, channel: &str, date: NaiveDate) -> StoreResult<Option<StoredDay>>;
    /// Current records of `from..=to`, in date order.
    fn current_days(
        &mut self,
        channel: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<StoredDay>>;
    /// Every record of a day, oldest first (overrides keep what they superseded).
    fn day_history(&mut self, channel: &str, date: NaiveDate) -> StoreResult<Vec<StoredDay>>;
    /// STORE-007: the state building `date` starts from.
    fn state_before(&mut self, channel: &str, date: NaiveDate) -> StoreResult<DayState>;
    /// The rotation state after the channel's latest stored day.
    fn rotation_state(&mut self, channel: &str) -> StoreResult<RotationState>;

    /// The channel's stored chain from `from` on, with the predecessor (STORE-012).
    fn read_chain(&mut self, channel: &str, from: NaiveDate) -> StoreResult<StoredChain>;
    /// STORE-012/013/014: write a run of days in one transaction, verifying every record the
    /// builder read is still current and no replaced day is aired at `now` (or the real clock).
    /// Returns the new records' ids (for entries with a write), in order.
    fn put_chain(&mut self, write: &ChainWrite, now: UtcMs) -> StoreResult<Vec<i64>>;
    /// [`Store::put_chain`] where `history[i]` says what becomes of the record entry `i`
    /// replaces (STORE-030; missing entries: [`EntryHistory::Replace`]). Returns the id of each
    /// written or restored record, in order.
    fn put_chain_history(
        &mut self,
        write: &ChainWrite,
        history: &[EntryHistory],
        now: UtcMs,
    ) -> StoreResult<Vec<i64>>;
    /// A stored ScheduleDay record (current or history) with the state after it.
    fn day_record(&mut self, id: i64) -> StoreResult<Option<ChainLink>>;
    /// Override records (STORE-030), of one channel or all, by channel, date and id; only those
    /// in force (current) unless `history`.
    fn overrides(
        &mut self,
        channel: Option<&str>,
        history: bool,
    ) -> StoreResult<Vec<OverrideRecord>>;
    /// Every current day of a channel, in date order (for `schedule check`).
    fn all_current_days(&mut self, channel: &str) -> StoreResult<Vec<StoredDay>>;

    /// STORE-004/005/007: write a day, its playlog and the state after it. `expected` is the id
    /// of the current record the caller saw (None: no day stored); it is replaced only if still
    /// current and not locked at `now`. Returns the new record's id.
    fn put_day(&mut self, write: &DayWrite, expected: Option<i64>, now: UtcMs) -> StoreResult<i64>;
    /// STORE-008: a new current record that supersedes `supersedes` (kept as history).
    fn override_day(&mut self, supersedes: i64, write: &DayWrite, now: UtcMs) -> StoreResult<i64>;

    /// The playlog of one stored record, in order.
    fn day_playlog(&mut self, day_id: i64) -> StoreResult<Vec<PlaylogEvent>>;
    /// Events of current days overlapping `[from, to)`, in time order.
    fn playlog(&mut self, channel: &str, from: UtcMs, to: UtcMs) -> StoreResult<Vec<PlaylogEvent>>;

    /// STORE-009: append an as-run record of engine session `session`; durable when this
    /// returns. ASRUN-002: once per (channel, playlog event, session): a repeat stores nothing
    /// and returns the id already stored. Returns the record's id.
    fn record_as_run(&mut self, record: &AsRunRecord, session: &str) -> StoreResult<i64>;
    /// As-run records overlapping `[from, to)`, in time order.
    fn as_run(&mut self, channel: &str, from: UtcMs, to: UtcMs) -> StoreResult<Vec<AsRunRecord>>;

    // Ingest catalog (contracts/assets.md, contracts/cli.md).

    /// Sources ordered by id (or the one with id `only`).
    fn sources(&mut self, only: Option<&str>) -> StoreResult<Vec<SourceRecord>>;
    /// Insert (`create`) or replace a source.
    fn put_source(&mut self, source: &SourceRecord, create: bool) -> StoreResult<()>;
    /// Delete a source with its collections and their assets; refuses over history or
    /// references. Returns how many assets went. `dry_run`: every check, no delete.
    fn delete_source(&mut self, id: &str, dry_run: bool) -> StoreResult<usize>;
    /// Collections of a source (or all, or the one with id `only`), ordered by id.
    fn collections(
        &mut self,
        source: Option<&str>,
        only: Option<&str>,
    ) -> StoreResult<Vec<CollectionRecord>>;
    /// Record discovered collections (new ones inserted, known ones refreshed).
    fn discover_collections(
        &mut self,
        found: &[CollectionRecord],
    ) -> StoreResult<Vec<CollectionRecord>>;
    fn update_collection(&mut self, collection: &CollectionRecord) -> StoreResult<()>;
    /// Delete every asset of a collection; refuses over history or references.
    fn wipe_collection(&mut self, id: &str, dry_run: bool) -> StoreResult<usize>;
    fn enrichers(&mut self) -> StoreResult<Vec<EnricherRecord>>;
    fn add_enricher(&mut self, enricher: &EnricherRecord) -> StoreResult<EnricherRecord>;
    fn remove_enricher(&mut self, id: &str) -> StoreResult<()>;
    /// Assets with their ingest identity, filtered, ordered by id.
    fn catalog_assets(&mut self, filter: &AssetFilter) -> StoreResult<Vec<CatalogAsset>>;
    fn catalog_asset(&mut self, id: &str) -> StoreResult<Option<CatalogAsset>>;
    /// Replace a stored asset's row (update, approve, retire).
    fn put_catalog_asset(&mut self, asset: &CatalogAsset) -> StoreResult<()>;
    /// ASSET-003: write one collection's ingest in one transaction.
    fn apply_ingest(&mut self, write: &IngestWrite) -> StoreResult<IngestCounts>;
    /// Delete a channel (plans and zones with it); refuses when it has history.
    fn delete_channel(&mut self, id: &str, dry_run: bool) -> StoreResult<()>;
    /// Delete a program; refuses when a zone uses it or a ScheduleDay rotates it.
    fn delete_program(&mut self, id: &str, dry_run: bool) -> StoreResult<()>;

    /// STORE-040: write every table to `out` from one snapshot.
    fn backup(&mut self, out: &mut dyn std::io::Write) -> StoreResult<backup::BackupSummary>;
    /// STORE-041: restore a backup into this (empty, migrated) database in one transaction;
    /// `dry_run`: every check and insert, then rolled back.
    fn restore(
        &mut self,
        input: &mut dyn std::io::BufRead,
        dry_run: bool,
    ) -> StoreResult<backup::BackupSummary>;
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

/// STORE-001: parse `sqlite://PATH` or `postgres://…`; anything else is bad input.
pub fn parse_url(url: &str) -> StoreResult<DatabaseUrl> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::bad(format!(
                "database URL {url:?} has no path: use sqlite://PATH"
            )));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseUrl::Postgres(url.to_string()));
    }
    Err(StoreError::bad(format!(
        "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
    )))
}

/// STORE-001: the URL to use: `--db`/RETROVUE_DATABASE_URL, else the SQLite file in
/// RETROVUE_HOME (default `./.retrovue/`, created when missing).
pub fn resolve_url(explicit: Option<&str>) -> StoreResult<String> {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return Ok(url.to_string());
    }
    let home = std::env::var("RETROVUE_HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "./.retrovue/".to_string());
    let home = PathBuf::from(home);
    std::fs::create_dir_all(&home).map_err(|e| {
        StoreError::backend(format!(
            "cannot create RETROVUE_HOME {}: {e}",
            home.display()
        ))
    })?;
    Ok(format!("sqlite://{}", home.join("retrovue.db").display()))
}

/// Is this a PostgreSQL URL (cluster mode, contracts/cluster.md)?
pub fn is_postgres(url: &str) -> bool {
    matches!(parse_url(url), Ok(DatabaseUrl::Postgres(_)))
}

/// Connect without touching the schema (for `db status`).
pub fn connect(url: &str) -> StoreResult<Box<dyn Store>> {
    match parse_url(url)? {
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(StoreError::bad(format!(
                        "directory {} of the SQLite database does not exist",
                        parent.display()
                    )));
                }
            }
            let backend = sqlite::SqliteBackend::open(&path).map_err(StoreError::from_db)?;
            Ok(Box::new(SqlStore::new(backend, migrations::SQLITE)))
        }
        DatabaseUrl::Postgres(url) => {
            let backend = postgres::PostgresBackend::connect(&url).map_err(StoreError::from_db)?;
            Ok(Box::new(SqlStore::new(backend, migrations::POSTGRES)))
        }
    }
}

/// STORE-054: a new channel, program, virtual asset, source or collection id is at most
/// [`retrovue_core::validate::MAX_ID_LEN`] characters (what the CLI and the lineup file check
/// first; the store refuses it whoever writes).
pub fn check_id(what: &str, id: &str) -> StoreResult<()> {
    let max = retrovue_core::validate::MAX_ID_LEN;
    let length = id.chars().count();
    if length > max {
        return Err(StoreError::bad(format!(
            "{what} id {:?}… is {length} characters long (at most {max}); nothing stored",
            id.chars().take(24).collect::<String>()
        )));
    }
    Ok(())
}

/// STORE-053: for an SQLite URL whose file exists, SQLite's `PRAGMA quick_check`; a damaged
/// file is a `Backend` error naming the file and what SQLite found. PostgreSQL checks itself.
pub fn quick_check(url: &str) -> StoreResult<()> {
    match parse_url(url)? {
        DatabaseUrl::Sqlite(path) if path.is_file() => sqlite::quick_check(&path)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e.message)),
        _ => Ok(()),
    }
}

/// Connect, verify applied migrations and apply pending ones (what every command and the
/// daemon do at start).
pub fn open(url: &str) -> StoreResult<Box<dyn Store>> {
    let mut store = connect(url)?;
    store.migrate()?;
    Ok(store)
}

impl StoreError {
    /// A connection failure is the environment's, never the input's.
    fn from_db(error: DbError) -> StoreError {
        StoreError::backend(error.message)
    }
}

/// The shell's clock, in UTC milliseconds (the core never reads it).
pub fn now_ms() -> UtcMs {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    elapsed.as_millis() as i64
}
