//! The `Store` implementation shared by both backends: all statements, written once against
//! [`crate::store::sql::Tx`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use retrovue_core::model::{
    AsRunRecord, AsRunStatus, Asset, BreakPolicy, Catalog, Channel, EventKind, ItemRef, Lineup,
    PlayMode, PlaylogEvent, Program, RotationState, ScheduleDay, SchedulePlan, TrafficState, UtcMs,
    VirtualAsset, Zone,
};

use crate::store::backup;
use crate::store::catalog::{
    self, AssetFilter, CatalogAsset, CollectionRecord, EnricherRecord, IngestCounts, IngestWrite,
    SourceRecord,
};
use crate::store::codec::{
    self, asset_values, date_column, enum_column, json, json_column, opt_date_column, unknown,
    weekday_name,
};
use crate::store::migrations::{self, Migration, MigrationStatus};
use crate::store::sql::{Backend, ColType, DbErrorKind, Row, Tx, TxMode, Value};
use crate::store::{
    lock_instant, ChainLink, ChainWrite, DayState, DayWrite, EntryHistory, ImportSummary,
    OverridePin, OverrideRecord, Store, StoreError, StoreErrorKind, StoreResult, StoredChain,
    StoredDay,
};

/// How a restore's transaction ended without committing.
enum Restore {
    Failed(StoreError),
    DryRun(backup::BackupSummary),
}

impl From<crate::store::sql::DbError> for Restore {
    fn from(error: crate::store::sql::DbError) -> Restore {
        Restore::Failed(error.into())
    }
}

/// A [`Store`] over any [`Backend`].
pub struct SqlStore<B: Backend> {
    backend: B,
    migrations: &'static [Migration],
}

