//! `retrovue db migrate|status` (contracts/migrations.md) and how every command opens the store.

use clap::Subcommand;

use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::{self, MigrationState, MigrationStatus, Store};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations (each in one transaction, recorded with a checksum).
    Migrate,
    /// List the migrations and whether each is applied; changes nothing.
    Status,
}

/// Open the database chosen by `--db` / RETROVUE_DATABASE_URL / RETROVUE_HOME, verify the
/// applied migrations and apply pending ones (STORE-001, MIGRATE-001, MIGRATE-003).
pub fn open_store(global: &Global) -> AppResult<Box<dyn Store>> {
    let url = store::resolve_url(global.db.as_deref())?;
    Ok(store::open(&url)?)
}

fn print_statuses(list: &[MigrationStatus], global: &Global) -> AppResult<()> {
    if global.json {
        let text = serde_json::to_string_pretty(list)
            .map_err(|e| AppError::runtime(format!("cannot encode JSON: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    for m in list {
        let state = match m.state {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
        };
        let when = m
            .applied_at_ms
            .map(retrovue_core::time::fmt_utc)
            .unwrap_or_default();
        println!(
            "{:04}  {:<24} {:<8} {}  {when}",
            m.version,
            m.name,
            state,
            &m.checksum[..12]
        );
    }
    Ok(())
}

pub fn run(cmd: DbCommand, global: &Global) -> AppResult<()> {
    let url = store::resolve_url(global.db.as_deref())?;
    let mut store = store::connect(&url)?;
    let list = match cmd {
        DbCommand::Migrate => store.migrate()?,
        DbCommand::Status => store.migration_status()?,
    };
    print_statuses(&list, global)
}
