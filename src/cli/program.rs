//! `retrovue program add|list|show|update|delete`: series or asset lists with a play mode,
//! checked with the lineup file's rules and messages (contracts/cli.md CLI-017).

use clap::{Args, Subcommand};
use retrovue_core::model::{Catalog, Lineup, PlayMode, Program};

use crate::cli::channel::report_change;
use crate::cli::db::open_store;
use crate::cli::operator::{confirm, parse_list, print_fields, print_json, Confirm};
use crate::cli::preview::{GuidePreview, PreviewArgs};
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ProgramCommand {
    /// Add a program: every asset of a series, or an explicit list, with a play mode.
    Add(AddArgs),
    /// List programs.
    List,
    /// Show a program and its candidate assets.
    Show(IdArg),
    /// Change a program.
    Update(UpdateArgs),
    /// Delete a program (refused while a zone uses it or a ScheduleDay rotates it).
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The program id.
    pub id: String,
}

#[derive(Debug, Args, Default)]
pub struct ProgramFields {
    /// Title shown in the guide [default on add: the series or the id].
    #[arg(long)]
    pub title: Option<String>,
    /// sequential, shuffle, random or manual [default on add: sequential].
    #[arg(long)]
    pub play_mode: Option<String>,
    /// Candidates: every asset of this series …
    #[arg(long, conflicts_with = "assets")]
    pub series: Option<String>,
    /// … or this comma-separated list of asset ids, in order.
    #[arg(long)]
    pub assets: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The program id.
    pub id: String,
    #[command(flatten)]
    pub fields: ProgramFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The program id.
    pub id: String,
    #[command(flatten)]
    pub fields: ProgramFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The program id.
    pub id: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

/// CLI-017: the lineup's program rules.
fn check(program: &Program, catalog: &Catalog) -> AppResult<()> {
    let bad = |key: &str, message: String| {
        Err(AppError::bad(format!(
            "program {:?}: {key}: {message}",
            program.id
        )))
    };
    let id = &program.id;
    if id.is_empty() {
        return bad("id", "id must not be empty".into());
    }
    if id.chars().any(char::is_whitespace) {
        return bad("id", "id must not contain whitespace".into());
    }
    if id.starts_with("synthetic:") {
        return bad("id", "id must not start with \"synthetic:\"".into());
    }
    if program.title.trim().is_empty() {
        return bad("title", "title must not be empty".into());
    }
    if program.series.is_none() && program.assets.is_empty() {
        return bad(
            "series",
            "missing required key (series, or an assets list)".into(),
        );
    }
    for asset in &program.assets {
        if !catalog.assets.contains_key(asset) {
            return bad("assets", format!("{asset:?} is not an asset id"));
        }
    }
    if catalog.assets.contains_key(id) || catalog.virtual_assets.contains_key(id) {
        return bad(
            "id",
            format!("id {id:?} is ambiguous: already used by an asset or virtual asset"),
        );
    }
    Ok(())
}

fn apply(program: &mut Program, f: &ProgramFields) -> AppResult<()> {
    if let Some(t) = &f.title {
        program.title = t.clone();
    }
    if let Some(m) = &f.play_mode {
        program.play_mode = PlayMode::parse(m).ok_or_else(|| {
            AppError::bad(format!(
                "--play-mode: unknown play_mode {m:?} (allowed: sequential, shuffle, random, manual)"
            ))
        })?;
    }
    if let Some(s) = &f.series {
        program.series = Some(s.clone()).filter(|s| !s.is_empty());
        program.assets.clear();
    }
    if let Some(a) = &f.assets {
        program.assets = parse_list(a);
        program.series = None;
        if program.assets.is_empty() {
            return Err(AppError::bad(
                "--assets: assets must list at least one asset",
            ));
        }
    }
    Ok(())
}

fn save(
    store: &mut dyn Store,
    program: &Program,
    catalog: &Catalog,
    dry_run: bool,
) -> AppResult<()> {
    check(program, catalog)?;
    if !dry_run {
        let mut lineup = Lineup::default();
        lineup
            .catalog
            .programs
            .insert(program.id.clone(), program.clone());
        store.import_lineup(&lineup)?;
    }
    Ok(())
}

/// CLI-079: a program without a schedulable candidate airs nothing; say so on stderr.
fn warn_if_empty(program: &Program, catalog: &Catalog, global: &Global) {
    let (all, schedulable) = candidates(program, catalog);
    if schedulable > 0 || global.quiet {
        return;
    }
    let what = match &program.series {
        Some(series) if all == 0 => format!("series {series:?} has no assets"),
        _ if all == 0 => "it lists no known asset".to_string(),
        _ => format!("none of its {all} assets is schedulable (approved, with a duration)"),
    };
    eprintln!(
        "warning: program {}: {what}; it airs nothing until assets of it are ingested \
         and approved",
        program.id
    );
}

/// CLI-075: the guide preview of the catalog with `program` in it (or, None, without `id`).
fn program_preview(
    store: &mut dyn Store,
    args: &PreviewArgs,
    id: &str,
    program: Option<&Program>,
) -> AppResult<Option<GuidePreview>> {
    if !args.dry_run {
        return Ok(None);
    }
    let lineup = store.load_lineup()?;
    let mut catalog = lineup.catalog;
    match program {
        Some(p) => {
            catalog.programs.insert(id.to_string(), p.clone());
        }
        None => {
            catalog.programs.remove(id);
        }
    }
    args.preview(store, &catalog, &lineup.channels)
}

fn require_program(catalog: &Catalog, id: &str) -> AppResult<Program> {
    catalog.programs.get(id).cloned().ok_or_else(|| {
        AppError::bad(format!(
            "unknown program {id:?} (see `retrovue program list`)"
        ))
    })
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    if !retrovue_core::validate::is_slug(&args.id) {
        return Err(AppError::bad(format!(
            "program id {:?} is not a slug ([a-z0-9]+(-[a-z0-9]+)*, at most {} characters)",
            args.id,
            retrovue_core::validate::MAX_ID_LEN
        )));
    }
    let mut store = open_store(global)?;
    let catalog = store.load_catalog()?;
    if catalog.programs.contains_key(&args.id) {
        return Err(AppError::bad(format!(
            "program {:?} already exists (change it with `retrovue program update`)",
            args.id
        )));
    }
    let mut program = Program {
        id: args.id.clone(),
        title: args.fields.title.clone().unwrap_or_default(),
        play_mode: PlayMode::Sequential,
        series: None,
        assets: Vec::new(),
    };
    apply(&mut program, &args.fields)?;
    if program.title.is_empty() {
        program.title = program.series.clone().unwrap_or_else(|| program.id.clone());
    }
    save(store.as_mut(), &program, &catalog, args.dry_run.dry_run)?;
    warn_if_empty(&program, &catalog, global);
    let preview = program_preview(store.as_mut(), &args.dry_run, &program.id, Some(&program))?;
    report_change(
        &format!("program {}", program.id),
        "added",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&program).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

/// The program's candidate assets and how many are schedulable.
fn candidates(program: &Program, catalog: &Catalog) -> (usize, usize) {
    let list: Vec<_> = catalog
        .assets
        .values()
        .filter(|a| {
            program.assets.contains(&a.id)
                || (program.series.is_some() && a.series == program.series)
        })
        .collect();
    (
        list.len(),
        list.iter().filter(|a| a.is_schedulable()).count(),
    )
}

fn list(global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let catalog = store.load_catalog()?;
    if global.json {
        let programs: Vec<&Program> = catalog.programs.values().collect();
        print_json(&programs);
        return Ok(());
    }
    if catalog.programs.is_empty() {
        println!("no programs; add one: retrovue program add ID --series NAME");
    }
    for p in catalog.programs.values() {
        let (all, schedulable) = candidates(p, &catalog);
        println!(
            "{:<24} {:<10} {:<28} {schedulable}/{all} schedulable",
            p.id,
            p.play_mode.as_str(),
            p.title
        );
    }
    Ok(())
}

fn show(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let catalog = store.load_catalog()?;
    let program = require_program(&catalog, &args.id)?;
    let (all, schedulable) = candidates(&program, &catalog);
    if global.json {
        print_json(&serde_json::json!({
            "program": program, "candidates": all, "schedulable": schedulable,
        }));
        return Ok(());
    }
    print_fields(&[
        ("id", program.id.clone()),
        ("title", program.title.clone()),
        ("play mode", program.play_mode.as_str().into()),
        ("series", program.series.clone().unwrap_or_default()),
        ("assets", program.assets.join(", ")),
        ("candidates", format!("{all} ({schedulable} schedulable)")),
    ]);
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let catalog = store.load_catalog()?;
    let mut program = require_program(&catalog, &args.id)?;
    apply(&mut program, &args.fields)?;
    save(store.as_mut(), &program, &catalog, args.dry_run.dry_run)?;
    warn_if_empty(&program, &catalog, global);
    let preview = program_preview(store.as_mut(), &args.dry_run, &program.id, Some(&program))?;
    report_change(
        &format!("program {}", program.id),
        "updated",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&program).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn delete(args: DeleteArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let catalog = store.load_catalog()?;
    let program = require_program(&catalog, &args.id)?;
    // The reference and history checks run in a dry run too (CLI-003).
    store.delete_program(&program.id, true)?;
    if !args.dry_run.dry_run {
        confirm(&format!("delete program {}", program.id), args.confirm)?;
        store.delete_program(&program.id, false)?;
    }
    let preview = program_preview(store.as_mut(), &args.dry_run, &program.id, None)?;
    report_change(
        &format!("program {}", program.id),
        "deleted",
        args.dry_run.dry_run,
        global.json,
        serde_json::json!(program.id),
        preview.as_ref(),
    );
    Ok(())
}

pub fn run(cmd: ProgramCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ProgramCommand::Add(args) => add(args, global),
        ProgramCommand::List => list(global),
        ProgramCommand::Show(args) => show(args, global),
        ProgramCommand::Update(args) => update(args, global),
        ProgramCommand::Delete(args) => delete(args, global),
    }
}