impl<B: Backend> SqlStore<B> {
    pub fn new(backend: B, migrations: &'static [Migration]) -> SqlStore<B> {
        SqlStore {
            backend,
            migrations,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lineup: import

/// STORE-002: every id a lineup refers to must be in the lineup or already stored.
fn check_references(tx: &mut dyn Tx, lineup: &Lineup) -> StoreResult<()> {
    let catalog = &lineup.catalog;
    let mut exists_cache: BTreeMap<(&'static str, String), bool> = BTreeMap::new();
    let mut exists = |tx: &mut dyn Tx, table: &'static str, id: &str| -> StoreResult<bool> {
        if let Some(&known) = exists_cache.get(&(table, id.to_string())) {
            return Ok(known);
        }
        let found = !tx
            .query(
                &format!("SELECT 1 FROM {table} WHERE id = $1"),
                &[Value::from(id)],
            )?
            .is_empty();
        exists_cache.insert((table, id.to_string()), found);
        Ok(found)
    };
    for program in catalog.programs.values() {
        for asset in &program.assets {
            if !catalog.assets.contains_key(asset) && !exists(tx, "asset", asset)? {
                return Err(StoreError::bad(format!(
                    "program {:?}: unknown asset {asset:?} (not in the lineup nor the database)",
                    program.id
                )));
            }
        }
    }
    for virtual_asset in catalog.virtual_assets.values() {
        for part in &virtual_asset.parts {
            if !catalog.assets.contains_key(part) && !exists(tx, "asset", part)? {
                return Err(StoreError::bad(format!(
                    "virtual_asset {:?}: unknown part {part:?} (not in the lineup nor the database)",
                    virtual_asset.id
                )));
            }
        }
    }
    for channel in &lineup.channels {
        for plan in &channel.plans {
            for zone in &plan.zones {
                for item in &zone.items {
                    let (table, id, known) = match item {
                        ItemRef::Program { id } => {
                            ("program", id, catalog.programs.contains_key(id))
                        }
                        ItemRef::Asset { id } => ("asset", id, catalog.assets.contains_key(id)),
                        ItemRef::Virtual { id } => {
                            ("virtual_asset", id, catalog.virtual_assets.contains_key(id))
                        }
                        ItemRef::Synthetic { .. } => continue,
                    };
                    if !known && !exists(tx, table, id)? {
                        return Err(StoreError::bad(format!(
                            "channel {:?} plan {:?} zone {:?}: unknown {table} {id:?} (not in \
                             the lineup nor the database)",
                            channel.id, plan.name, zone.name
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn upsert_asset(tx: &mut dyn Tx, asset: &Asset) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO asset (id, kind, title, series, season, episode, description, rating, \
         genres_json, year, duration_ms, chapters_json, path, state, approved, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, \
         series = excluded.series, season = excluded.season, episode = excluded.episode, \
         description = excluded.description, rating = excluded.rating, \
         genres_json = excluded.genres_json, year = excluded.year, \
         duration_ms = excluded.duration_ms, chapters_json = excluded.chapters_json, \
         path = excluded.path, state = excluded.state, approved = excluded.approved, \
         deleted = excluded.deleted",
        &asset_values(asset),
    )
    .map_err(|e| StoreError::bad(format!("asset {:?}: {e}", asset.id)))?;
    Ok(())
}

fn upsert_program(tx: &mut dyn Tx, program: &Program) -> StoreResult<()> {
    crate::store::check_id("program", &program.id)?;
    let context = |e| StoreError::bad(format!("program {:?}: {e}", program.id));
    tx.execute(
        "INSERT INTO program (id, title, play_mode, series) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
         play_mode = excluded.play_mode, series = excluded.series",
        &[
            Value::from(&program.id),
            Value::from(&program.title),
            Value::from(program.play_mode.as_str()),
            Value::from(program.series.as_ref()),
        ],
    )
    .map_err(context)?;
    tx.execute(
        "DELETE FROM program_asset WHERE program_id = $1",
        &[Value::from(&program.id)],
    )
    .map_err(context)?;
    let rows: Vec<Vec<Value>> = program
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            vec![
                Value::from(&program.id),
                Value::Int(i as i64),
                Value::from(a),
            ]
        })
        .collect();
    tx.insert_rows(
        "program_asset",
        &[
            ("program_id", ColType::Text),
            ("position", ColType::Int),
            ("asset_id", ColType::Text),
        ],
        &rows,
    )
    .map_err(context)?;
    Ok(())
}

fn upsert_virtual(tx: &mut dyn Tx, virtual_asset: &VirtualAsset) -> StoreResult<()> {
    crate::store::check_id("virtual_asset", &virtual_asset.id)?;
    let context = |e| StoreError::bad(format!("virtual_asset {:?}: {e}", virtual_asset.id));
    tx.execute(
        "INSERT INTO virtual_asset (id, title) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET title = excluded.title",
        &[
            Value::from(&virtual_asset.id),
            Value::from(&virtual_asset.title),
        ],
    )
    .map_err(context)?;
    tx.execute(
        "DELETE FROM virtual_asset_part WHERE virtual_id = $1",
        &[Value::from(&virtual_asset.id)],
    )
    .map_err(context)?;
    let rows: Vec<Vec<Value>> = virtual_asset
        .parts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            vec![
                Value::from(&virtual_asset.id),
                Value::Int(i as i64),
                Value::from(a),
            ]
        })
        .collect();
    tx.insert_rows(
        "virtual_asset_part",
        &[
            ("virtual_id", ColType::Text),
            ("position", ColType::Int),
            ("asset_id", ColType::Text),
        ],
        &rows,
    )
    .map_err(context)?;
    Ok(())
}

fn upsert_channel(tx: &mut dyn Tx, channel: &Channel) -> StoreResult<()> {
    crate::store::check_id("channel", &channel.id)?;
    let context = |e| StoreError::bad(format!("channel {:?}: {e}", channel.id));
    tx.execute(
        "INSERT INTO channel (id, number, name, channel_group, logo, timezone, \
         grid_block_minutes, block_start_offsets_json, programming_day_start_minute, \
         break_policy, interstitials_json, active, filler_title, spot_cooldown_minutes, \
         output_profile) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET number = excluded.number, name = excluded.name, \
         channel_group = excluded.channel_group, logo = excluded.logo, \
         timezone = excluded.timezone, grid_block_minutes = excluded.grid_block_minutes, \
         block_start_offsets_json = excluded.block_start_offsets_json, \
         programming_day_start_minute = excluded.programming_day_start_minute, \
         break_policy = excluded.break_policy, interstitials_json = excluded.interstitials_json, \
         active = excluded.active, filler_title = excluded.filler_title, \
         spot_cooldown_minutes = excluded.spot_cooldown_minutes, \
         output_profile = excluded.output_profile",
        &[
            Value::from(&channel.id),
            Value::from(&channel.number),
            Value::from(&channel.name),
            Value::from(channel.group.as_ref()),
            Value::from(channel.logo.as_ref()),
            Value::from(channel.timezone.name()),
            Value::from(channel.grid_block_minutes),
            json(&channel.block_start_offsets_minutes),
            Value::from(channel.programming_day_start_minute),
            Value::from(channel.break_policy.as_str()),
            json(&channel.interstitials),
            Value::Bool(channel.active),
            Value::from(channel.filler_title.as_ref()),
            Value::from(channel.spot_cooldown_minutes),
            Value::from(channel.output_profile.as_ref()),
        ],
    )
    .map_err(context)?;
    // Plans are replaced whole; zones and their items go with them (ON DELETE CASCADE).
    tx.execute(
        "DELETE FROM schedule_plan WHERE channel_id = $1",
        &[Value::from(&channel.id)],
    )
    .map_err(context)?;
    let mut plans = Vec::new();
    let mut zones = Vec::new();
    let mut items = Vec::new();
    for (p, plan) in channel.plans.iter().enumerate() {
        let days: Vec<String> = plan.days.iter().map(|d| weekday_name(*d)).collect();
        plans.push(vec![
            Value::from(&channel.id),
            Value::Int(p as i64),
            Value::from(&plan.name),
            Value::from(plan.priority),
            Value::Text(days.join(",")),
            Value::from(plan.start_date.map(|d| d.to_string())),
            Value::from(plan.end_date.map(|d| d.to_string())),
            Value::Bool(plan.active),
        ]);
        for (z, zone) in plan.zones.iter().enumerate() {
            zones.push(vec![
                Value::from(&channel.id),
                Value::Int(p as i64),
                Value::Int(z as i64),
                Value::from(&zone.name),
                Value::from(zone.start_minute),
                Value::from(zone.end_minute),
                Value::Bool(zone.enabled),
            ]);
            for (i, item) in zone.items.iter().enumerate() {
                let (kind, program, asset, virtual_id, synthetic, synthetic_ms) = match item {
                    ItemRef::Program { id } => ("program", Some(id), None, None, None, None),
                    ItemRef::Asset { id } => ("asset", None, Some(id), None, None, None),
                    ItemRef::Virtual { id } => ("virtual", None, None, Some(id), None, None),
                    ItemRef::Synthetic { kind, duration_ms } => (
                        "synthetic",
                        None,
                        None,
                        None,
                        Some(kind),
                        Some(*duration_ms),
                    ),
                };
                items.push(vec![
                    Value::from(&channel.id),
                    Value::Int(p as i64),
                    Value::Int(z as i64),
                    Value::Int(i as i64),
                    Value::from(kind),
                    Value::from(program),
                    Value::from(asset),
                    Value::from(virtual_id),
                    Value::from(synthetic),
                    Value::from(synthetic_ms),
                ]);
            }
        }
    }
    tx.insert_rows(
        "schedule_plan",
        &[
            ("channel_id", ColType::Text),
            ("position", ColType::Int),
            ("name", ColType::Text),
            ("priority", ColType::Int),
            ("days", ColType::Text),
            ("start_date", ColType::Text),
            ("end_date", ColType::Text),
            ("active", ColType::Bool),
        ],
        &plans,
    )
    .map_err(context)?;
    tx.insert_rows(
        "zone",
        &[
            ("channel_id", ColType::Text),
            ("plan_position", ColType::Int),
            ("position", ColType::Int),
            ("name", ColType::Text),
            ("start_minute", ColType::Int),
            ("end_minute", ColType::Int),
            ("enabled", ColType::Bool),
        ],
        &zones,
    )
    .map_err(context)?;
    tx.insert_rows(
        "zone_item",
        &[
            ("channel_id", ColType::Text),
            ("plan_position", ColType::Int),
            ("zone_position", ColType::Int),
            ("position", ColType::Int),
            ("kind", ColType::Text),
            ("program_id", ColType::Text),
            ("asset_id", ColType::Text),
            ("virtual_id", ColType::Text),
            ("synthetic_kind", ColType::Text),
            ("synthetic_duration_ms", ColType::Int),
        ],
        &items,
    )
    .map_err(context)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lineup: load

fn load_catalog(tx: &mut dyn Tx) -> StoreResult<Catalog> {
    let mut catalog = Catalog::default();
    let asset_columns = codec::column_list(&codec::ASSET_COLUMN_TYPES);
    for r in tx.query(
        &format!("SELECT {asset_columns} FROM asset ORDER BY id"),
        &[],
    )? {
        let asset = codec::asset(&r)?;
        catalog.assets.insert(asset.id.clone(), asset);
    }
    for r in tx.query(
        "SELECT id, title, play_mode, series FROM program ORDER BY id",
        &[],
    )? {
        let program = Program {
            id: r.text("id")?,
            title: r.text("title")?,
            play_mode: enum_column(&r, "play_mode", PlayMode::parse)?,
            series: r.opt_text("series")?,
            assets: Vec::new(),
        };
        catalog.programs.insert(program.id.clone(), program);
    }
    for r in tx.query(
        "SELECT program_id, asset_id FROM program_asset ORDER BY program_id, position",
        &[],
    )? {
        if let Some(program) = catalog.programs.get_mut(&r.text("program_id")?) {
            program.assets.push(r.text("asset_id")?);
        }
    }
    for r in tx.query("SELECT id, title FROM virtual_asset ORDER BY id", &[])? {
        let virtual_asset = VirtualAsset {
            id: r.text("id")?,
            title: r.text("title")?,
            parts: Vec::new(),
        };
        catalog
            .virtual_assets
            .insert(virtual_asset.id.clone(), virtual_asset);
    }
    for r in tx.query(
        "SELECT virtual_id, asset_id FROM virtual_asset_part ORDER BY virtual_id, position",
        &[],
    )? {
        if let Some(v) = catalog.virtual_assets.get_mut(&r.text("virtual_id")?) {
            v.parts.push(r.text("asset_id")?);
        }
    }
    Ok(catalog)
}

/// The `channel` columns [`channel`] reads.
const CHANNEL_COLUMNS: &str = "id, number, name, channel_group, logo, timezone, \
     grid_block_minutes, block_start_offsets_json, programming_day_start_minute, break_policy, \
     interstitials_json, active, filler_title, spot_cooldown_minutes, output_profile";

/// A channel without its plans, from a row of [`CHANNEL_COLUMNS`].
fn channel(r: &Row) -> StoreResult<Channel> {
    let timezone = r.text("timezone")?;
    Ok(Channel {
        id: r.text("id")?,
        number: r.text("number")?,
        name: r.text("name")?,
        group: r.opt_text("channel_group")?,
        logo: r.opt_text("logo")?,
        timezone: timezone
            .parse::<Tz>()
            .map_err(|_| unknown(r, "timezone", &timezone))?,
        grid_block_minutes: r.int_as("grid_block_minutes")?,
        block_start_offsets_minutes: json_column(r, "block_start_offsets_json")?,
        programming_day_start_minute: r.int_as("programming_day_start_minute")?,
        break_policy: enum_column(r, "break_policy", BreakPolicy::parse)?,
        interstitials: json_column(r, "interstitials_json")?,
        active: r.bool("active")?,
        filler_title: r.opt_text("filler_title")?,
        spot_cooldown_minutes: r.int_as("spot_cooldown_minutes")?,
        output_profile: r.opt_text("output_profile")?,
        plans: Vec::new(),
    })
}

/// Channels (all, or the one with id `only`) with their plans, zones and items.
fn load_channels(tx: &mut dyn Tx, only: Option<&str>) -> StoreResult<Vec<Channel>> {
    let (filter, params) = match only {
        Some(id) => ("WHERE channel_id = $1", vec![Value::from(id)]),
        None => ("", Vec::new()),
    };
    let channel_filter = filter.replace("channel_id", "id");
    let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
    for r in tx.query(
        &format!("SELECT {CHANNEL_COLUMNS} FROM channel {channel_filter} ORDER BY id"),
        &params,
    )? {
        let channel = channel(&r)?;
        channels.insert(channel.id.clone(), channel);
    }
    for r in tx.query(
        &format!(
            "SELECT channel_id, name, priority, days, start_date, end_date, active \
             FROM schedule_plan {filter} ORDER BY channel_id, position"
        ),
        &params,
    )? {
        let mut days = Vec::new();
        for name in r.text("days")?.split(',').filter(|d| !d.is_empty()) {
            days.push(
                name.parse::<Weekday>()
                    .map_err(|_| unknown(&r, "days", name))?,
            );
        }
        if let Some(channel) = channels.get_mut(&r.text("channel_id")?) {
            channel.plans.push(SchedulePlan {
                name: r.text("name")?,
                priority: r.int_as("priority")?,
                days,
                start_date: opt_date_column(&r, "start_date")?,
                end_date: opt_date_column(&r, "end_date")?,
                active: r.bool("active")?,
                zones: Vec::new(),
            });
        }
    }
    // Positions are dense (0..n) because import writes them that way, so they index vectors.
    for r in tx.query(
        &format!(
            "SELECT channel_id, plan_position, name, start_minute, end_minute, enabled \
             FROM zone {filter} ORDER BY channel_id, plan_position, position"
        ),
        &params,
    )? {
        let plan_position: usize = r.int_as("plan_position")?;
        let plan = channels
            .get_mut(&r.text("channel_id")?)
            .and_then(|c| c.plans.get_mut(plan_position));
        if let Some(plan) = plan {
            plan.zones.push(Zone {
                name: r.text("name")?,
                start_minute: r.int_as("start_minute")?,
                end_minute: r.int_as("end_minute")?,
                items: Vec::new(),
                enabled: r.bool("enabled")?,
            });
        }
    }
    for r in tx.query(
        &format!(
            "SELECT channel_id, plan_position, zone_position, kind, program_id, asset_id, \
             virtual_id, synthetic_kind, synthetic_duration_ms FROM zone_item {filter} \
             ORDER BY channel_id, plan_position, zone_position, position"
        ),
        &params,
    )? {
        let kind = r.text("kind")?;
        let item = match kind.as_str() {
            "program" => ItemRef::Program {
                id: r.text("program_id")?,
            },
            "asset" => ItemRef::Asset {
                id: r.text("asset_id")?,
            },
            "virtual" => ItemRef::Virtual {
                id: r.text("virtual_id")?,
            },
            "synthetic" => ItemRef::Synthetic {
                kind: r.text("synthetic_kind")?,
                duration_ms: r.int("synthetic_duration_ms")?,
            },
            other => return Err(unknown(&r, "kind", other)),
        };
        let plan_position: usize = r.int_as("plan_position")?;
        let zone_position: usize = r.int_as("zone_position")?;
        let zone = channels
            .get_mut(&r.text("channel_id")?)
            .and_then(|c| c.plans.get_mut(plan_position))
            .and_then(|p| p.zones.get_mut(zone_position));
        if let Some(zone) = zone {
            zone.items.push(item);
        }
    }
    Ok(channels.into_values().collect())
}

// ---------------------------------------------------------------------------------------------
// ScheduleDays

const DAY_COLUMNS: &str = "id, channel_id, broadcast_date, plan, window_start, window_end, \
     effective_start, covers_until, items_json, faults_json, supersedes, is_current, built_at_ms";

fn stored_day(r: &Row) -> StoreResult<StoredDay> {
    let id = r.int("id")?;
    let fields = || -> StoreResult<StoredDay> {
        Ok(StoredDay {
            id,
            supersedes: r.opt_int("supersedes")?,
            current: r.bool("is_current")?,
            built_at_ms: r.int("built_at_ms")?,
            day: ScheduleDay {
                channel: r.text("channel_id")?,
                date: date_column(r, "broadcast_date")?,
                plan: r.opt_text("plan")?,
                window_start: r.int("window_start")?,
                window_end: r.int("window_end")?,
                effective_start: r.int("effective_start")?,
                covers_until: r.int("covers_until")?,
                items: json_column(r, "items_json")?,
                faults: json_column(r, "faults_json")?,
            },
        })
    };
    fields().map_err(|e| codec::within(e, &format!("ScheduleDay record {id}")))
}

/// The playlog must belong to the day and tile `[effective_start, covers_until)` exactly; a day
/// without a plan (a fault, SCHED-001) has no playlog at all.
fn check_write(write: &DayWrite) -> StoreResult<()> {
    let day = &write.day;
    let label = format!("ScheduleDay {} {}", day.channel, day.date);
    if !retrovue_core::time::date_in_range(day.date) {
        return Err(StoreError::bad(format!(
            "{label}: the date is outside the years 1970–9999"
        )));
    }
    if day.plan.is_none() {
        return match write.playlog.first() {
            Some(event) => Err(StoreError::bad(format!(
                "{label}: the day has no plan (a schedule gap) but playlog event {} airs",
                event.id
            ))),
            None => Ok(()),
        };
    }
    let mut at = day.effective_start;
    for event in &write.playlog {
        if event.channel != day.channel {
            return Err(StoreError::bad(format!(
                "{label}: playlog event {} belongs to channel {}",
                event.id, event.channel
            )));
        }
        if event.start != at || event.end < event.start {
            return Err(StoreError::bad(format!(
                "{label}: playlog does not tile the day: event {} starts at {} instead of {at}",
                event.id, event.start
            )));
        }
        at = event.end;
    }
    if at != day.covers_until {
        return Err(StoreError::bad(format!(
            "{label}: playlog ends at {at}, the day covers until {}",
            day.covers_until
        )));
    }
    Ok(())
}

/// Insert a day record with its playlog and state; a second current record → conflict.
fn insert_day(
    tx: &mut dyn Tx,
    write: &DayWrite,
    supersedes: Option<i64>,
    now: UtcMs,
) -> StoreResult<i64> {
    let day = &write.day;
    let rows = tx
        .query(
            "INSERT INTO schedule_day (channel_id, broadcast_date, plan, window_start, \
             window_end, effective_start, covers_until, last_slot_end, items_json, faults_json, \
             supersedes, is_current, built_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, TRUE, $12) RETURNING id",
            &[
                Value::from(&day.channel),
                Value::Text(day.date.to_string()),
                Value::from(day.plan.as_ref()),
                Value::Int(day.window_start),
                Value::Int(day.window_end),
                Value::Int(day.effective_start),
                Value::Int(day.covers_until),
                Value::from(write.previous_slot_end.max(day.last_slot_end())),
                json(&day.items),
                json(&day.faults),
                Value::from(supersedes),
                Value::Int(now),
            ],
        )
        .map_err(|e| match e.kind {
            DbErrorKind::Unique => StoreError::conflict(format!(
                "another writer stored ScheduleDay {} {} meanwhile; nothing written for it",
                day.channel, day.date
            )),
            _ => StoreError::bad(format!("ScheduleDay {} {}: {e}", day.channel, day.date)),
        })?;
    let id = returned_id(&rows)?;
    let events: Vec<Vec<Value>> = write
        .playlog
        .iter()
        .enumerate()
        .map(|(seq, e)| {
            vec![
                Value::Int(id),
                Value::Int(seq as i64),
                Value::from(&e.id),
                Value::Int(e.start),
                Value::Int(e.end),
                Value::from(e.kind.as_str()),
                Value::from(e.asset.as_ref()),
                Value::Int(e.in_point_ms),
                Value::from(e.item_start),
            ]
        })
        .collect();
    tx.insert_rows(
        "playlog_event",
        &[
            ("day_id", ColType::Int),
            ("seq", ColType::Int),
            ("event_id", ColType::Text),
            ("start_ms", ColType::Int),
            ("end_ms", ColType::Int),
            ("kind", ColType::Text),
            ("asset_id", ColType::Text),
            ("in_point_ms", ColType::Int),
            ("item_start", ColType::Int),
        ],
        &events,
    )?;
    let rotation: Vec<Vec<Value>> = write
        .rotation
        .cursors
        .iter()
        .map(|(program, cursor)| {
            vec![
                Value::Int(id),
                Value::from(program),
                Value::Int(*cursor as i64),
            ]
        })
        .collect();
    tx.insert_rows(
        "day_rotation",
        &[
            ("day_id", ColType::Int),
            ("program_id", ColType::Text),
            ("cursor", ColType::Int),
        ],
        &rotation,
    )?;
    let traffic: Vec<Vec<Value>> = write
        .traffic
        .last_aired
        .iter()
        .map(|(asset, at)| vec![Value::Int(id), Value::from(asset), Value::Int(*at)])
        .collect();
    tx.insert_rows(
        "day_traffic",
        &[
            ("day_id", ColType::Int),
            ("asset_id", ColType::Text),
            ("last_aired", ColType::Int),
        ],
        &traffic,
    )?;
    Ok(id)
}

/// The id an `INSERT … RETURNING id` returned.
fn returned_id(rows: &[Row]) -> StoreResult<i64> {
    match rows.first() {
        Some(r) => Ok(r.int("id")?),
        None => Err(StoreError::backend("INSERT … RETURNING id returned no row")),
    }
}

fn require_channel(tx: &mut dyn Tx, channel: &str) -> StoreResult<()> {
    if tx
        .query(
            "SELECT 1 FROM channel WHERE id = $1",
            &[Value::from(channel)],
        )?
        .is_empty()
    {
        return Err(StoreError::bad(format!("unknown channel {channel:?}")));
    }
    Ok(())
}

/// The state stored with day record `id`.
fn day_state(tx: &mut dyn Tx, id: i64) -> StoreResult<(RotationState, TrafficState)> {
    let mut rotation = RotationState::default();
    for r in tx.query(
        "SELECT program_id, cursor FROM day_rotation WHERE day_id = $1",
        &[Value::Int(id)],
    )? {
        rotation
            .cursors
            .insert(r.text("program_id")?, r.int_as("cursor")?);
    }
    let mut traffic = TrafficState::default();
    for r in tx.query(
        "SELECT asset_id, last_aired FROM day_traffic WHERE day_id = $1",
        &[Value::Int(id)],
    )? {
        traffic
            .last_aired
            .insert(r.text("asset_id")?, r.int("last_aired")?);
    }
    Ok((rotation, traffic))
}

/// A stored day with the state after it and whether it has as-run records (STORE-012).
fn chain_link(tx: &mut dyn Tx, stored: StoredDay) -> StoreResult<ChainLink> {
    let (rotation, traffic) = day_state(tx, stored.id)?;
    let previous_slot_end = match tx
        .query(
            "SELECT last_slot_end FROM schedule_day WHERE id = $1",
            &[Value::Int(stored.id)],
        )?
        .first()
    {
        Some(r) => r.opt_int("last_slot_end")?,
        None => None,
    };
    let has_as_run = has_as_run(tx, &stored.day)?;
    let pins = override_pins(tx, stored.id)?;
    Ok(ChainLink {
        pins,
        stored,
        after: retrovue_core::chain::ChainState {
            previous_slot_end,
            rotation,
            traffic,
        },
        has_as_run,
    })
}

/// STORE-014: as-run records exist within the day's coverage.
fn has_as_run(tx: &mut dyn Tx, day: &ScheduleDay) -> StoreResult<bool> {
    Ok(!tx
        .query(
            "SELECT 1 FROM as_run WHERE channel_id = $1 AND start_ms < $3 AND end_ms > $2 \
             LIMIT 1",
            &[
                Value::from(&day.channel),
                Value::Int(day.effective_start),
                Value::Int(day.covers_until),
            ],
        )?
        .is_empty())
}

/// The current record of one date, if any.
fn current_record(
    tx: &mut dyn Tx,
    channel: &str,
    date: NaiveDate,
) -> StoreResult<Option<StoredDay>> {
    tx.query(
        &format!(
            "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
             AND broadcast_date = $2 AND is_current = TRUE"
        ),
        &[Value::from(channel), Value::Text(date.to_string())],
    )?
    .first()
    .map(stored_day)
    .transpose()
}

/// The id of the latest current day before `date` (`after`: the first one after it instead).
fn neighbour_id(
    tx: &mut dyn Tx,
    channel: &str,
    date: NaiveDate,
    after: bool,
) -> StoreResult<Option<i64>> {
    let sql = if after {
        "SELECT id FROM schedule_day WHERE channel_id = $1 AND broadcast_date > $2 \
         AND is_current = TRUE ORDER BY broadcast_date LIMIT 1"
    } else {
        "SELECT id FROM schedule_day WHERE channel_id = $1 AND broadcast_date < $2 \
         AND is_current = TRUE ORDER BY broadcast_date DESC LIMIT 1"
    };
    match tx
        .query(sql, &[Value::from(channel), Value::Text(date.to_string())])?
        .first()
    {
        Some(r) => Ok(Some(r.int("id")?)),
        None => Ok(None),
    }
}

/// STORE-014: refuse to rewrite a day whose window began by `lock_at` or that has as-run records.
fn refuse_aired(tx: &mut dyn Tx, day: &StoredDay, lock_at: UtcMs) -> StoreResult<()> {
    let label = format!("ScheduleDay {} {}", day.day.channel, day.day.date);
    if day.day.window_start <= lock_at {
        return Err(StoreError::new(
            StoreErrorKind::Locked,
            format!(
                "{label} is locked (its window started at {}); it is never rewritten",
                retrovue_core::time::fmt_utc(day.day.window_start)
            ),
        ));
    }
    if has_as_run(tx, &day.day)? {
        return Err(StoreError::new(
            StoreErrorKind::Locked,
            format!("{label} has aired (as-run records exist); it is never rewritten"),
        ));
    }
    Ok(())
}

/// STORE-030: the overrides a record applies (empty: none).
fn override_pins(tx: &mut dyn Tx, id: i64) -> StoreResult<Vec<OverridePin>> {
    match tx
        .query(
            "SELECT pins_json FROM schedule_override WHERE day_id = $1",
            &[Value::Int(id)],
        )?
        .first()
    {
        Some(row) => json_column(row, "pins_json")
            .map_err(|e| codec::within(e, &format!("ScheduleDay record {id}"))),
        None => Ok(Vec::new()),
    }
}

/// Delete a day record with its playlog, state and override row.
fn delete_day(tx: &mut dyn Tx, id: i64) -> StoreResult<()> {
    tx.execute(
        "DELETE FROM schedule_override WHERE day_id = $1",
        &[Value::Int(id)],
    )?;
    tx.execute("DELETE FROM schedule_day WHERE id = $1", &[Value::Int(id)])?;
    for table in ["playlog_event", "day_rotation", "day_traffic"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE day_id = $1"),
            &[Value::Int(id)],
        )?;
    }
    Ok(())
}

fn playlog_event(r: &Row) -> StoreResult<PlaylogEvent> {
    Ok(PlaylogEvent {
        id: r.text("event_id")?,
        channel: r.text("channel_id")?,
        start: r.int("start_ms")?,
        end: r.int("end_ms")?,
        kind: enum_column(r, "kind", EventKind::parse)?,
        asset: r.opt_text("asset_id")?,
        in_point_ms: r.int("in_point_ms")?,
        item_start: r.opt_int("item_start")?,
    })
}

const EVENT_COLUMNS: &str =
    "p.event_id, p.start_ms, p.end_ms, p.kind, p.asset_id, p.in_point_ms, d.channel_id, p.item_start";

impl<B: Backend> Store for SqlStore<B> {
    fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    fn migration_status(&mut self) -> StoreResult<Vec<MigrationStatus>> {
        migrations::status(&mut self.backend, self.migrations)
    }

    fn migrate(&mut self) -> StoreResult<Vec<MigrationStatus>> {
        migrations::migrate(&mut self.backend, self.migrations, crate::store::now_ms())
    }

    fn import_lineup(&mut self, lineup: &Lineup) -> StoreResult<ImportSummary> {
        let mut seen = BTreeSet::new();
        for channel in &lineup.channels {
            if !seen.insert(channel.id.as_str()) {
                return Err(StoreError::bad(format!(
                    "channel {:?} is declared twice",
                    channel.id
                )));
            }
        }
        self.backend.transaction(TxMode::Write, |tx| {
            check_references(tx, lineup)?;
            for asset in lineup.catalog.assets.values() {
                upsert_asset(tx, asset)?;
            }
            for program in lineup.catalog.programs.values() {
                upsert_program(tx, program)?;
            }
            for virtual_asset in lineup.catalog.virtual_assets.values() {
                upsert_virtual(tx, virtual_asset)?;
            }
            for channel in &lineup.channels {
                upsert_channel(tx, channel)?;
            }
            Ok(ImportSummary {
                assets: lineup.catalog.assets.len(),
                programs: lineup.catalog.programs.len(),
                virtual_assets: lineup.catalog.virtual_assets.len(),
                channels: lineup.channels.len(),
            })
        })
    }

    fn load_lineup(&mut self) -> StoreResult<Lineup> {
        self.backend.transaction(TxMode::Read, |tx| {
            Ok(Lineup {
                catalog: load_catalog(tx)?,
                channels: load_channels(tx, None)?,
            })
        })
    }

    fn load_catalog(&mut self) -> StoreResult<Catalog> {
        self.backend
            .transaction(TxMode::Read, |tx| load_catalog(tx))
    }

    fn load_channel(&mut self, id: &str) -> StoreResult<Option<Channel>> {
        self.backend
            .transaction(TxMode::Read, |tx| Ok(load_channels(tx, Some(id))?.pop()))
    }

    fn current_day(&mut self, channel: &str, date: NaiveDate) -> StoreResult<Option<StoredDay>> {
        Ok(self.current_days(channel, date, date)?.pop())
    }

    fn current_days(
        &mut self,
        channel: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<StoredDay>> {
        self.backend.transaction(TxMode::Read, |tx| {
            tx.query(
                &format!(
                    "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
                     AND broadcast_date >= $2 AND broadcast_date <= $3 AND is_current = TRUE \
                     ORDER BY broadcast_date"
                ),
                &[
                    Value::from(channel),
                    Value::Text(from.to_string()),
                    Value::Text(to.to_string()),
                ],
            )?
            .iter()
            .map(stored_day)
            .collect()
        })
    }

    fn day_history(&mut self, channel: &str, date: NaiveDate) -> StoreResult<Vec<StoredDay>> {
        self.backend.transaction(TxMode::Read, |tx| {
            tx.query(
                &format!(
                    "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
                     AND broadcast_date = $2 ORDER BY id"
                ),
                &[Value::from(channel), Value::Text(date.to_string())],
            )?
            .iter()
            .map(stored_day)
            .collect()
        })
    }

    fn state_before(&mut self, channel: &str, date: NaiveDate) -> StoreResult<DayState> {
        self.backend.transaction(TxMode::Read, |tx| {
            let rows = tx.query(
                "SELECT id, broadcast_date, last_slot_end FROM schedule_day \
                 WHERE channel_id = $1 AND broadcast_date < $2 AND is_current = TRUE \
                 ORDER BY broadcast_date DESC LIMIT 1",
                &[Value::from(channel), Value::Text(date.to_string())],
            )?;
            let Some(latest) = rows.first() else {
                return Ok(DayState::default());
            };
            let (rotation, traffic) = day_state(tx, latest.int("id")?)?;
            let latest_date = date_column(latest, "broadcast_date")?;
            let previous_slot_end = if latest_date.succ_opt() == Some(date) {
                latest.opt_int("last_slot_end")?
            } else {
                None
            };
            Ok(DayState {
                previous_slot_end,
                rotation,
                traffic,
            })
        })
    }

    fn rotation_state(&mut self, channel: &str) -> StoreResult<RotationState> {
        self.backend.transaction(TxMode::Read, |tx| {
            let rows = tx.query(
                "SELECT id FROM schedule_day WHERE channel_id = $1 AND is_current = TRUE \
                 ORDER BY broadcast_date DESC LIMIT 1",
                &[Value::from(channel)],
            )?;
            match rows.first() {
                Some(r) => Ok(day_state(tx, r.int("id")?)?.0),
                None => Ok(RotationState::default()),
            }
        })
    }

    fn read_chain(&mut self, channel: &str, from: NaiveDate) -> StoreResult<StoredChain> {
        self.backend.transaction(TxMode::Read, |tx| {
            let predecessor = tx
                .query(
                    &format!(
                        "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
                         AND broadcast_date < $2 AND is_current = TRUE \
                         ORDER BY broadcast_date DESC LIMIT 1"
                    ),
                    &[Value::from(channel), Value::Text(from.to_string())],
                )?
                .first()
                .map(stored_day)
                .transpose()?;
            let days = tx
                .query(
                    &format!(
                        "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
                         AND broadcast_date >= $2 AND is_current = TRUE ORDER BY broadcast_date"
                    ),
                    &[Value::from(channel), Value::Text(from.to_string())],
                )?
                .iter()
                .map(stored_day)
                .collect::<StoreResult<Vec<_>>>()?;
            let predecessor = match predecessor {
                Some(p) => Some(chain_link(tx, p)?),
                None => None,
            };
            let days = days
                .into_iter()
                .map(|d| chain_link(tx, d))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(StoredChain { predecessor, days })
        })
    }

    fn put_chain(&mut self, write: &ChainWrite, now: UtcMs) -> StoreResult<Vec<i64>> {
        self.put_chain_history(write, &[], now)
    }

    fn day_record(&mut self, id: i64) -> StoreResult<Option<ChainLink>> {
        self.backend.transaction(TxMode::Read, |tx| {
            let stored = tx
                .query(
                    &format!("SELECT {DAY_COLUMNS} FROM schedule_day WHERE id = $1"),
                    &[Value::Int(id)],
                )?
                .first()
                .map(stored_day)
                .transpose()?;
            stored.map(|d| chain_link(tx, d)).transpose()
        })
    }

    fn overrides(
        &mut self,
        channel: Option<&str>,
        history: bool,
    ) -> StoreResult<Vec<OverrideRecord>> {
        self.backend.transaction(TxMode::Read, |tx| {
            let mut sql = "SELECT o.day_id, o.pins_json, o.created_at_ms, d.channel_id, \
                 d.broadcast_date, d.supersedes, d.is_current FROM schedule_override o \
                 JOIN schedule_day d ON d.id = o.day_id WHERE 1 = 1"
                .to_string();
            let mut params = Vec::new();
            if let Some(channel) = channel {
                sql.push_str(" AND d.channel_id = $1");
                params.push(Value::from(channel));
            }
            if !history {
                sql.push_str(" AND d.is_current = TRUE");
            }
            sql.push_str(" ORDER BY d.channel_id, d.broadcast_date, o.day_id");
            tx.query(&sql, &params)?
                .iter()
                .map(|r| {
                    let id = r.int("day_id")?;
                    let fields = || -> StoreResult<OverrideRecord> {
                        Ok(OverrideRecord {
                            id,
                            channel: r.text("channel_id")?,
                            date: date_column(r, "broadcast_date")?,
                            supersedes: r.opt_int("supersedes")?,
                            current: r.bool("is_current")?,
                            created_at_ms: r.int("created_at_ms")?,
                            pins: json_column(r, "pins_json")?,
                        })
                    };
                    fields().map_err(|e| codec::within(e, &format!("override record {id}")))
                })
                .collect()
        })
    }

    fn put_chain_history(
        &mut self,
        write: &ChainWrite,
        history: &[EntryHistory],
        now: UtcMs,
    ) -> StoreResult<Vec<i64>> {
        let Some(first) = write.entries.first() else {
            return Ok(Vec::new());
        };
        let last = write.entries.last().expect("non-empty");
        for entry in &write.entries {
            if let Some(day) = &entry.write {
                check_write(day)?;
                if day.day.channel != write.channel || day.day.date != entry.date {
                    return Err(StoreError::bad(format!(
                        "chain write of channel {}: entry {} holds ScheduleDay {} {}",
                        write.channel, entry.date, day.day.channel, day.day.date
                    )));
                }
            }
        }
        let lock_at = lock_instant(now);
        let lock_sql = self.backend.channel_lock_sql();
        let channel = write.channel.as_str();
        self.backend.transaction(TxMode::Rebuildable, |tx| {
            // STORE-013: writers of one channel's chain serialise here.
            if tx.query(lock_sql, &[Value::from(channel)])?.is_empty() {
                return Err(StoreError::bad(format!("unknown channel {channel:?}")));
            }
            let changed = |what: String| {
                StoreError::conflict(format!(
                    "channel {channel}: {what} changed since this build read it; nothing written"
                ))
            };
            if neighbour_id(tx, channel, first.date, false)? != write.predecessor {
                return Err(changed(format!("the stored day before {}", first.date)));
            }
            if neighbour_id(tx, channel, last.date, true)? != write.next {
                return Err(changed(format!("the stored day after {}", last.date)));
            }
            let mut ids = Vec::new();
            for (index, entry) in write.entries.iter().enumerate() {
                let current = current_record(tx, channel, entry.date)?;
                if current.as_ref().map(|d| d.id) != entry.expected {
                    return Err(changed(format!("ScheduleDay {}", entry.date)));
                }
                let history = history.get(index).unwrap_or(&EntryHistory::Replace);
                let Some(day) = &entry.write else {
                    if let EntryHistory::Restore(old) = history {
                        // STORE-030: the override goes, the record it superseded comes back.
                        let Some(current) = &current else {
                            return Err(changed(format!("ScheduleDay {}", entry.date)));
                        };
                        refuse_aired(tx, current, lock_at)?;
                        delete_day(tx, current.id)?;
                        let restored = tx.execute(
                            "UPDATE schedule_day SET is_current = TRUE WHERE id = $1 \
                             AND channel_id = $2 AND broadcast_date = $3 AND is_current = FALSE",
                            &[
                                Value::Int(*old),
                                Value::from(channel),
                                Value::Text(entry.date.to_string()),
                            ],
                        )?;
                        if restored == 0 {
                            return Err(changed(format!("ScheduleDay record {old}")));
                        }
                        ids.push(*old);
                    }
                    continue;
                };
                let (supersedes, pins) = match history {
                    EntryHistory::Replace => {
                        if let Some(current) = &current {
                            refuse_aired(tx, current, lock_at)?;
                            delete_day(tx, current.id)?;
                        }
                        (None, None)
                    }
                    EntryHistory::Supersede { pins } => {
                        let Some(current) = &current else {
                            return Err(StoreError::bad(format!(
                                "no ScheduleDay {channel} {} to override",
                                entry.date
                            )));
                        };
                        refuse_aired(tx, current, lock_at)?;
                        tx.execute(
                            "UPDATE schedule_day SET is_current = FALSE WHERE id = $1",
                            &[Value::Int(current.id)],
                        )?;
                        (Some(current.id), Some(pins))
                    }
                    EntryHistory::ReplaceKeeping { supersedes, pins } => {
                        if let Some(current) = &current {
                            refuse_aired(tx, current, lock_at)?;
                            delete_day(tx, current.id)?;
                        }
                        (Some(*supersedes), Some(pins))
                    }
                    EntryHistory::Restore(_) => {
                        return Err(StoreError::bad(format!(
                            "chain write of channel {channel}: entry {} restores a record and \
                             carries a day too",
                            entry.date
                        )));
                    }
                };
                let id = insert_day(tx, day, supersedes, now)?;
                if let Some(pins) = pins.filter(|p| !p.is_empty()) {
                    tx.execute(
                        "INSERT INTO schedule_override (day_id, pins_json, created_at_ms) \
                         VALUES ($1, $2, $3)",
                        &[Value::Int(id), json(pins), Value::Int(now)],
                    )?;
                }
                ids.push(id);
            }
            Ok(ids)
        })
    }

    fn all_current_days(&mut self, channel: &str) -> StoreResult<Vec<StoredDay>> {
        self.backend.transaction(TxMode::Read, |tx| {
            tx.query(
                &format!(
                    "SELECT {DAY_COLUMNS} FROM schedule_day WHERE channel_id = $1 \
                     AND is_current = TRUE ORDER BY broadcast_date"
                ),
                &[Value::from(channel)],
            )?
            .iter()
            .map(stored_day)
            .collect()
        })
    }

    fn put_day(&mut self, write: &DayWrite, expected: Option<i64>, now: UtcMs) -> StoreResult<i64> {
        check_write(write)?;
        let day = &write.day;
        // STORE-014: `now` may only lock more days than the real clock does.
        let built_at = now;
        let now = lock_instant(now);
        self.backend.transaction(TxMode::Rebuildable, |tx| {
            require_channel(tx, &day.channel)?;
            if let Some(expected_id) = expected {
                let rows = tx.query(
                    "SELECT window_start, is_current FROM schedule_day \
                     WHERE id = $1 AND channel_id = $2 AND broadcast_date = $3",
                    &[
                        Value::Int(expected_id),
                        Value::from(&day.channel),
                        Value::Text(day.date.to_string()),
                    ],
                )?;
                let current = match rows.first() {
                    Some(r) if r.bool("is_current")? => Some(r),
                    _ => None,
                };
                let Some(row) = current else {
                    return Err(StoreError::conflict(format!(
                        "ScheduleDay {} {} changed since it was read (record {expected_id} is no \
                         longer current); nothing written for it",
                        day.channel, day.date
                    )));
                };
                let window_start = row.int("window_start")?;
                if let Some(stored) = current_record(tx, &day.channel, day.date)? {
                    if has_as_run(tx, &stored.day)? {
                        return Err(StoreError::new(
                            StoreErrorKind::Locked,
                            format!(
                                "ScheduleDay {} {} has aired (as-run records exist); it is \
                                 never rewritten",
                                day.channel, day.date
                            ),
                        ));
                    }
                }
                if window_start <= now {
                    return Err(StoreError::new(
                        StoreErrorKind::Locked,
                        format!(
                            "ScheduleDay {} {} is locked (its window started at {}); it is \
                             never rewritten",
                            day.channel,
                            day.date,
                            retrovue_core::time::fmt_utc(window_start)
                        ),
                    ));
                }
                // A racing writer that already replaced it makes this delete find nothing;
                // its playlog, state and override row go with it.
                tx.execute(
                    "DELETE FROM schedule_override WHERE day_id = $1 AND EXISTS (SELECT 1 FROM \
                     schedule_day d WHERE d.id = $1 AND d.is_current = TRUE \
                     AND d.window_start > $2)",
                    &[Value::Int(expected_id), Value::Int(now)],
                )?;
                let deleted = tx.execute(
                    "DELETE FROM schedule_day WHERE id = $1 AND is_current = TRUE \
                     AND window_start > $2",
                    &[Value::Int(expected_id), Value::Int(now)],
                )?;
                if deleted == 0 {
                    return Err(StoreError::conflict(format!(
                        "ScheduleDay {} {} was replaced by another writer meanwhile; nothing \
                         written for it",
                        day.channel, day.date
                    )));
                }
                for table in ["playlog_event", "day_rotation", "day_traffic"] {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE day_id = $1"),
                        &[Value::Int(expected_id)],
                    )?;
                }
            }
            insert_day(tx, write, None, built_at)
        })
    }

    fn override_day(&mut self, supersedes: i64, write: &DayWrite, now: UtcMs) -> StoreResult<i64> {
        check_write(write)?;
        let day = &write.day;
        self.backend.transaction(TxMode::Write, |tx| {
            let rows = tx.query(
                "SELECT channel_id, broadcast_date, is_current FROM schedule_day WHERE id = $1",
                &[Value::Int(supersedes)],
            )?;
            let Some(row) = rows.first() else {
                return Err(StoreError::bad(format!(
                    "no ScheduleDay record {supersedes} to override"
                )));
            };
            let (stored_channel, stored_date) =
                (row.text("channel_id")?, row.text("broadcast_date")?);
            if stored_channel != day.channel || stored_date != day.date.to_string() {
                return Err(StoreError::bad(format!(
                    "ScheduleDay record {supersedes} is {stored_channel} {stored_date}, not {} {}",
                    day.channel, day.date
                )));
            }
            let updated = tx.execute(
                "UPDATE schedule_day SET is_current = FALSE WHERE id = $1 AND is_current = TRUE",
                &[Value::Int(supersedes)],
            )?;
            if updated == 0 {
                return Err(StoreError::conflict(format!(
                    "ScheduleDay record {supersedes} is already superseded"
                )));
            }
            insert_day(tx, write, Some(supersedes), now)
        })
    }

    fn day_playlog(&mut self, day_id: i64) -> StoreResult<Vec<PlaylogEvent>> {
        self.backend.transaction(TxMode::Read, |tx| {
            tx.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM playlog_event p \
                     JOIN schedule_day d ON d.id = p.day_id WHERE p.day_id = $1 ORDER BY p.seq"
                ),
                &[Value::Int(day_id)],
            )?
            .iter()
            .map(playlog_event)
            .collect()
        })
    }

    fn playlog(&mut self, channel: &str, from: UtcMs, to: UtcMs) -> StoreResult<Vec<PlaylogEvent>> {
        self.backend.transaction(TxMode::Read, |tx| {
            tx.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM schedule_day d \
                     JOIN playlog_event p ON p.day_id = d.id \
                     WHERE d.channel_id = $1 AND d.is_current = TRUE \
                     AND d.effective_start < $3 AND d.covers_until > $2 \
                     AND p.start_ms < $3 AND p.end_ms > $2 ORDER BY p.start_ms, p.seq"
                ),
                &[Value::from(channel), Value::Int(from), Value::Int(to)],
            )?
            .iter()
            .map(playlog_event)
            .collect()
        })
    }

    fn record_as_run(&mut self, record: &AsRunRecord, session: &str) -> StoreResult<i64> {
        if session.trim().is_empty() {
            return Err(StoreError::bad(format!(
                "as-run record {} of {} has no session (ASRUN-002)",
                record.playlog_id, record.channel
            )));
        }
        self.backend.transaction(TxMode::Write, |tx| {
            // ASRUN-002: once per (channel, event, session); a repeat returns the stored id.
            let rows = tx.query(
                "INSERT INTO as_run (channel_id, playlog_id, start_ms, end_ms, asset_id, kind, \
                 status, reason, session_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (channel_id, playlog_id, session_id) DO NOTHING RETURNING id",
                &[
                    Value::from(&record.channel),
                    Value::from(&record.playlog_id),
                    Value::Int(record.start),
                    Value::Int(record.end),
                    Value::from(record.asset.as_ref()),
                    Value::from(record.kind.as_str()),
                    Value::from(record.status.as_str()),
                    Value::from(record.reason.as_ref()),
                    Value::from(session),
                ],
            )?;
            if !rows.is_empty() {
                return returned_id(&rows);
            }
            let rows = tx.query(
                "SELECT id FROM as_run WHERE channel_id = $1 AND playlog_id = $2 \
                 AND session_id = $3",
                &[
                    Value::from(&record.channel),
                    Value::from(&record.playlog_id),
                    Value::from(session),
                ],
            )?;
            returned_id(&rows)
        })
    }

    fn as_run(&mut self, channel: &str, from: UtcMs, to: UtcMs) -> StoreResult<Vec<AsRunRecord>> {
        self.backend.transaction(TxMode::Read, |tx| {
            let mut out = Vec::new();
            for r in tx.query(
                "SELECT channel_id, playlog_id, start_ms, end_ms, asset_id, kind, status, reason \
                 FROM as_run WHERE channel_id = $1 AND start_ms < $3 AND end_ms >= $2 \
                 ORDER BY start_ms, id",
                &[Value::from(channel), Value::Int(from), Value::Int(to)],
            )? {
                out.push(AsRunRecord {
                    channel: r.text("channel_id")?,
                    playlog_id: r.text("playlog_id")?,
                    start: r.int("start_ms")?,
                    end: r.int("end_ms")?,
                    asset: r.opt_text("asset_id")?,
                    kind: enum_column(&r, "kind", EventKind::parse)?,
                    status: enum_column(&r, "status", AsRunStatus::parse)?,
                    reason: r.opt_text("reason")?,
                });
            }
            Ok(out)
        })
    }

    fn sources(&mut self, only: Option<&str>) -> StoreResult<Vec<SourceRecord>> {
        self.backend
            .transaction(TxMode::Read, |tx| catalog::sources(tx, only))
    }

    fn put_source(&mut self, source: &SourceRecord, create: bool) -> StoreResult<()> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::put_source(tx, source, create))
    }

    fn delete_source(&mut self, id: &str, dry_run: bool) -> StoreResult<usize> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::delete_source(tx, id, dry_run))
    }

    fn collections(
        &mut self,
        source: Option<&str>,
        only: Option<&str>,
    ) -> StoreResult<Vec<CollectionRecord>> {
        self.backend
            .transaction(TxMode::Read, |tx| catalog::collections(tx, source, only))
    }

    fn discover_collections(
        &mut self,
        found: &[CollectionRecord],
    ) -> StoreResult<Vec<CollectionRecord>> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::discover_collections(tx, found))
    }

    fn update_collection(&mut self, collection: &CollectionRecord) -> StoreResult<()> {
        self.backend.transaction(TxMode::Write, |tx| {
            catalog::put_collection(tx, collection, false)
        })
    }

    fn wipe_collection(&mut self, id: &str, dry_run: bool) -> StoreResult<usize> {
        self.backend.transaction(TxMode::Write, |tx| {
            if catalog::collections(tx, None, Some(id))?.is_empty() {
                return Err(StoreError::bad(format!("unknown collection {id:?}")));
            }
            catalog::wipe_collection(tx, id, &format!("collection {id:?}"), dry_run)
        })
    }

    fn enrichers(&mut self) -> StoreResult<Vec<EnricherRecord>> {
        self.backend
            .transaction(TxMode::Read, |tx| catalog::enrichers(tx))
    }

    fn add_enricher(&mut self, enricher: &EnricherRecord) -> StoreResult<EnricherRecord> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::add_enricher(tx, enricher))
    }

    fn remove_enricher(&mut self, id: &str) -> StoreResult<()> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::remove_enricher(tx, id))
    }

    fn catalog_assets(&mut self, filter: &AssetFilter) -> StoreResult<Vec<CatalogAsset>> {
        self.backend
            .transaction(TxMode::Read, |tx| catalog::catalog_assets(tx, filter))
    }

    fn catalog_asset(&mut self, id: &str) -> StoreResult<Option<CatalogAsset>> {
        self.backend
            .transaction(TxMode::Read, |tx| catalog::catalog_asset_by_id(tx, id))
    }

    fn put_catalog_asset(&mut self, asset: &CatalogAsset) -> StoreResult<()> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::put_catalog_asset(tx, asset))
    }

    fn apply_ingest(&mut self, write: &IngestWrite) -> StoreResult<IngestCounts> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::apply_ingest(tx, write))
    }

    fn delete_channel(&mut self, id: &str, dry_run: bool) -> StoreResult<()> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::delete_channel(tx, id, dry_run))
    }

    fn delete_program(&mut self, id: &str, dry_run: bool) -> StoreResult<()> {
        self.backend
            .transaction(TxMode::Write, |tx| catalog::delete_program(tx, id, dry_run))
    }

    fn backup(&mut self, out: &mut dyn std::io::Write) -> StoreResult<backup::BackupSummary> {
        // MIGRATE-003: the applied migrations must be this binary's.
        let status = migrations::status(&mut self.backend, self.migrations)?;
        if status
            .iter()
            .all(|m| m.state == migrations::MigrationState::Pending)
        {
            return Err(StoreError::bad(
                "the database has no schema (no migration applied): nothing to back up",
            ));
        }
        let known = self.migrations;
        let name = self.backend.name();
        let now = crate::store::now_ms();
        self.backend.transaction(TxMode::Snapshot, |tx| {
            backup::write_backup(tx, known, name, now, out)
        })
    }

    fn restore(
        &mut self,
        input: &mut dyn std::io::BufRead,
        dry_run: bool,
    ) -> StoreResult<backup::BackupSummary> {
        let tables = backup::schema(self.migrations)?;
        let latest = self.migrations.iter().map(|m| m.version).max().unwrap_or(0);
        let resets: Vec<String> = tables
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .filter(|c| c.identity)
                    .filter_map(|c| self.backend.identity_reset_sql(&t.name, &c.name))
            })
            .collect();
        let result = self.backend.transaction(TxMode::Write, |tx| {
            backup::require_empty(tx, &tables).map_err(Restore::Failed)?;
            let summary =
                backup::read_backup(tx, &tables, latest, input).map_err(Restore::Failed)?;
            for sql in &resets {
                tx.query(sql, &[])?;
            }
            if dry_run {
                // Roll back: a dry run writes nothing.
                return Err(Restore::DryRun(summary));
            }
            Ok(summary)
        });
        match result {
            Ok(summary) | Err(Restore::DryRun(summary)) => Ok(summary),
            Err(Restore::Failed(error)) => Err(error),
        }
    }
}
