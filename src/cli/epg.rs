//! `retrovue epg …` (stub until the store lands).

use clap::Subcommand;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum EpgCommand {
    /// Not yet available.
    Status,
}

pub fn run(_cmd: EpgCommand, _global: &Global) -> AppResult<()> {
    Err(AppError::runtime("not yet"))
}
