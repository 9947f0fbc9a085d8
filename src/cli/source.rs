//! `retrovue source add|list|show|update|delete|discover`: the external libraries RetroVue reads
//! (contracts/cli.md CLI-010, CLI-011).

use clap::{Args, Subcommand};
use retrovue_core::validate::is_slug;

use crate::cli::db::open_store;
use crate::cli::operator::{confirm, print_fields, print_json, Confirm, DryRun};
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::ingest::pathmap::PathMap;
use crate::ingest::pipeline::{bounded_id, discover_source, slugify};
use crate::store::{SourceConfig, SourceRecord, Store};

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Register a source: a folder tree, a Plex server or a Jellyfin server.
    Add(AddArgs),
    /// List sources.
    List,
    /// Show a source and its collections.
    Show(IdArg),
    /// Change a source's name, paths, URL, token or path mappings.
    Update(UpdateArgs),
    /// Delete a source with its collections and their assets (refused over aired history).
    Delete(DeleteArgs),
    /// Find the source's collections (one per folder root, or the server's libraries).
    Discover(DiscoverArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The source id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// filesystem, plex or jellyfin.
    #[arg(long)]
    pub kind: String,
    /// Id (a slug); default: derived from the name.
    #[arg(long)]
    pub id: Option<String>,
    /// Display name; default: the folder's name or the kind.
    #[arg(long)]
    pub name: Option<String>,
    /// Root folder of a filesystem source (repeatable: one collection per root).
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Server URL of a Plex or Jellyfin source.
    #[arg(long)]
    pub url: Option<String>,
    /// API token of a Plex or Jellyfin source.
    #[arg(long)]
    pub token: Option<String>,
    /// SERVER=LOCAL: read server paths under SERVER from LOCAL (repeatable).
    #[arg(long = "path-map")]
    pub path_map: Vec<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The source id.
    pub id: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the root folders (repeatable).
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// New server URL (Plex or Jellyfin).
    #[arg(long)]
    pub url: Option<String>,
    /// New API token (Plex or Jellyfin).
    #[arg(long)]
    pub token: Option<String>,
    /// Replace the path mappings (repeatable SERVER=LOCAL).
    #[arg(long = "path-map")]
    pub path_map: Vec<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The source id.
    pub id: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The source id.
    pub id: String,
    #[command(flatten)]
    pub dry_run: DryRun,
}

/// The stored source, or bad input naming it.
pub fn require_source(store: &mut dyn Store, id: &str) -> AppResult<SourceRecord> {
    store.sources(Some(id))?.pop().ok_or_else(|| {
        AppError::bad(format!(
            "unknown source {id:?} (see `retrovue source list`)"
        ))
    })
}

/// CLI-010: a source's settings must fit its kind.
fn check_source(source: &SourceRecord) -> AppResult<()> {
    if !is_slug(&source.id) {
        return Err(AppError::bad(format!(
            "--id: source id {:?} is not a slug ([a-z0-9]+(-[a-z0-9]+)*, at most 64 characters)",
            source.id
        )));
    }
    for rule in &source.config.path_map {
        PathMap::parse_rule(rule)?;
    }
    match source.kind.as_str() {
        "filesystem" => {
            if source.config.paths.is_empty() {
                return Err(AppError::bad(
                    "--path: a filesystem source needs at least one root folder",
                ));
            }
            for path in &source.config.paths {
                if !std::path::Path::new(path).is_dir() {
                    return Err(AppError::bad(format!(
                        "--path: filesystem root {path} does not exist or is not a directory"
                    )));
                }
            }
        }
        "plex" | "jellyfin" => {
            let url = source.config.url.as_deref().unwrap_or("");
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AppError::bad(format!(
                    "--url: a {} source needs the server's http(s):// URL",
                    source.kind
                )));
            }
        }
        other => {
            return Err(AppError::bad(format!(
                "--kind: unknown source kind {other:?} (allowed: filesystem, plex, jellyfin)"
            )))
        }
    }
    Ok(())
}

fn absolute_paths(paths: &[String]) -> AppResult<Vec<String>> {
    paths
        .iter()
        .map(|p| {
            std::path::absolute(p)
                .map(|a| a.display().to_string())
                .map_err(|e| AppError::bad(format!("--path {p}: {e}")))
        })
        .collect()
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    let paths = absolute_paths(&args.paths)?;
    let name = args.name.clone().unwrap_or_else(|| {
        paths
            .first()
            .and_then(|p| std::path::Path::new(p).file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| args.kind.clone())
    });
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| bounded_id(slugify(&name)));
    let source = SourceRecord {
        id,
        kind: args.kind.clone(),
        name,
        config: SourceConfig {
            paths,
            url: args.url.clone(),
            token: args.token.clone(),
            path_map: args.path_map.clone(),
        },
        created_at_ms: crate::store::now_ms(),
    };
    check_source(&source)?;
    let mut store = open_store(global)?;
    if !args.dry_run.dry_run {
        store.put_source(&source, true)?;
    } else if !store.sources(Some(&source.id))?.is_empty() {
        return Err(AppError::bad(format!(
            "source {:?} already exists",
            source.id
        )));
    }
    report(&source, args.dry_run.dry_run, "added", global);
    Ok(())
}

