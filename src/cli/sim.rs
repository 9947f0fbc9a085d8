//! `retrovue sim`: dry-run a lineup in virtual time (INTERFACES §1, §3).

use clap::Args;

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The lineup file (TOML, INTERFACES §2).
    #[arg(long)]
    pub lineup: String,
}

pub fn run(_args: SimArgs, _global: &Global) -> AppResult<()> {
    Err(AppError::runtime("not yet"))
}
