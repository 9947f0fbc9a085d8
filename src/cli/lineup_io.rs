//! `retrovue lineup import|export` (stub until the store lands).

use clap::Args;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {}

pub fn import(_args: ImportArgs, _global: &Global) -> AppResult<()> {
    Err(AppError::runtime("not yet"))
}

pub fn export(_args: ExportArgs, _global: &Global) -> AppResult<()> {
    Err(AppError::runtime("not yet"))
}
