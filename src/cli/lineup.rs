//! `retrovue lineup validate|generate` (and, with the store, import|export).

use clap::Subcommand;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum LineupCommand {
    /// Check a lineup file; report every error (file, table, key) and exit 2 if any.
    Validate { file: String },
    /// Load a lineup into the database in one transaction (all or nothing).
    Import(crate::cli::lineup_io::ImportArgs),
    /// Write the database's lineup out as TOML (import → export → import is a fixpoint).
    Export(crate::cli::lineup_io::ExportArgs),
}

pub fn run(cmd: LineupCommand, global: &Global) -> AppResult<()> {
    match cmd {
        LineupCommand::Import(args) => crate::cli::lineup_io::import(args, global),
        LineupCommand::Export(args) => crate::cli::lineup_io::export(args, global),
        LineupCommand::Validate { file } => Err(AppError::runtime(format!("not yet: {file}"))),
    }
}
