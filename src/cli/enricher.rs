//! `retrovue enricher list|add|remove`: the ingest enrichers `collection ingest` runs, in order
//! (contracts/cli.md CLI-015).

use clap::{Args, Subcommand};
use retrovue_core::validate::is_slug;

use crate::cli::db::open_store;
use crate::cli::operator::{confirm, parse_duration_ms, print_json, Confirm, DryRun};
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::EnricherRecord;

/// The enricher kinds ingest knows.
pub const ENRICHER_KINDS: [&str; 1] = ["ffprobe"];

#[derive(Debug, Subcommand)]
pub enum EnricherCommand {
    /// List the configured ingest enrichers in the order they run.
    List,
    /// Add an ingest enricher (today: ffprobe, with a per-file timeout).
    Add(AddArgs),
    /// Remove an ingest enricher.
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The kind: ffprobe.
    pub kind: String,
    /// Id; default: the kind.
    #[arg(long)]
    pub id: Option<String>,
    /// How long one file may take, e.g. 30s or 1500ms.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The enricher id.
    pub id: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: DryRun,
}

fn list(global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let enrichers = store.enrichers()?;
    if global.json {
        print_json(&enrichers);
        return Ok(());
    }
    if enrichers.is_empty() {
        println!("no ingest enrichers; add one: retrovue enricher add ffprobe");
    }
    for e in &enrichers {
        println!("{:<16} {:<8} timeout {} ms", e.id, e.kind, e.timeout_ms);
    }
    Ok(())
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    if !ENRICHER_KINDS.contains(&args.kind.as_str()) {
        return Err(AppError::bad(format!(
            "unknown enricher kind {:?} (allowed: {})",
            args.kind,
            ENRICHER_KINDS.join(", ")
        )));
    }
    let timeout_ms = parse_duration_ms(&args.timeout, "--timeout")?;
    let id = args.id.unwrap_or_else(|| args.kind.clone());
    if !is_slug(&id) {
        return Err(AppError::bad(format!(
            "--id: enricher id {id:?} is not a slug ([a-z0-9]+(-[a-z0-9]+)*, at most 64 characters)"
        )));
    }
    let mut store = open_store(global)?;
    let record = EnricherRecord {
        id,
        kind: args.kind,
        timeout_ms,
        position: 0,
    };
    let record = if args.dry_run.dry_run {
        if store.enrichers()?.iter().any(|e| e.id == record.id) {
            return Err(AppError::bad(format!(
                "enricher {:?} already exists",
                record.id
            )));
        }
        record
    } else {
        store.add_enricher(&record)?
    };
    if global.json {
        print_json(&serde_json::json!({ "enricher": record, "dry_run": args.dry_run.dry_run }));
    } else {
        let prefix = if args.dry_run.dry_run {
            "dry run: would have "
        } else {
            ""
        };
        println!(
            "{prefix}added enricher {} ({}, timeout {} ms)",
            record.id, record.kind, record.timeout_ms
        );
    }
    Ok(())
}

fn remove(args: RemoveArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    if !store.enrichers()?.iter().any(|e| e.id == args.id) {
        return Err(AppError::bad(format!(
            "unknown enricher {:?} (see `retrovue enricher list`)",
            args.id
        )));
    }
    if !args.dry_run.dry_run {
        confirm(&format!("remove enricher {}", args.id), args.confirm)?;
        store.remove_enricher(&args.id)?;
    }
    if global.json {
        print_json(&serde_json::json!({ "removed": args.id, "dry_run": args.dry_run.dry_run }));
    } else {
        let prefix = if args.dry_run.dry_run {
            "dry run: would have "
        } else {
            ""
        };
        println!("{prefix}removed enricher {}", args.id);
    }
    Ok(())
}

pub fn run(cmd: EnricherCommand, global: &Global) -> AppResult<()> {
    match cmd {
        EnricherCommand::List => list(global),
        EnricherCommand::Add(args) => add(args, global),
        EnricherCommand::Remove(args) => remove(args, global),
    }
}
