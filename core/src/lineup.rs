//! Lineup files (INTERFACES §2): parse and validate TOML into core types.

use crate::model::Lineup;

/// One problem in a lineup file, located by file, table and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineupError {
    pub file: String,
    /// e.g. `channel[0] "retro-one".plan[1].zone[0]`
    pub table: String,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for LineupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: [{}] {}: {}",
            self.file, self.table, self.key, self.message
        )
    }
}

/// Parse lineup text. `file` is only used to name the file in errors.
pub fn parse_lineup(_text: &str, file: &str) -> Result<Lineup, Vec<LineupError>> {
    Err(vec![LineupError {
        file: file.to_string(),
        table: String::new(),
        key: String::new(),
        message: "lineup parsing not implemented yet".to_string(),
    }])
}
