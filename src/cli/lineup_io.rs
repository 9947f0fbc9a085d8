//! `retrovue lineup import|export`: config as code through the store (STORE-002, STORE-003).

use clap::Args;

use crate::cli::db::open_store;
use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The lineup TOML file.
    pub file: String,
    /// Parse and check everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<String>,
}

pub fn import(args: ImportArgs, global: &Global) -> AppResult<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| AppError::bad(format!("cannot read lineup file {}: {e}", args.file)))?;
    // References may resolve in the catalog the database already holds (LINEUP rules in contracts/lineup.md: a
    // lineup's catalog is optional then).
    let mut store = open_store(global)?;
    let known = store.load_catalog()?;
    let lineup = match retrovue_core::lineup::parse_lineup_with(&text, &args.file, &known) {
        Ok(lineup) => lineup,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            return Err(AppError::bad(format!(
                "{}: {} error(s); nothing imported",
                args.file,
                errors.len()
            )));
        }
    };
    if args.dry_run {
        if !global.json {
            println!(
                "{}: valid ({} channels); nothing written (--dry-run)",
                args.file,
                lineup.channels.len()
            );
        }
        return Ok(());
    }
    let summary = store.import_lineup(&lineup)?;
    if global.json {
        println!("{}", serde_json::to_string(&summary).expect("plain data"));
    } else {
        println!(
            "imported {}: {} assets, {} programs, {} virtual assets, {} channels",
            args.file, summary.assets, summary.programs, summary.virtual_assets, summary.channels
        );
    }
    Ok(())
}

pub fn export(args: ExportArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let lineup = store.load_lineup()?;
    let text = retrovue_core::lineup::to_toml(&lineup);
    match args.output {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| AppError::runtime(format!("cannot write {path}: {e}"))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
