//! `retrovue lineup validate|generate` (and, with the store, import|export).

use clap::Subcommand;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum LineupCommand {
    /// Check a lineup file; report every error (file, table, key) and exit 2 if any.
    Validate { file: String },
}

pub fn run(cmd: LineupCommand, _global: &Global) -> AppResult<()> {
    match cmd {
        LineupCommand::Validate { file } => Err(AppError::runtime(format!("not yet: {file}"))),
    }
}
