//! `retrovue db migrate|status|backup|restore` (contracts/migrations.md, CLI-060, CLI-061) and how
//! every command opens the store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Subcommand;

use crate::cli::operator::{confirm, print_json, Confirm, DryRun};
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::backup::{backup_to_file, BackupSummary};
use crate::store::{self, MigrationState, MigrationStatus, Store};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations (each in one transaction, recorded with a checksum).
    Migrate {
        #[command(flatten)]
        dry_run: DryRun,
    },
    /// List the migrations and whether each is applied; changes nothing.
    Status,
    /// Write a consistent backup of the whole database to FILE (portable between backends).
    Backup {
        /// The backup file (written to FILE.tmp, then renamed).
        file: PathBuf,
    },
    /// Restore a backup into an EMPTY database (of either backend), in one transaction.
    Restore {
        /// A file written by `db backup`.
        file: PathBuf,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        dry_run: DryRun,
    },
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
    match cmd {
        DbCommand::Migrate { dry_run } if dry_run.dry_run => {
            let list = store::connect(&url)?.migration_status()?;
            if global.json {
                let pending: Vec<&str> = list
                    .iter()
                    .filter(|m| m.state == MigrationState::Pending)
                    .map(|m| m.name.as_str())
                    .collect();
                print_json(&serde_json::json!({
                    "dry_run": true, "would_apply": pending, "migrations": list,
                }));
                return Ok(());
            }
            print_statuses(&list, global)?;
            let pending = list
                .iter()
                .filter(|m| m.state == MigrationState::Pending)
                .count();
            println!("dry run: would apply {pending} migration(s)");
            Ok(())
        }
        DbCommand::Migrate { .. } => {
            let list = store::connect(&url)?.migrate()?;
            if global.json {
                // CLI-082: the real run says it was one, as the preview does.
                print_json(&serde_json::json!({"dry_run": false, "migrations": list}));
                return Ok(());
            }
            print_statuses(&list, global)
        }
        DbCommand::Status => print_statuses(&store::connect(&url)?.migration_status()?, global),
        DbCommand::Backup { file } => backup(&url, &file, global),
        DbCommand::Restore {
            file,
            confirm: yes,
            dry_run,
        } => restore(&url, &file, yes, dry_run.dry_run, global),
    }
}

fn report(
    verb: &str,
    file: &Path,
    summary: &BackupSummary,
    started: Instant,
    dry_run: Option<bool>,
    global: &Global,
) {
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if global.json {
        let mut value = serde_json::json!({
            "file": file.display().to_string(),
            "format": summary.format,
            "version": summary.version,
            "schema": summary.schema,
            "backend": summary.backend,
            "created_at_ms": summary.created_at_ms,
            "tables": summary.tables,
            "rows": summary.rows,
            "bytes": bytes,
            "elapsed_ms": elapsed_ms,
        });
        if let Some(dry_run) = dry_run {
            value["dry_run"] = serde_json::Value::Bool(dry_run);
        }
        print_json(&value);
        return;
    }
    let prefix = if dry_run == Some(true) {
        "dry run: would have "
    } else {
        ""
    };
    println!(
        "{prefix}{verb} {}: {} rows in {} tables (schema {}, from {}), {bytes} bytes, {elapsed_ms} ms",
        file.display(),
        summary.rows,
        summary.tables.len(),
        summary.schema,
        summary.backend
    );
}

/// CLI-060: `db backup FILE`.
fn backup(url: &str, file: &Path, global: &Global) -> AppResult<()> {
    let started = Instant::now();
    let mut store = store::connect(url)?;
    let summary = backup_to_file(file, |out| store.backup(out))?;
    report("backed up to", file, &summary, started, None, global);
    Ok(())
}

/// CLI-061: `db restore FILE --yes`.
fn restore(url: &str, file: &Path, yes: Confirm, dry_run: bool, global: &Global) -> AppResult<()> {
    let started = Instant::now();
    let shown = store::postgres::redact(url);
    let opened = std::fs::File::open(file)
        .map_err(|e| AppError::bad(format!("cannot read the backup {}: {e}", file.display())))?;
    if !dry_run {
        confirm(&format!("restore {} into {shown}", file.display()), yes)?;
    }
    let mut input = std::io::BufReader::with_capacity(1 << 20, opened);
    let mut store = store::open(url)?;
    let summary = store.restore(&mut input, dry_run).map_err(|e| {
        let error = AppError::from(e);
        match error {
            AppError::BadInput(m) => AppError::bad(format!(
                "cannot restore {} into {shown}: {m}",
                file.display()
            )),
            other => other,
        }
    })?;
    report(
        "restored from",
        file,
        &summary,
        started,
        Some(dry_run),
        global,
    );
    Ok(())
}
