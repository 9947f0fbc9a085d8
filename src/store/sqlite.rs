//! The SQLite backend (rusqlite, bundled): the zero-setup default, one file in RETROVUE_HOME.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use crate::store::sql::{
    refuse_nul, Backend, ColType, Columns, DbError, DbErrorKind, Row, Tx, TxMode, Value,
};

pub struct SqliteBackend {
    conn: Connection,
    /// Whether `synchronous` is FULL (durable commits) right now.
    synchronous_full: bool,
}

impl SqliteBackend {
    /// Open (creating when missing) the database file and set the pragmas the store relies on:
    /// WAL with `synchronous=FULL` (a commit is durable when it returns), foreign keys on, and a
    /// busy timeout so concurrent writers queue instead of failing.
    pub fn open(path: &Path) -> Result<SqliteBackend, DbError> {
        let conn = Connection::open(path).map_err(|e| DbError {
            kind: DbErrorKind::Other,
            message: format!("cannot open SQLite database {}: {e}", path.display()),
        })?;
        conn.busy_timeout(Duration::from_secs(60))
            .map_err(convert)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(convert)?;
        Ok(SqliteBackend {
            conn,
            synchronous_full: true,
        })
    }
}

/// rusqlite errors classified by SQLite's extended result code.
fn convert(error: rusqlite::Error) -> DbError {
    use rusqlite::ffi;
    let kind = match &error {
        rusqlite::Error::SqliteFailure(e, _) => match e.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                DbErrorKind::Unique
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DbErrorKind::ForeignKey,
            ffi::SQLITE_CONSTRAINT_CHECK => DbErrorKind::Check,
            ffi::SQLITE_CONSTRAINT_NOTNULL => DbErrorKind::NotNull,
            _ => DbErrorKind::Other,
        },
        _ => DbErrorKind::Other,
    };
    // A statement's error names the problem and where, never the statement's whole text (a
    // failed migration would print its SQL).
    let message = match &error {
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            format!("{msg} (at offset {offset} of the statement)")
        }
        _ => error.to_string(),
    };
    DbError { kind, message }
}

/// `$N` → `?N`: SQLite binds `?N` by explicit index, `$N` by order of appearance.
fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*v)),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*b as i64)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// A row of `columns`. The schema has no REAL or BLOB columns: one is refused, naming it, rather
/// than converted.
fn fetch(row: &rusqlite::Row, columns: &Arc<Columns>) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(columns.names().len());
    for (i, name) in columns.names().iter().enumerate() {
        values.push(match row.get_ref(i).map_err(convert)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Real(v) => return Err(unsupported(name, columns, &format!("REAL {v}"))),
            ValueRef::Blob(_) => return Err(unsupported(name, columns, "BLOB")),
        });
    }
    Ok(Row::new(columns.clone(), values))
}

fn unsupported(name: &str, columns: &Columns, what: &str) -> DbError {
    DbError {
        kind: DbErrorKind::Decode,
        message: format!(
            "stored column {name:?} of {} holds a {what} value, which the store never writes",
            columns.source()
        ),
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl Tx for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let mut stmt = self.tx.prepare_cached(&positional(sql)).map_err(convert)?;
        let changed = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(convert)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let mut stmt = self.tx.prepare_cached(&positional(sql)).map_err(convert)?;
        let names = stmt.column_names().into_iter().map(String::from).collect();
        let columns = Arc::new(Columns::new(names, sql));
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(convert)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(convert)? {
            out.push(fetch(row, &columns)?);
        }
        Ok(out)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let mut stmt = self.tx.prepare_cached(&positional(sql)).map_err(convert)?;
        let names = stmt.column_names().into_iter().map(String::from).collect();
        let columns = Arc::new(Columns::new(names, sql));
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(convert)?;
        while let Some(row) = rows.next().map_err(convert)? {
            each(fetch(row, &columns)?)?;
        }
        Ok(())
    }

    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[(&str, ColType)],
        rows: &[Vec<Value>],
    ) -> Result<(), DbError> {
        for row in rows {
            refuse_nul(row, |i| {
                format!(
                    "column {:?} of {table}",
                    columns.get(i).map_or("?", |c| c.0)
                )
            })?;
        }
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        // One prepared statement executed per row: inside a transaction that is SQLite's
        // fastest path (no parsing, no round trips).
        let mut stmt = self.tx.prepare_cached(&sql).map_err(convert)?;
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row.iter()))
                .map_err(convert)?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.tx.execute_batch(sql).map_err(convert)
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn transaction<T, E: From<DbError>>(
        &mut self,
        mode: TxMode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let behavior = match mode {
            TxMode::Read | TxMode::Snapshot => TransactionBehavior::Deferred,
            TxMode::Write | TxMode::Rebuildable => TransactionBehavior::Immediate,
        };
        // In WAL mode, NORMAL still commits atomically; only FULL also flushes at each commit.
        let full = mode != TxMode::Rebuildable;
        let writes = !matches!(mode, TxMode::Read | TxMode::Snapshot);
        if writes && full != self.synchronous_full {
            let pragma = if full { "FULL" } else { "NORMAL" };
            self.conn
                .execute_batch(&format!("PRAGMA synchronous = {pragma}"))
                .map_err(convert)?;
            self.synchronous_full = full;
        }
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(convert)?;
        let result = f(&mut SqliteTx { tx: &tx });
        match result {
            Ok(value) => {
                tx.commit().map_err(convert)?;
                Ok(value)
            }
            // Dropping the transaction rolls it back.
            Err(error) => Err(error),
        }
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1"
    }

    fn identity_reset_sql(&self, _table: &str, _column: &str) -> Option<String> {
        // AUTOINCREMENT: an explicitly written larger id moves `sqlite_sequence` along.
        None
    }

    fn channel_lock_sql(&self) -> &'static str {
        // Write transactions are IMMEDIATE: SQLite writers are serialised already.
        "SELECT id FROM channel WHERE id = $1"
    }

    fn migration_lock_sql(&self) -> Option<&'static str> {
        None
    }
}

/// STORE-053: `PRAGMA quick_check` of an existing database file, read-write but never created;
/// a damaged file is refused with what SQLite found (the first problems) and what to do.
pub fn quick_check(path: &Path) -> Result<(), DbError> {
    let damaged = |detail: String| DbError {
        kind: DbErrorKind::Other,
        message: format!(
            "SQLite database {} is damaged (PRAGMA quick_check: {detail}); nothing was changed — \
             restore a backup (`retrovue db restore FILE --yes` into a new file) or move the \
             file aside",
            path.display()
        ),
    };
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| damaged(e.to_string()))?;
    conn.busy_timeout(Duration::from_secs(60))
        .map_err(convert)?;
    let mut statement = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| damaged(e.to_string()))?;
    let lines: Vec<String> = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if lines.len() == 1 && lines[0] == "ok" {
        return Ok(());
    }
    Err(damaged(lines.join("; ")))
}
