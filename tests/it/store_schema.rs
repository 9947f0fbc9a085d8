//! The SQLite and PostgreSQL migrations define the same schema (STORE-017), and a stored row
//! with a NULL or mistyped column fails with the column's name on both backends (STORE-016).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use retrovue::store::{self, AssetFilter, StoreErrorKind};
use retrovue_core::model::{ItemRef, Lineup};
use support::{raw_sql, TestDb};

/// One column: its type family and whether it is NOT NULL (primary-key columns count as NOT
/// NULL: SQLite reports `TEXT PRIMARY KEY` as nullable, PostgreSQL as NOT NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    family: String,
    not_null: bool,
}

/// A foreign key: its columns, the referenced table and columns, and its ON DELETE action.
type ForeignKey = (Vec<String>, String, Vec<String>, String);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    /// Column lists of UNIQUE constraints.
    unique: BTreeSet<Vec<String>>,
    foreign_keys: BTreeSet<ForeignKey>,
}

/// A named index (one created by CREATE INDEX, not one backing a constraint).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    table: String,
    unique: bool,
    columns: Vec<String>,
    partial: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, Table>,
    indexes: BTreeMap<String, Index>,
}

/// The portable family of a declared or reported column type.
fn family(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer".into()
    } else if t.contains("bool") {
        "boolean".into()
    } else if t.contains("text") || t.contains("char") {
        "text".into()
    } else {
        format!("other ({declared})")
    }
}

/// Equal columns; a PostgreSQL `TIMESTAMPTZ` is stored as TEXT (ISO 8601) on SQLite (STORE-017).
fn same_column(sqlite: &Column, postgres: &Column) -> bool {
    sqlite == postgres
        || (sqlite.family == "text"
            && postgres.family == "other (timestamp with time zone)"
            && sqlite.not_null == postgres.not_null)
}

fn sqlite_schema(url: &str) -> Schema {
    let path = url.strip_prefix("sqlite://").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let strings = |sql: &str, arg: &str| -> Vec<Vec<Option<String>>> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([arg], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Text(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                            other => panic!("unexpected catalog value {other:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut schema = Schema::default();
    let tables = strings(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
         AND name <> ?1 ORDER BY name",
        "",
    );
    for row in tables {
        let name = text(&row[0]);
        let mut table = Table::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in strings(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)",
            &name,
        ) {
            let column = text(&c[0]);
            let pk_position: i64 = text(&c[3]).parse().unwrap();
            if pk_position > 0 {
                pk.push((pk_position, column.clone()));
            }
            table.columns.insert(
                column,
                Column {
                    family: family(&text(&c[1])),
                    not_null: text(&c[2]) == "1" || pk_position > 0,
                },
            );
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        for i in strings(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)",
            &name,
        ) {
            let index = text(&i[0]);
            let columns: Vec<String> = strings(
                "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
                &index,
            )
            .iter()
            .map(|r| text(&r[0]))
            .collect();
            match text(&i[2]).as_str() {
                "pk" => {}
                "u" => {
                    table.unique.insert(columns);
                }
                _ => {
                    schema.indexes.insert(
                        index,
                        Index {
                            table: name.clone(),
                            unique: text(&i[1]) == "1",
                            columns,
                            partial: text(&i[3]) == "1",
                        },
                    );
                }
            }
        }
        let mut keys: BTreeMap<String, ForeignKey> = BTreeMap::new();
        for f in strings(
            "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) \
             ORDER BY id, seq",
            &name,
        ) {
            let key = keys.entry(text(&f[0])).or_insert_with(|| {
                (
                    Vec::new(),
                    text(&f[1]),
                    Vec::new(),
                    text(&f[4]).to_ascii_uppercase(),
                )
            });
            key.0.push(text(&f[2]));
            key.2.push(text(&f[3]));
        }
        table.foreign_keys = keys.into_values().collect();
        schema.tables.insert(name, table);
    }
    schema
}

fn postgres_schema(url: &str) -> Schema {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let mut schema = Schema::default();
    for row in client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .unwrap()
    {
        schema.tables.insert(row.get(0), Table::default());
    }
    for row in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
    {
        let table: String = row.get(0);
        let data_type: String = row.get(2);
        let nullable: String = row.get(3);
        schema.tables.get_mut(&table).unwrap().columns.insert(
            row.get(1),
            Column {
                family: family(&data_type),
                not_null: nullable == "NO",
            },
        );
    }
    for row in client
        .query(
            "SELECT t.relname::text, c.contype::text, \
             ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                   ORDER BY k.ord), \
             COALESCE(r.relname::text, ''), \
             ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                   ORDER BY k.ord), \
             c.confdeltype::text \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_namespace ns ON ns.oid = t.relnamespace \
             LEFT JOIN pg_class r ON r.oid = c.confrelid \
             WHERE ns.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')",
            &[],
        )
        .unwrap()
    {
        let table = schema.tables.get_mut(&row.get::<_, String>(0)).unwrap();
        let columns: Vec<String> = row.get(2);
        match row.get::<_, String>(1).as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                table.unique.insert(columns);
            }
            _ => {
                let action = match row.get::<_, String>(5).as_str() {
                    "a" => "NO ACTION",
                    "r" => "RESTRICT",
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    other => panic!("unknown ON DELETE action {other:?}"),
                };
                table
                    .foreign_keys
                    .insert((columns, row.get(3), row.get(4), action.to_string()));
            }
        }
    }
    for row in client
        .query(
            "SELECT i.relname::text, t.relname::text, ix.indisunique, ix.indpred IS NOT NULL, \
             ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, ord) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.ord) \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace ns ON ns.oid = t.relnamespace \
             WHERE ns.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                   WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid)",
            &[],
        )
        .unwrap()
    {
        schema.indexes.insert(
            row.get(0),
            Index {
                table: row.get(1),
                unique: row.get(2),
                partial: row.get(3),
                columns: row.get(4),
            },
        );
    }
    schema
}

