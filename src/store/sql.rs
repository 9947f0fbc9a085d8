//! The small SQL surface both backends provide, so the store's logic is written once.
//!
//! Statements use `$1, $2, …` placeholders, which SQLite and PostgreSQL both accept (SQLite binds
//! `$N` by order of first appearance, so each statement names them in order).

use std::fmt;
use std::sync::Arc;

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

/// A NUL character in a text parameter is refused on both backends alike (PostgreSQL cannot
/// store one; SQLite would, and a backup would then not restore): a `Check` error naming the
/// parameter (`$N`, or the column) and the start of the text.
pub fn refuse_nul<'a>(
    params: impl IntoIterator<Item = &'a Value>,
    name: impl Fn(usize) -> String,
) -> Result<(), DbError> {
    for (i, value) in params.into_iter().enumerate() {
        if let Value::Text(text) = value {
            if text.contains('\0') {
                let start: String = text.chars().take(40).collect();
                return Err(DbError {
                    kind: DbErrorKind::Check,
                    message: format!(
                        "{} contains a NUL character ({start:?}): text may not contain NUL",
                        name(i)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Column types for bulk inserts (PostgreSQL needs them to build typed arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bool,
}

/// The column names of a query's result and the statement they came from: shared by every row
/// of one result, so a decoding error can name the column and where it was read (STORE-016).
#[derive(Debug)]
pub struct Columns {
    names: Vec<String>,
    /// Whether some name appears twice (a getter of such a name is refused as ambiguous).
    duplicates: bool,
    sql: String,
}

impl Columns {
    pub fn new(names: Vec<String>, sql: &str) -> Columns {
        let duplicates = names
            .iter()
            .enumerate()
            .any(|(i, n)| names[..i].contains(n));
        Columns {
            names,
            duplicates,
            sql: sql.to_string(),
        }
    }

    /// The position of column `name`, if the result has exactly one column of that name.
    fn position(&self, name: &str) -> Result<usize, bool> {
        let mut found = None;
        for (i, n) in self.names.iter().enumerate() {
            if n == name {
                if !self.duplicates {
                    return Ok(i);
                }
                if found.is_some() {
                    return Err(true);
                }
                found = Some(i);
            }
        }
        found.ok_or(false)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Where the rows come from: the tables the statement names, or its opening words.
    pub fn source(&self) -> String {
        let tables = tables_of(&self.sql);
        if !tables.is_empty() {
            return tables.join(", ");
        }
        let head: String = self.sql.chars().take(60).collect();
        if head.len() < self.sql.len() {
            format!("query {head:?}…")
        } else {
            format!("query {head:?}")
        }
    }
}

/// The tables a statement reads or writes (after FROM, JOIN, INTO, UPDATE), in order, once each.
fn tables_of(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    for pair in words.windows(2) {
        let keyword = pair[0].to_ascii_uppercase();
        if !matches!(keyword.as_str(), "FROM" | "JOIN" | "INTO" | "UPDATE") {
            continue;
        }
        let name: String = pair[1]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// One fetched row: values with their column names, decoded by name. Every getter fails with a
/// [`DbErrorKind::Decode`] error naming the column and its table when the column is missing,
/// NULL where a value is required, or of another type (STORE-016): never a silent default.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<Columns>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `columns`; `values` are in the same order.
    pub fn new(columns: Arc<Columns>, values: Vec<Value>) -> Row {
        assert_eq!(
            columns.names.len(),
            values.len(),
            "a row has one value per column"
        );
        Row { columns, values }
    }

    /// `column "NAME" of TABLE`, for messages about one of this row's columns.
    pub fn describe(&self, name: &str) -> String {
        format!("column {name:?} of {}", self.columns.source())
    }

    fn decode_error(&self, name: &str, problem: &str) -> DbError {
        DbError {
            kind: DbErrorKind::Decode,
            message: format!("stored {} {problem}", self.describe(name)),
        }
    }

    /// The raw value of a column (NULL included).
    pub fn value(&self, name: &str) -> Result<&Value, DbError> {
        match self.columns.position(name) {
            Ok(i) => Ok(&self.values[i]),
            Err(false) => Err(self.decode_error(name, "is not in the query's result")),
            Err(true) => Err(self.decode_error(
                name,
                "is ambiguous: the query returns two columns of that name",
            )),
        }
    }

    fn mismatch(&self, name: &str, value: &Value, wanted: &str) -> DbError {
        let held = match value {
            Value::Null => "NULL".to_string(),
            Value::Int(v) => format!("the integer {v}"),
            Value::Text(s) => format!("the text {s:?}"),
            Value::Bool(b) => format!("the boolean {b}"),
        };
        self.decode_error(name, &format!("holds {held}, not {wanted}"))
    }

    fn required<T>(&self, name: &str, value: Option<T>) -> Result<T, DbError> {
        value.ok_or_else(|| self.decode_error(name, "is NULL where a value is required"))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, DbError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(self.mismatch(name, other, "an integer")),
        }
    }

    pub fn int(&self, name: &str) -> Result<i64, DbError> {
        let value = self.opt_int(name)?;
        self.required(name, value)
    }

    /// An integer column converted to a narrower type; out of range is a mismatch.
    pub fn opt_int_as<T: TryFrom<i64>>(&self, name: &str) -> Result<Option<T>, DbError> {
        match self.opt_int(name)? {
            None => Ok(None),
            Some(v) => T::try_from(v).map(Some).map_err(|_| {
                self.mismatch(
                    name,
                    &Value::Int(v),
                    &format!("a value in the range of {}", std::any::type_name::<T>()),
                )
            }),
        }
    }

    pub fn int_as<T: TryFrom<i64>>(&self, name: &str) -> Result<T, DbError> {
        let value = self.opt_int_as(name)?;
        self.required(name, value)
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>, DbError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            other => Err(self.mismatch(name, other, "text")),
        }
    }

    pub fn text(&self, name: &str) -> Result<String, DbError> {
        let value = self.opt_text(name)?;
        self.required(name, value)
    }

    /// SQLite stores booleans as the integers 0 and 1; PostgreSQL as BOOLEAN.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, DbError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(0) => Ok(Some(false)),
            Value::Int(1) => Ok(Some(true)),
            other => Err(self.mismatch(name, other, "a boolean")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, DbError> {
        let value = self.opt_bool(name)?;
        self.required(name, value)
    }
}

/// What kind of failure the database reported; constraint kinds become bad-input errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
    /// A fetched row could not be decoded: a missing, NULL or mistyped column (STORE-016).
    Decode,
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
    /// Run a query and hand each row to `each` as it arrives (constant memory, for backups);
    /// `each` returning an error stops the query with that error.
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
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
    /// Reads only, all from one snapshot of the database (REPEATABLE READ, READ ONLY on
    /// PostgreSQL; a read transaction is a snapshot in SQLite's WAL mode): for backups.
    Snapshot,
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
    /// A statement making the generated ids of `table.column` continue above its largest
    /// stored value (after a restore wrote ids explicitly), or None when the backend does so
    /// by itself.
    fn identity_reset_sql(&self, table: &str, column: &str) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> Row {
        let names = pairs.iter().map(|(n, _)| n.to_string()).collect();
        let columns = Columns::new(names, "SELECT id, duration_ms FROM asset WHERE id = $1");
        Row::new(
            Arc::new(columns),
            pairs.iter().map(|(_, v)| v.clone()).collect(),
        )
    }

    fn decode_error<T: fmt::Debug>(result: Result<T, DbError>) -> String {
        let error = result.expect_err("decoding must fail");
        assert_eq!(error.kind, DbErrorKind::Decode);
        error.message
    }

    // contract: STORE-016
    #[test]
    fn a_null_where_a_value_is_required_names_the_column_and_table() {
        let r = row(&[("id", Value::from("a1")), ("duration_ms", Value::Null)]);
        let message = decode_error(r.int("duration_ms"));
        assert!(message.contains("\"duration_ms\""), "{message}");
        assert!(message.contains("of asset"), "{message}");
        assert!(message.contains("NULL"), "{message}");
        // The nullable getter reads the same NULL as None.
        assert_eq!(r.opt_int("duration_ms").unwrap(), None);
        assert!(decode_error(r.text("duration_ms")).contains("duration_ms"));
        assert!(decode_error(r.bool("duration_ms")).contains("duration_ms"));
    }

    // contract: STORE-016
    #[test]
    fn a_mistyped_column_is_an_error_naming_it_never_a_default() {
        let r = row(&[
            ("title", Value::from("Pilot")),
            ("season", Value::Int(-1)),
            ("approved", Value::Int(2)),
            ("deleted", Value::Int(0)),
            ("flag", Value::Bool(true)),
        ]);
        let message = decode_error(r.int("title"));
        assert!(
            message.contains("\"title\"") && message.contains("Pilot"),
            "{message}"
        );
        assert!(decode_error(r.text("season")).contains("\"season\""));
        let message = decode_error(r.int_as::<u32>("season"));
        assert!(
            message.contains("\"season\"") && message.contains("u32"),
            "{message}"
        );
        assert_eq!(r.int_as::<i32>("season").unwrap(), -1);
        assert!(decode_error(r.bool("approved")).contains("\"approved\""));
        assert!(!r.bool("deleted").unwrap());
        assert!(r.bool("flag").unwrap());
        assert!(decode_error(r.int("flag")).contains("\"flag\""));
        assert_eq!(r.text("title").unwrap(), "Pilot");
    }

    // contract: STORE-016
    #[test]
    fn a_missing_or_ambiguous_column_is_named() {
        let r = row(&[("name", Value::from("a")), ("name", Value::from("b"))]);
        let message = decode_error(r.text("name"));
        assert!(message.contains("ambiguous"), "{message}");
        let message = decode_error(r.text("title"));
        assert!(
            message.contains("\"title\"") && message.contains("not in"),
            "{message}"
        );
    }

    #[test]
    fn the_source_names_every_table_of_the_statement() {
        let columns = Columns::new(
            vec![],
            "SELECT p.event_id FROM schedule_day d JOIN playlog_event p ON p.day_id = d.id",
        );
        assert_eq!(columns.source(), "schedule_day, playlog_event");
        let columns = Columns::new(vec![], "SELECT pg_advisory_xact_lock(1)");
        assert!(columns.source().starts_with("query \"SELECT pg_advisory"));
    }
}
