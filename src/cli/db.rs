//! `retrovue db …` (stub until the store lands).

use clap::Subcommand;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Not yet available.
    Status,
}

pub fn run(_cmd: DbCommand, _global: &Global) -> AppResult<()> {
    Err(AppError::runtime("not yet"))
}
