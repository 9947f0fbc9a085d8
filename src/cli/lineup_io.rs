//! `retrovue lineup import|export`: config as code through the store (STORE-002, STORE-003).

use clap::Args;

use crate::cli::db::open_store;
use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The lineup TOML file.
    pub file: String,
    #[command(flatten)]
    pub dry_run: crate::cli::preview::PreviewArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', alias = "output")]
    pub out: Option<String>,
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
    if args.dry_run.dry_run {
        // CLI-075: the guide changes once the lineup is in (every channel: a catalog change
        // may touch any of them).
        let after = crate::cli::preview::merged(store.load_lineup()?, &lineup);
        let preview = args
            .dry_run
            .preview(store.as_mut(), &after.catalog, &after.channels)?
            .unwrap_or_default();
        if global.json {
            let catalog = &lineup.catalog;
            let mut value = serde_json::json!({
                "dry_run": true,
                "assets": catalog.assets.len(),
                "programs": catalog.programs.len(),
                "virtual_assets": catalog.virtual_assets.len(),
                "channels": lineup.channels.len(),
            });
            crate::cli::preview::add_to_json(&mut value, Some(&preview));
            println!("{value}");
        } else {
            println!(
                "{}: valid ({} channels); nothing written (--dry-run)",
                args.file,
                lineup.channels.len()
            );
            crate::cli::preview::print_preview(&preview);
        }
        return Ok(());
    }
    let summary = store.import_lineup(&lineup)?;
    if global.json {
        let mut value = serde_json::to_value(summary).expect("plain data");
        value["dry_run"] = serde_json::Value::Bool(false);
        println!("{value}");
    } else {
        println!(
            "imported {}: {} assets, {} programs, {} virtual assets, {} channels",
            args.file, summary.assets, summary.programs, summary.virtual_assets, summary.channels
        );
    }
    Ok(())
}

/// What `--json` prints for a lineup written out (`export`, `generate`): the counts and
/// the file, or the TOML itself when it went to no file.
pub fn lineup_json(
    lineup: &retrovue_core::model::Lineup,
    file: Option<&str>,
    text: &str,
) -> serde_json::Value {
    let catalog = &lineup.catalog;
    let mut value = serde_json::json!({
        "file": file,
        "assets": catalog.assets.len(),
        "programs": catalog.programs.len(),
        "virtual_assets": catalog.virtual_assets.len(),
        "channels": lineup.channels.len(),
        "bytes": text.len(),
    });
    if file.is_none() {
        value["toml"] = serde_json::Value::String(text.to_string());
    }
    value
}

pub fn export(args: ExportArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let lineup = store.load_lineup()?;
    let text = retrovue_core::lineup::to_toml(&lineup);
    if let Some(path) = &args.out {
        std::fs::write(path, &text)
            .map_err(|e| AppError::runtime(format!("cannot write {path}: {e}")))?;
    }
    if global.json {
        crate::cli::operator::print_json(&lineup_json(&lineup, args.out.as_deref(), &text));
    } else if args.out.is_none() {
        print!("{text}");
    }
    Ok(())
}
