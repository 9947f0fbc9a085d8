//! `retrovue lineup validate|generate` (and, with the store, import|export).

use clap::{Args, Subcommand};
use retrovue_core::generate::generate_lineup;
use retrovue_core::lineup::{lineup_warnings, parse_lineup, to_toml, LineupError};

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum LineupCommand {
    /// Check a lineup file; report every error (file, table, key) and exit 2 if any.
    Validate {
        /// The lineup TOML file.
        file: String,
    },
    /// Load a lineup into the database in one transaction (all or nothing).
    Import(crate::cli::lineup_io::ImportArgs),
    /// Write the database's lineup out as TOML (import → export → import is a fixpoint).
    Export(crate::cli::lineup_io::ExportArgs),
    /// Write a deterministic synthetic benchmark lineup (2 000 episodes, 300 movies, N channels).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many channels (≥ 1).
    #[arg(long)]
    pub channels: u32,
    /// Seed: the same channels and seed give the same file.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', alias = "output")]
    pub out: Option<String>,
}

pub fn run(cmd: LineupCommand, global: &Global) -> AppResult<()> {
    match cmd {
        LineupCommand::Import(args) => crate::cli::lineup_io::import(args, global),
        LineupCommand::Export(args) => crate::cli::lineup_io::export(args, global),
        LineupCommand::Validate { file } => validate(&file, global),
        LineupCommand::Generate(args) => generate(args, global),
    }
}

use crate::lineup_file::{join_errors, read_text};
pub use crate::lineup_file::{parse_text, read_lineup};

fn error_json(e: &LineupError) -> serde_json::Value {
    serde_json::json!({
        "file": e.file,
        "table": e.table,
        "key": e.key,
        "message": e.message,
    })
}

fn validate(path: &str, global: &Global) -> AppResult<()> {
    let report = |ok: bool, errors: Vec<serde_json::Value>, warnings: &[String]| {
        let value = serde_json::json!({ "ok": ok, "errors": errors, "warnings": warnings });
        println!("{value}");
    };
    let text = match read_text(path) {
        Ok(text) => text,
        Err(error) => {
            if global.json {
                let unreadable = serde_json::json!({
                    "file": path, "table": "", "key": "", "message": error.to_string(),
                });
                report(false, vec![unreadable], &[]);
            }
            return Err(error);
        }
    };
    match parse_lineup(&text, path) {
        Ok(lineup) => {
            let warnings = lineup_warnings(&lineup);
            if global.json {
                report(true, Vec::new(), &warnings);
            } else {
                let catalog = &lineup.catalog;
                println!(
                    "OK {path}: {} assets, {} programs, {} virtual assets, {} channels",
                    catalog.assets.len(),
                    catalog.programs.len(),
                    catalog.virtual_assets.len(),
                    lineup.channels.len()
                );
                for warning in &warnings {
                    eprintln!("warning: {warning}");
                }
            }
            Ok(())
        }
        Err(errors) => {
            if global.json {
                report(false, errors.iter().map(error_json).collect(), &[]);
            }
            Err(AppError::bad(join_errors(&errors)))
        }
    }
}

fn generate(args: GenerateArgs, global: &Global) -> AppResult<()> {
    if args.channels == 0 {
        return Err(AppError::bad("--channels must be at least 1"));
    }
    let lineup = generate_lineup(args.channels, args.seed);
    let text = to_toml(&lineup);
    if let Some(path) = &args.out {
        std::fs::write(path, &text)
            .map_err(|e| AppError::runtime(format!("cannot write {path}: {e}")))?;
    }
    if global.json {
        let mut value = crate::cli::lineup_io::lineup_json(&lineup, args.out.as_deref(), &text);
        value["seed"] = serde_json::Value::from(args.seed);
        crate::cli::operator::print_json(&value);
        return Ok(());
    }
    match &args.out {
        None => print!("{text}"),
        Some(path) => {
            if !global.quiet {
                eprintln!(
                    "wrote {path}: {} assets, {} channels (seed {})",
                    lineup.catalog.assets.len(),
                    lineup.channels.len(),
                    args.seed
                );
            }
        }
    }
    Ok(())
}
