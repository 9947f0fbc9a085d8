//! The small SQL surface both backends provide, so the store's logic is written once.
//!
//! Statements use `$1, $2, …` placeholders, which SQLite and PostgreSQL both accept (SQLite binds
//! `$N` by order of first appearance, so each statement names them in order).

use std::fmt;

/// A bound parameter or a fetched column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(v as i64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Column types for bulk inserts (PostgreSQL needs them to build typed arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bool,
}

/// One fetched row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match &self.0[i] {
            Value::Int(v) => Some(*v),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }

    pub fn opt_text(&self, i: usize) -> Option<String> {
        match &self.0[i] {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    /// SQLite stores booleans as integers; PostgreSQL as BOOLEAN.
    pub fn bool(&self, i: usize) -> bool {
        match &self.0[i] {
            Value::Bool(b) => *b,
            Value::Int(v) => *v != 0,
            _ => false,
        }
    }
}

/// What kind of failure the database reported; constraint kinds become bad-input errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
    Other,
}

#[derive(Debug, Clone)]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Statements inside one open transaction.
pub trait Tx {
    /// Run a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    /// Insert many rows into `table` with as few round trips as the backend allows.
    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[(&str, ColType)],
        rows: &[Vec<Value>],
    ) -> Result<(), DbError>;
    /// Run a script of several statements (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
}

/// How a transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// Reads only.
    Read,
    /// Writes, durable when the commit returns (as-run, imports, migrations).
    Write,
    /// Writes that are atomic and isolated like any other, but whose commit does not wait for
    /// the disk flush: a power loss may drop the last fraction of a second of them, never part
    /// of one. For ScheduleDays, which the core rebuilds identically.
    Rebuildable,
}

/// A connection that can run a closure in a transaction: committed when it returns `Ok`,
/// rolled back otherwise.
pub trait Backend {
    fn name(&self) -> &'static str;
    /// A writing transaction takes the write lock up front (SQLite `BEGIN IMMEDIATE`), which
    /// keeps a read-then-write transaction from failing half-way.
    fn transaction<T, E: From<DbError>>(
        &mut self,
        mode: TxMode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E>;
    /// A statement taking a lock that serialises migrators inside a transaction (or none).
    fn migration_lock_sql(&self) -> Option<&'static str>;
    /// A query returning the channel row `$1`, locking it until the transaction ends where the
    /// backend has row locks (writers of one channel's chain serialise on it, STORE-013).
    fn channel_lock_sql(&self) -> &'static str;
    /// A query returning one row when the table named `$1` exists.
    fn table_exists_sql(&self) -> &'static str;
}
