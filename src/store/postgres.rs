//! The PostgreSQL backend (the `postgres` crate): production and multi-node deployments.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use std::collections::HashMap;
use std::sync::Arc;

use postgres::{Client, NoTls, Statement};

use crate::store::sql::{
    refuse_nul, Backend, ColType, Columns, DbError, DbErrorKind, Row, Tx, TxMode, Value,
};

pub struct PostgresBackend {
    url: String,
    client: Client,
    /// Prepared statements by SQL text: each is parsed once per connection.
    statements: HashMap<String, Statement>,
}

impl PostgresBackend {
    pub fn connect(url: &str) -> Result<PostgresBackend, DbError> {
        let client = Client::connect(url, NoTls).map_err(|e| {
            let missing = e.code() == Some(&postgres::error::SqlState::INVALID_CATALOG_NAME);
            let message = match e.as_db_error() {
                // The server is there, the database is not: say so, not "cannot connect".
                Some(db) if missing => format!(
                    "PostgreSQL at {}: {} (create it first, e.g. with createdb, or fix the URL)",
                    redact(url),
                    db.message()
                ),
                _ => format!("cannot connect to PostgreSQL at {}: {e}", redact(url)),
            };
            DbError {
                kind: DbErrorKind::Other,
                message,
            }
        })?;
        Ok(PostgresBackend {
            url: url.to_string(),
            client,
            statements: HashMap::new(),
        })
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme_end + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn convert(error: postgres::Error) -> DbError {
    use postgres::error::SqlState;
    let kind = match error.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbErrorKind::Unique,
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => DbErrorKind::ForeignKey,
        Some(c) if *c == SqlState::CHECK_VIOLATION => DbErrorKind::Check,
        Some(c) if *c == SqlState::NOT_NULL_VIOLATION => DbErrorKind::NotNull,
        _ => DbErrorKind::Other,
    };
    let message = match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_string(),
        },
        None => error.to_string(),
    };
    DbError { kind, message }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
        }
    }

    // Parameter types come from the statement; `to_sql` adapts each value to them.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn fetch(row: &postgres::Row, columns: &Arc<Columns>) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.get::<_, Option<i64>>(i).map(Value::Int),
            Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| Value::Int(v as i64)),
            Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| Value::Int(v as i64)),
            Type::BOOL => row.get::<_, Option<bool>>(i).map(Value::Bool),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                row.get::<_, Option<String>>(i).map(Value::Text)
            }
            ref other => {
                return Err(DbError {
                    kind: DbErrorKind::Decode,
                    message: format!(
                        "stored column {:?} of {} has the type {other}, which the store never \
                         uses",
                        column.name(),
                        columns.source()
                    ),
                })
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row::new(columns.clone(), values))
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    statements: &'a mut HashMap<String, Statement>,
}

impl PgTx<'_, '_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql).map_err(convert)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

impl Tx for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let statement = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.tx.execute(&statement, &refs).map_err(convert)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let statement = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.tx.query(&statement, &refs).map_err(convert)?;
        let names = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let columns = Arc::new(Columns::new(names, sql));
        rows.iter().map(|row| fetch(row, &columns)).collect()
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        use postgres::fallible_iterator::FallibleIterator;
        refuse_nul(params, |i| format!("text value ${}", i + 1))?;
        let statement = self.statement(sql)?;
        let names = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let columns = Arc::new(Columns::new(names, sql));
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let mut rows = self
            .tx
            .query_raw(&statement, refs.iter().copied())
            .map_err(convert)?;
        while let Some(row) = rows.next().map_err(convert)? {
            each(fetch(&row, &columns)?)?;
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
        if rows.is_empty() {
            return Ok(());
        }
        // Binary COPY: the rows stream in one go with no per-row statement or text parsing.
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let types: Vec<Type> = columns
            .iter()
            .map(|(_, ty)| match ty {
                ColType::Int => Type::INT8,
                ColType::Text => Type::TEXT,
                ColType::Bool => Type::BOOL,
            })
            .collect();
        let sql = format!("COPY {table} ({}) FROM STDIN BINARY", names.join(", "));
        let sink = self.tx.copy_in(sql.as_str()).map_err(convert)?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let refs: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v as _).collect();
            writer.write(&refs).map_err(convert)?;
        }
        writer.finish().map_err(convert)?;
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.tx.batch_execute(sql).map_err(convert)
    }
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn transaction<T, E: From<DbError>>(
        &mut self,
        mode: TxMode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        // A failed COPY or a server restart closes the connection: open a new one rather than
        // failing every later call of a long-running process.
        if self.client.is_closed() {
            *self = PostgresBackend::connect(&self.url)?;
        }
        let mut tx = self.client.transaction().map_err(convert)?;
        if mode == TxMode::Snapshot {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .map_err(convert)?;
        }
        if mode == TxMode::Rebuildable {
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(convert)?;
        }
        let result = f(&mut PgTx {
            tx: &mut tx,
            statements: &mut self.statements,
        });
        match result {
            Ok(value) => {
                tx.commit().map_err(convert)?;
                Ok(value)
            }
            Err(error) => {
                drop(tx); // rolls back
                          // A statement that failed inside a COPY or a batch can leave the connection out
                          // of step with the server without the client seeing it closed (even a ping may
                          // read stale messages). Failed transactions are rare (bad input, a lost race),
                          // so always continue on a fresh connection rather than trust this one; if that
                          // fails, the next call retries (`is_closed` above).
                if let Ok(fresh) = PostgresBackend::connect(&self.url) {
                    *self = fresh;
                }
                Err(error)
            }
        }
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = $1"
    }

    fn identity_reset_sql(&self, table: &str, column: &str) -> Option<String> {
        Some(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        ))
    }

    fn channel_lock_sql(&self) -> &'static str {
        "SELECT id FROM channel WHERE id = $1 FOR UPDATE"
    }

    fn migration_lock_sql(&self) -> Option<&'static str> {
        // Any constant key: it only has to be the same for every RetroVue migrator.
        Some("SELECT pg_advisory_xact_lock(7262837383)")
    }
}