/// A source as printed: its token never leaves the database (CLI-062), only whether it has one.
fn shown(source: &SourceRecord) -> SourceRecord {
    let mut shown = source.clone();
    if shown.config.token.is_some() {
        shown.config.token = Some(REDACTED.to_string());
    }
    shown
}

/// What `--json` prints in place of a token.
pub const REDACTED: &str = "<redacted>";

fn report(source: &SourceRecord, dry_run: bool, verb: &str, global: &Global) {
    if global.json {
        print_json(&serde_json::json!({ "source": shown(source), "dry_run": dry_run }));
    } else {
        let prefix = if dry_run { "dry run: would have " } else { "" };
        println!("{prefix}{verb} source {} ({})", source.id, source.kind);
    }
}

fn list(global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let sources = store.sources(None)?;
    if global.json {
        print_json(&sources.iter().map(shown).collect::<Vec<_>>());
        return Ok(());
    }
    if sources.is_empty() {
        println!("no sources; add one: retrovue source add --kind filesystem --path DIR");
    }
    for s in &sources {
        let location = match s.kind.as_str() {
            "filesystem" => s.config.paths.join(", "),
            _ => s.config.url.clone().unwrap_or_default(),
        };
        println!("{:<20} {:<10} {:<24} {}", s.id, s.kind, s.name, location);
    }
    Ok(())
}

fn show(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let source = require_source(store.as_mut(), &args.id)?;
    let collections = store.collections(Some(&source.id), None)?;
    if global.json {
        print_json(&serde_json::json!({ "source": shown(&source), "collections": collections }));
        return Ok(());
    }
    print_fields(&[
        ("id", source.id.clone()),
        ("kind", source.kind.clone()),
        ("name", source.name.clone()),
        ("paths", source.config.paths.join(", ")),
        ("url", source.config.url.clone().unwrap_or_default()),
        ("path map", source.config.path_map.join(", ")),
        ("collections", collections.len().to_string()),
    ]);
    for c in &collections {
        println!(
            "  {:<24} {:<8} ingest {}  {}",
            c.id,
            c.kind,
            if c.ingest_enabled { "on " } else { "off" },
            c.name
        );
    }
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut source = require_source(store.as_mut(), &args.id)?;
    if let Some(name) = args.name {
        source.name = name;
    }
    if !args.paths.is_empty() {
        source.config.paths = absolute_paths(&args.paths)?;
    }
    if args.url.is_some() {
        source.config.url = args.url;
    }
    if args.token.is_some() {
        source.config.token = args.token;
    }
    if !args.path_map.is_empty() {
        source.config.path_map = args.path_map;
    }
    check_source(&source)?;
    if !args.dry_run.dry_run {
        store.put_source(&source, false)?;
    }
    report(&source, args.dry_run.dry_run, "updated", global);
    Ok(())
}

fn delete(args: DeleteArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let source = require_source(store.as_mut(), &args.id)?;
    let collections = store.collections(Some(&source.id), None)?;
    // The history and reference checks run in a dry run too (CLI-003).
    store.delete_source(&source.id, true)?;
    if args.dry_run.dry_run {
        if global.json {
            print_json(
                &serde_json::json!({ "source": source.id, "collections": collections.len(), "dry_run": true }),
            );
        } else {
            println!(
                "dry run: would delete source {} with {} collections and their assets",
                source.id,
                collections.len()
            );
        }
        return Ok(());
    }
    confirm(
        &format!(
            "delete source {} with {} collections and their assets",
            source.id,
            collections.len()
        ),
        args.confirm,
    )?;
    let assets = store.delete_source(&source.id, false)?;
    if global.json {
        print_json(
            &serde_json::json!({ "source": source.id, "deleted_assets": assets, "dry_run": false }),
        );
    } else {
        println!("deleted source {} ({assets} assets)", source.id);
    }
    Ok(())
}

fn discover(args: DiscoverArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let source = require_source(store.as_mut(), &args.id)?;
    let found = discover_source(&source)?;
    let collections = if args.dry_run.dry_run {
        found
    } else {
        store.discover_collections(&found)?
    };
    if global.json {
        print_json(&serde_json::json!({
            "source": source.id,
            "collections": collections,
            "dry_run": args.dry_run.dry_run,
        }));
        return Ok(());
    }
    let prefix = if args.dry_run.dry_run {
        "dry run: "
    } else {
        ""
    };
    println!(
        "{prefix}source {}: {} collections",
        source.id,
        collections.len()
    );
    for c in &collections {
        println!(
            "  {:<24} ingest {}  {}",
            c.id,
            if c.ingest_enabled { "on " } else { "off" },
            c.locations.join(", ")
        );
    }
    Ok(())
}

pub fn run(cmd: SourceCommand, global: &Global) -> AppResult<()> {
    match cmd {
        SourceCommand::Add(args) => add(args, global),
        SourceCommand::List => list(global),
        SourceCommand::Show(args) => show(args, global),
        SourceCommand::Update(args) => update(args, global),
        SourceCommand::Delete(args) => delete(args, global),
        SourceCommand::Discover(args) => discover(args, global),
    }
}
