//! Embedded schema migrations: applied in order, one transaction each, recorded with a checksum
//! (contracts/migrations.md).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::sql::{Backend, Tx, TxMode, Value};
use crate::store::{StoreError, StoreResult};

/// One `.sql` file of `migrations/<backend>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    /// The file name without `.sql`, e.g. `0001_init`.
    pub name: &'static str,
    pub sql: &'static str,
}

/// The SQLite migrations, in order. Every file of `migrations/sqlite/` must be listed here
/// (a test checks it).
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_catalog",
        sql: include_str!("../../migrations/sqlite/0002_catalog.sql"),
    },
    Migration {
        version: 3,
        name: "0003_output_profile",
        sql: include_str!("../../migrations/sqlite/0003_output_profile.sql"),
    },
    Migration {
        version: 4,
        name: "0004_schedule_override",
        sql: include_str!("../../migrations/sqlite/0004_schedule_override.sql"),
    },
    Migration {
        version: 5,
        name: "0005_cluster",
        sql: include_str!("../../migrations/sqlite/0005_cluster.sql"),
    },
    Migration {
        version: 6,
        name: "0006_asrun_session",
        sql: include_str!("../../migrations/sqlite/0006_asrun_session.sql"),
    },
    Migration {
        version: 7,
        name: "0007_asset_edits",
        sql: include_str!("../../migrations/sqlite/0007_asset_edits.sql"),
    },
    Migration {
        version: 8,
        name: "0008_node_ttl",
        sql: include_str!("../../migrations/sqlite/0008_node_ttl.sql"),
    },
];

/// The PostgreSQL migrations, in order (same versions as [`SQLITE`]).
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_catalog",
        sql: include_str!("../../migrations/postgres/0002_catalog.sql"),
    },
    Migration {
        version: 3,
        name: "0003_output_profile",
        sql: include_str!("../../migrations/postgres/0003_output_profile.sql"),
    },
    Migration {
        version: 4,
        name: "0004_schedule_override",
        sql: include_str!("../../migrations/postgres/0004_schedule_override.sql"),
    },
    Migration {
        version: 5,
        name: "0005_cluster",
        sql: include_str!("../../migrations/postgres/0005_cluster.sql"),
    },
    Migration {
        version: 6,
        name: "0006_asrun_session",
        sql: include_str!("../../migrations/postgres/0006_asrun_session.sql"),
    },
    Migration {
        version: 7,
        name: "0007_asset_edits",
        sql: include_str!("../../migrations/postgres/0007_asset_edits.sql"),
    },
    Migration {
        version: 8,
        name: "0008_node_ttl",
        sql: include_str!("../../migrations/postgres/0008_node_ttl.sql"),
    },
];

/// SHA-256 of the migration text, lowercase hex.
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    Applied,
    Pending,
}

/// One line of `db status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub state: MigrationState,
    pub applied_at_ms: Option<i64>,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL
)";

struct Applied {
    version: i64,
    name: String,
    checksum: String,
    applied_at_ms: i64,
}

fn applied(tx: &mut dyn Tx) -> StoreResult<Vec<Applied>> {
    let rows = tx.query(
        "SELECT version, name, checksum, applied_at_ms FROM schema_migrations ORDER BY version",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Applied {
                version: r.int("version")?,
                name: r.text("name")?,
                checksum: r.text("checksum")?,
                applied_at_ms: r.int("applied_at_ms")?,
            })
        })
        .collect()
}

/// MIGRATE-003: every applied migration must exist in `known` with the same checksum.
fn verify(known: &[Migration], applied: &[Applied]) -> StoreResult<()> {
    for row in applied {
        match known.iter().find(|m| m.version == row.version) {
            None => {
                return Err(StoreError::migration(format!(
                    "migration {} (version {}) is applied in the database but missing from this \
                     binary: the database was migrated by a newer retrovue; upgrade retrovue",
                    row.name, row.version
                )))
            }
            Some(m) if checksum(m.sql) != row.checksum => {
                return Err(StoreError::migration(format!(
                    "migration {} (version {}) was changed after it was applied: checksum in the \
                     database {} differs from the file's {}; restore the original file and put \
                     changes in a new migration",
                    m.name,
                    m.version,
                    row.checksum,
                    checksum(m.sql)
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn statuses(known: &[Migration], applied: &[Applied]) -> Vec<MigrationStatus> {
    known
        .iter()
        .map(|m| {
            let row = applied.iter().find(|a| a.version == m.version);
            MigrationStatus {
                version: m.version,
                name: m.name.to_string(),
                checksum: checksum(m.sql),
                state: if row.is_some() {
                    MigrationState::Applied
                } else {
                    MigrationState::Pending
                },
                applied_at_ms: row.map(|a| a.applied_at_ms),
            }
        })
        .collect()
}

/// The status of every known migration, after verifying the applied ones. Writes nothing
/// (a database without `schema_migrations` lists everything as pending).
pub fn status<B: Backend>(
    backend: &mut B,
    known: &[Migration],
) -> StoreResult<Vec<MigrationStatus>> {
    let exists_sql = backend.table_exists_sql();
    backend.transaction(TxMode::Read, |tx| {
        let exists = !tx
            .query(exists_sql, &[Value::from("schema_migrations")])?
            .is_empty();
        let applied = if exists { applied(tx)? } else { Vec::new() };
        verify(known, &applied)?;
        Ok(statuses(known, &applied))
    })
}

/// MIGRATE-001: apply every pending migration, each in its own transaction together with its
/// `schema_migrations` row. Safe against concurrent migrators.
pub fn migrate<B: Backend>(
    backend: &mut B,
    known: &[Migration],
    now_ms: i64,
) -> StoreResult<Vec<MigrationStatus>> {
    let before = status(backend, known)?;
    if before.iter().all(|m| m.state == MigrationState::Applied) {
        return Ok(before);
    }
    let lock = backend.migration_lock_sql();
    for migration in known {
        backend.transaction(TxMode::Write, |tx| -> StoreResult<()> {
            if let Some(lock) = lock {
                tx.execute(lock, &[])?;
            }
            tx.batch(CREATE_TABLE)?;
            let applied = applied(tx)?;
            verify(known, &applied)?;
            if applied.iter().any(|a| a.version == migration.version) {
                return Ok(());
            }
            tx.batch(migration.sql).map_err(|e| {
                StoreError::migration(format!(
                    "migration {} (version {}) failed: {e}",
                    migration.name, migration.version
                ))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at_ms) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    Value::Int(migration.version),
                    Value::from(migration.name),
                    Value::Text(checksum(migration.sql)),
                    Value::Int(now_ms),
                ],
            )?;
            Ok(())
        })?;
    }
    status(backend, known)
}
