//! `retrovue collection list|show|update|ingest|wipe`: ingest scopes of sources and the ingest
//! run itself (contracts/cli.md CLI-012..014, contracts/assets.md).

use clap::{Args, Subcommand};

use crate::cli::db::open_store;
use crate::cli::operator::{
    confirm, or_dash, parse_bool, print_fields, print_json, show_progress, Confirm, DryRun,
};
use crate::cli::source::require_source;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::ingest::pathmap::PathMap;
use crate::ingest::pipeline::{
    build_enrichers, draw_progress, ingest_collection, vanished_after_ingest, vanished_warning,
    IngestOptions, IngestReport,
};
use crate::store::{AssetFilter, CollectionRecord, Store};

#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// List collections (of one source with --source).
    List(ListArgs),
    /// Show a collection and its asset counts.
    Show(IdArg),
    /// Turn ingest on or off, rename, or set path mappings.
    Update(UpdateArgs),
    /// Ingest a collection (or every enabled one with --all): discover, enrich, store.
    Ingest(IngestArgs),
    /// Delete every asset of a collection (refused over aired history).
    Wipe(WipeArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The collection id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the collections of this source.
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The collection id.
    pub id: String,
    /// on or off: whether `collection ingest --all` includes it.
    #[arg(long)]
    pub ingest: Option<String>,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the collection's SERVER=LOCAL path mappings (repeatable).
    #[arg(long = "path-map")]
    pub path_map: Vec<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The collection to ingest.
    #[arg(required_unless_present = "all")]
    pub id: Option<String>,
    /// Ingest every collection whose ingest is on.
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Probe again unchanged files an enricher failed on before (e.g. after raising a timeout).
    #[arg(long)]
    pub reprobe: bool,
    /// Confirm that a missing, unreadable or empty root means the library is gone: mark its
    /// assets deleted (without it such an ingest exits 1 and changes nothing).
    #[arg(long)]
    pub allow_empty: bool,
    /// Files probed at once (default: twice the CPU count).
    #[arg(long, value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct WipeArgs {
    /// The collection id.
    pub id: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: DryRun,
}

/// The stored collection, or bad input naming it.
pub fn require_collection(store: &mut dyn Store, id: &str) -> AppResult<CollectionRecord> {
    store.collections(None, Some(id))?.pop().ok_or_else(|| {
        AppError::bad(format!(
            "unknown collection {id:?} (see `retrovue collection list`)"
        ))
    })
}

fn list(args: ListArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    if let Some(source) = &args.source {
        require_source(store.as_mut(), source)?;
    }
    let collections = store.collections(args.source.as_deref(), None)?;
    if global.json {
        print_json(&collections);
        return Ok(());
    }
    if collections.is_empty() {
        println!("no collections; run `retrovue source discover SOURCE`");
    }
    for c in &collections {
        println!(
            "{:<24} {:<16} {:<8} ingest {}  {}",
            c.id,
            c.source_id,
            c.kind,
            if c.ingest_enabled { "on " } else { "off" },
            c.name
        );
    }
    Ok(())
}

fn show(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let collection = require_collection(store.as_mut(), &args.id)?;
    let assets = store.catalog_assets(&AssetFilter {
        collection: Some(collection.id.clone()),
        include_deleted: true,
        ..AssetFilter::default()
    })?;
    let deleted = assets.iter().filter(|a| a.asset.deleted).count();
    let live = assets.iter().filter(|a| !a.asset.deleted);
    let ready = live
        .clone()
        .filter(|a| a.asset.state.as_str() == "ready")
        .count();
    let schedulable = live.clone().filter(|a| a.asset.is_schedulable()).count();
    let live = live.count();
    if global.json {
        print_json(&serde_json::json!({
            "collection": collection,
            "assets": live,
            "ready": ready,
            "schedulable": schedulable,
            "deleted": deleted,
        }));
        return Ok(());
    }
    print_fields(&[
        ("id", collection.id.clone()),
        ("source", collection.source_id.clone()),
        ("name", collection.name.clone()),
        ("kind", collection.kind.clone()),
        ("locations", collection.locations.join(", ")),
        ("path map", collection.path_map.join(", ")),
        (
            "ingest",
            if collection.ingest_enabled {
                "on"
            } else {
                "off"
            }
            .into(),
        ),
        (
            "last ingest",
            or_dash(collection.last_ingest_ms.map(retrovue_core::time::fmt_utc)),
        ),
        (
            "assets",
            format!("{live} ({ready} ready, {schedulable} schedulable, {deleted} deleted)"),
        ),
    ]);
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let enabled = match &args.ingest {
        Some(text) => Some(parse_bool(text, "--ingest")?),
        None => None,
    };
    for rule in &args.path_map {
        PathMap::parse_rule(rule)?;
    }
    let mut store = open_store(global)?;
    let mut collection = require_collection(store.as_mut(), &args.id)?;
    if let Some(enabled) = enabled {
        collection.ingest_enabled = enabled;
    }
    if let Some(name) = args.name {
        if name.trim().is_empty() {
            return Err(AppError::bad("--name: must not be empty"));
        }
        collection.name = name;
    }
    if !args.path_map.is_empty() {
        collection.path_map = args.path_map;
    }
    if !args.dry_run.dry_run {
        store.update_collection(&collection)?;
    }
    if global.json {
        print_json(
            &serde_json::json!({ "collection": collection, "dry_run": args.dry_run.dry_run }),
        );
    } else {
        let prefix = if args.dry_run.dry_run {
            "dry run: would have "
        } else {
            ""
        };
        println!(
            "{prefix}updated collection {} (ingest {})",
            collection.id,
            if collection.ingest_enabled {
                "on"
            } else {
                "off"
            }
        );
    }
    Ok(())
}

