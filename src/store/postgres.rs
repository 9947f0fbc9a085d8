//! The PostgreSQL backend (the `postgres` crate): production and multi-node deployments.

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls};

use crate::store::sql::{Backend, ColType, DbError, DbErrorKind, Row, Tx, Value};

pub struct PostgresBackend {
    client: Client,
}

impl PostgresBackend {
    pub fn connect(url: &str) -> Result<PostgresBackend, DbError> {
        let client = Client::connect(url, NoTls).map_err(|e| DbError {
            kind: DbErrorKind::Other,
            message: format!("cannot connect to PostgreSQL at {}: {e}", redact(url)),
        })?;
        Ok(PostgresBackend { client })
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
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

fn fetch(row: &postgres::Row) -> Result<Row, DbError> {
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
                    kind: DbErrorKind::Other,
                    message: format!("column {} has unsupported type {other}", column.name()),
                })
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
}

impl Tx for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.tx.execute(sql, &refs).map_err(convert)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.tx.query(sql, &refs).map_err(convert)?;
        rows.iter().map(fetch).collect()
    }

    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[(&str, ColType)],
        rows: &[Vec<Value>],
    ) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for all rows: every column travels as one typed array and UNNEST
        // turns the arrays back into rows (one round trip instead of one per row).
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                let sql_type = match ty {
                    ColType::Int => "bigint",
                    ColType::Text => "text",
                    ColType::Bool => "boolean",
                };
                format!("${}::{sql_type}[]", i + 1)
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
            names.join(", "),
            arrays.join(", ")
        );
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
        for (c, (name, ty)) in columns.iter().enumerate() {
            let column = rows.iter().map(|row| &row[c]);
            let mismatch = |v: &Value| DbError {
                kind: DbErrorKind::Other,
                message: format!("{table}.{name}: value {v:?} does not match the column type"),
            };
            match ty {
                ColType::Int => {
                    let mut values: Vec<Option<i64>> = Vec::with_capacity(rows.len());
                    for v in column {
                        values.push(match v {
                            Value::Null => None,
                            Value::Int(i) => Some(*i),
                            other => return Err(mismatch(other)),
                        });
                    }
                    params.push(Box::new(values));
                }
                ColType::Text => {
                    let mut values: Vec<Option<String>> = Vec::with_capacity(rows.len());
                    for v in column {
                        values.push(match v {
                            Value::Null => None,
                            Value::Text(s) => Some(s.clone()),
                            other => return Err(mismatch(other)),
                        });
                    }
                    params.push(Box::new(values));
                }
                ColType::Bool => {
                    let mut values: Vec<Option<bool>> = Vec::with_capacity(rows.len());
                    for v in column {
                        values.push(match v {
                            Value::Null => None,
                            Value::Bool(b) => Some(*b),
                            other => return Err(mismatch(other)),
                        });
                    }
                    params.push(Box::new(values));
                }
            }
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref() as _).collect();
        self.tx.execute(sql.as_str(), &refs).map_err(convert)?;
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
        _write: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self.client.transaction().map_err(convert)?;
        let result = f(&mut PgTx { tx: &mut tx });
        match result {
            Ok(value) => {
                tx.commit().map_err(convert)?;
                Ok(value)
            }
            Err(error) => Err(error),
        }
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = $1"
    }

    fn migration_lock_sql(&self) -> Option<&'static str> {
        // Any constant key: it only has to be the same for every RetroVue migrator.
        Some("SELECT pg_advisory_xact_lock(7262837383)")
    }
}
