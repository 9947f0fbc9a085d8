//! Lineup files (contracts/lineup.md): reading one from disk with every error naming its file,
//! table and key, and the demo lineup bundled into the binary. Used by the CLI, the simulator
//! verb and the daemon alike, so errors read the same everywhere.

use retrovue_core::lineup::{parse_lineup, LineupError};
use retrovue_core::model::Lineup;

use crate::error::{AppError, AppResult};

/// The demo lineup, imported on the first start of an empty store (DAEMON-001) and simulated by
/// `retrovue sim` without `--lineup` (SIM-010).
pub const DEMO_LINEUP: &str = include_str!("../fixtures/demo/lineup.toml");

/// Read and parse a lineup file: every error of the file in one `BadInput`, one per line.
pub fn read_lineup(path: &str) -> AppResult<Lineup> {
    parse_text(&read_text(path)?, path)
}

/// A lineup file's text; an unreadable file is bad input naming it.
pub fn read_text(path: &str) -> AppResult<String> {
    std::fs::read_to_string(path)
        .map_err(|e| AppError::bad(format!("cannot read lineup file {path}: {e}")))
}

/// Parse lineup text named `name` in errors; every error on its own line, exit 2.
pub fn parse_text(text: &str, name: &str) -> AppResult<Lineup> {
    parse_lineup(text, name).map_err(|errors| AppError::bad(join_errors(&errors)))
}

/// The errors of a lineup, one per line.
pub fn join_errors(errors: &[LineupError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