/// Every difference between the two schemas, one readable line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.tables.keys().chain(postgres.tables.keys()).collect();
    for name in names {
        let (s, p) = match (sqlite.tables.get(name), postgres.tables.get(name)) {
            (Some(s), Some(p)) => (s, p),
            (Some(_), None) => {
                out.push(format!("table {name} exists in SQLite only"));
                continue;
            }
            (None, _) => {
                out.push(format!("table {name} exists in PostgreSQL only"));
                continue;
            }
        };
        let columns: BTreeSet<&String> = s.columns.keys().chain(p.columns.keys()).collect();
        for column in columns {
            match (s.columns.get(column), p.columns.get(column)) {
                (Some(a), Some(b)) if !same_column(a, b) => out.push(format!(
                    "column {name}.{column}: SQLite {a:?}, PostgreSQL {b:?}"
                )),
                (Some(_), None) => out.push(format!("column {name}.{column} in SQLite only")),
                (None, Some(_)) => out.push(format!("column {name}.{column} in PostgreSQL only")),
                _ => {}
            }
        }
        if s.primary_key != p.primary_key {
            out.push(format!(
                "table {name} primary key: SQLite {:?}, PostgreSQL {:?}",
                s.primary_key, p.primary_key
            ));
        }
        if s.unique != p.unique {
            out.push(format!(
                "table {name} unique constraints: SQLite {:?}, PostgreSQL {:?}",
                s.unique, p.unique
            ));
        }
        if s.foreign_keys != p.foreign_keys {
            out.push(format!(
                "table {name} foreign keys: SQLite {:?}, PostgreSQL {:?}",
                s.foreign_keys, p.foreign_keys
            ));
        }
    }
    let names: BTreeSet<&String> = sqlite
        .indexes
        .keys()
        .chain(postgres.indexes.keys())
        .collect();
    for name in names {
        match (sqlite.indexes.get(name), postgres.indexes.get(name)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("index {name}: SQLite {a:?}, PostgreSQL {b:?}"))
            }
            (Some(_), None) => out.push(format!("index {name} in SQLite only")),
            (None, Some(_)) => out.push(format!("index {name} in PostgreSQL only")),
            _ => {}
        }
    }
    out
}

/// A fresh database of each backend with every migration applied.
fn migrated_pair() -> (TestDb, TestDb) {
    let sqlite = TestDb::sqlite();
    let postgres = TestDb::postgres();
    store::open(sqlite.url()).unwrap();
    store::open(postgres.url()).unwrap();
    (sqlite, postgres)
}

// contract: STORE-017
#[test]
fn both_backends_define_the_same_schema() {
    let (sqlite, postgres) = migrated_pair();
    let s = sqlite_schema(sqlite.url());
    let p = postgres_schema(postgres.url());
    let found = differences(&s, &p);
    assert!(
        found.is_empty(),
        "the migrations define different schemas:\n{}",
        found.join("\n")
    );
    // The comparison saw the real schema, not two empty ones.
    let asset = &s.tables["asset"];
    assert_eq!(
        asset.columns["duration_ms"],
        Column {
            family: "integer".into(),
            not_null: true
        }
    );
    assert_eq!(
        asset.columns["approved"],
        Column {
            family: "boolean".into(),
            not_null: true
        }
    );
    assert!(!asset.columns["path"].not_null);
    assert_eq!(asset.columns["title"].family, "text");
    assert!(asset.columns["id"].not_null);
    assert_eq!(asset.primary_key, ["id"]);
    assert!(s.tables["collection"]
        .unique
        .contains(&vec!["source_id".to_string(), "external_key".to_string()]));
    assert!(s.tables["zone"].foreign_keys.contains(&(
        vec!["channel_id".into(), "plan_position".into()],
        "schedule_plan".into(),
        vec!["channel_id".into(), "position".into()],
        "CASCADE".into()
    )));
    let one_current = &s.indexes["schedule_day_one_current"];
    assert!(one_current.unique && one_current.partial);
    assert_eq!(one_current.columns, ["channel_id", "broadcast_date"]);
    assert!(s.tables.contains_key("schema_migrations"));
    assert!(s.tables.len() >= 17, "{:?}", s.tables.keys());
}