fn ingest(args: IngestArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let targets = match &args.id {
        Some(id) => {
            let collection = require_collection(store.as_mut(), id)?;
            if !collection.ingest_enabled {
                return Err(AppError::bad(format!(
                    "collection {id:?} has ingest off; turn it on: retrovue collection update {id} --ingest on"
                )));
            }
            vec![collection]
        }
        None => store
            .collections(None, None)?
            .into_iter()
            .filter(|c| c.ingest_enabled)
            .collect(),
    };
    let enrichers = build_enrichers(&store.enrichers()?)?;
    let progress = show_progress(global.json, global.quiet);
    let mut reports: Vec<IngestReport> = Vec::new();
    // INGEST-025/026: a refused collection changes nothing; with --all the others still run.
    let mut refused: Vec<AppError> = Vec::new();
    for collection in &targets {
        let source = require_source(store.as_mut(), &collection.source_id)?;
        let label = format!("ingest {}", collection.id);
        let mut draw = |done: usize, total: usize| {
            // Only long runs get a bar: a handful of files finishes before anyone looks.
            if progress && total >= 200 {
                draw_progress(&label, done, total);
            }
        };
        let report = ingest_collection(
            store.as_mut(),
            &source,
            collection,
            &enrichers,
            IngestOptions {
                now: crate::store::now_ms(),
                dry_run: args.dry_run.dry_run,
                reprobe: args.reprobe,
                allow_empty: args.allow_empty,
                jobs: args.jobs,
            },
            &mut draw,
        );
        let report = match report {
            Ok(report) => report,
            Err(error @ AppError::Runtime(_)) if args.all => {
                eprintln!("error: {error}");
                refused.push(error);
                continue;
            }
            Err(error) => return Err(error),
        };
        if !global.json {
            print_report(&report);
        }
        reports.push(report);
    }
    // INGEST-017: what the stored unaired days can no longer air, now that the catalog knows.
    let vanished = vanished_after_ingest(store.as_mut(), crate::store::now_ms(), &reports)?;
    if global.json {
        print_json(&serde_json::json!({
            "collections": reports,
            "vanished": vanished,
            "dry_run": args.dry_run.dry_run,
        }));
    } else if targets.is_empty() {
        println!("no collection has ingest on; see `retrovue collection list`");
    }
    for day in &vanished {
        eprintln!("{}", vanished_warning(day));
    }
    match refused.len() {
        0 => Ok(()),
        1 => Err(refused.remove(0)),
        n => Err(AppError::runtime(format!(
            "{n} collections were refused and left unchanged (see above)"
        ))),
    }
}

fn print_report(r: &IngestReport) {
    let prefix = if r.dry_run { "dry run: " } else { "" };
    println!(
        "{prefix}collection {}: {} discovered, {} new, {} updated ({} moved), {} unchanged, {} vanished, {} enriched, {} ready, {} not ready, {} skipped, {} unreadable kept",
        r.collection,
        r.discovered,
        r.inserted,
        r.updated,
        r.moved.len(),
        r.unchanged,
        r.vanished,
        r.enriched,
        r.ready,
        r.not_ready.len(),
        r.skipped.len(),
        r.unreadable.len()
    );
    for m in &r.moved {
        println!("  moved: {} → {} (asset {})", m.from, m.to, m.id);
    }
    for item in &r.not_ready {
        println!("  not ready: {}: {}", item.location, item.reason);
    }
    for item in &r.skipped {
        println!("  skipped: {}: {}", item.location, item.reason);
    }
    for item in &r.unreadable {
        println!("  unreadable, kept: {}: {}", item.location, item.reason);
    }
}

fn wipe(args: WipeArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let collection = require_collection(store.as_mut(), &args.id)?;
    let count = store
        .catalog_assets(&AssetFilter {
            collection: Some(collection.id.clone()),
            include_deleted: true,
            ..AssetFilter::default()
        })?
        .len();
    // The history and reference checks run in a dry run too (CLI-003).
    store.wipe_collection(&collection.id, true)?;
    if args.dry_run.dry_run {
        if global.json {
            print_json(
                &serde_json::json!({ "collection": collection.id, "assets": count, "dry_run": true }),
            );
        } else {
            println!(
                "dry run: would delete {count} assets of collection {}",
                collection.id
            );
        }
        return Ok(());
    }
    confirm(
        &format!("delete all {count} assets of collection {}", collection.id),
        args.confirm,
    )?;
    let deleted = store.wipe_collection(&collection.id, false)?;
    if global.json {
        print_json(
            &serde_json::json!({ "collection": collection.id, "assets": deleted, "dry_run": false }),
        );
    } else {
        println!("deleted {deleted} assets of collection {}", collection.id);
    }
    Ok(())
}

pub fn run(cmd: CollectionCommand, global: &Global) -> AppResult<()> {
    match cmd {
        CollectionCommand::List(args) => list(args, global),
        CollectionCommand::Show(args) => show(args, global),
        CollectionCommand::Update(args) => update(args, global),
        CollectionCommand::Ingest(args) => ingest(args, global),
        CollectionCommand::Wipe(args) => wipe(args, global),
    }
}