// contract: STORE-017
#[test]
fn a_change_to_one_backend_only_is_found() {
    let (sqlite, postgres) = migrated_pair();
    // What a migration written for one backend only would do.
    raw_sql(
        sqlite.url(),
        "ALTER TABLE channel ADD COLUMN only_in_sqlite TEXT;",
    );
    raw_sql(
        postgres.url(),
        "ALTER TABLE asset ALTER COLUMN rating SET NOT NULL; \
         ALTER TABLE as_run ALTER COLUMN reason TYPE BIGINT USING NULL; \
         CREATE INDEX only_in_postgres ON as_run (kind); \
         CREATE TABLE extra (id TEXT PRIMARY KEY);",
    );
    let found = differences(
        &sqlite_schema(sqlite.url()),
        &postgres_schema(postgres.url()),
    );
    let expected = [
        "column channel.only_in_sqlite in SQLite only",
        "column asset.rating:",
        "column as_run.reason:",
        "index only_in_postgres in PostgreSQL only",
        "table extra exists in PostgreSQL only",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f.starts_with(line)),
            "{line:?} not reported in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

fn lineup() -> Lineup {
    retrovue_core::generate::generate_lineup(3, 11)
}

/// A store with the generated lineup imported; the id of one of its assets.
fn seeded(db: &TestDb) -> (Box<dyn store::Store>, String) {
    let mut store = store::open(db.url()).unwrap();
    let lineup = lineup();
    store.import_lineup(&lineup).unwrap();
    let asset = lineup.catalog.assets.keys().next().unwrap().clone();
    (store, asset)
}

fn is_sqlite(db: &TestDb) -> bool {
    matches!(db, TestDb::Sqlite { .. })
}

/// NULL in `asset.duration_ms` (PostgreSQL: the constraint dropped first) or, SQLite keeping NOT
/// NULL whatever happens, NULL in a zone item's program id (its CHECK switched off).
fn null_in_a_required_column(db: TestDb) {
    let (mut store, asset) = seeded(&db);
    if is_sqlite(&db) {
        let lineup = lineup();
        let programs = lineup
            .channels
            .iter()
            .flat_map(|c| &c.plans)
            .flat_map(|p| &p.zones)
            .flat_map(|z| &z.items)
            .filter(|i| matches!(i, ItemRef::Program { .. }))
            .count();
        assert!(programs > 0, "the generated lineup has program items");
        raw_sql(
            db.url(),
            "PRAGMA ignore_check_constraints = ON; \
             UPDATE zone_item SET program_id = NULL WHERE kind = 'program';",
        );
        let error = store.load_lineup().unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::Backend, "{error}");
        assert!(
            error.message.contains("\"program_id\"")
                && error.message.contains("zone_item")
                && error.message.contains("NULL"),
            "{error}"
        );
        return;
    }
    raw_sql(
        db.url(),
        &format!(
            "ALTER TABLE asset ALTER COLUMN duration_ms DROP NOT NULL; \
             UPDATE asset SET duration_ms = NULL WHERE id = '{asset}';"
        ),
    );
    for error in [
        store.load_catalog().unwrap_err(),
        store.catalog_assets(&AssetFilter::default()).unwrap_err(),
    ] {
        assert_eq!(error.kind, StoreErrorKind::Backend, "{error}");
        assert!(
            error.message.contains("\"duration_ms\"")
                && error.message.contains("of asset")
                && error.message.contains("NULL")
                && error.message.contains(&format!("{asset:?}")),
            "{error}"
        );
    }
}

/// Text in the integer `asset.duration_ms` (PostgreSQL: its CHECK dropped and its type changed
/// first).
fn text_in_an_integer_column(db: TestDb) {
    let (mut store, asset) = seeded(&db);
    let retype = if is_sqlite(&db) {
        ""
    } else {
        "ALTER TABLE asset DROP CONSTRAINT asset_duration_ms_check; \
         ALTER TABLE asset ALTER COLUMN duration_ms TYPE TEXT;"
    };
    raw_sql(
        db.url(),
        &format!("{retype} UPDATE asset SET duration_ms = 'long' WHERE id = '{asset}';"),
    );
    for error in [
        store.load_catalog().unwrap_err(),
        store.catalog_asset(&asset).unwrap_err(),
    ] {
        assert_eq!(error.kind, StoreErrorKind::Backend, "{error}");
        assert!(
            error.message.contains("\"duration_ms\"")
                && error.message.contains("\"long\"")
                && error.message.contains("not an integer")
                && error.message.contains(&format!("{asset:?}")),
            "{error}"
        );
    }
}

macro_rules! decoding_suite {
    ($backend:ident, $db:expr) => {
        mod $backend {
            use super::*;

            // contract: STORE-016
            #[test]
            fn null_in_a_required_column() {
                super::null_in_a_required_column($db);
            }

            // contract: STORE-016
            #[test]
            fn text_in_an_integer_column() {
                super::text_in_an_integer_column($db);
            }
        }
    };
}

decoding_suite!(sqlite, TestDb::sqlite());
decoding_suite!(postgres, TestDb::postgres());
