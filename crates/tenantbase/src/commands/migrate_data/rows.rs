//! Copies one table's rows from SQLite to PostgreSQL in batches: keyset on the SQLite
//! rowid, each batch inserted and its progress recorded in one target transaction.
//! SQLite values arrive as their storage class (integer, real, text, blob) and are turned
//! into the target column's type: 16-byte blobs into uuids, 0/1 into booleans, blobs into
//! bytea, RFC 3339 text into timestamptz (cut to PostgreSQL's microseconds, never rounded
//! up: a session's expiry does not move later), and the rest cast by PostgreSQL (integers
//! into int4…), so a value that does not fit fails loudly instead of changing.

use anyhow::{Context, bail};
use chrono::SubsecRound;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, SqlitePool, TypeInfo, ValueRef};

use super::ledger::{self, TableProgress};
use super::progress::Progress;
use super::schema::{Column, Kind, Table, quote};

/// PostgreSQL's limit on bind parameters in one statement.
const MAX_PARAMETERS: usize = 65_535;

/// The longest one batch (read, insert, commit) may take before the run gives up rather
/// than wait on a stuck database forever; a batch takes well under a second normally.
const BATCH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// A SQLite value, by storage class.
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A value ready to bind for a target column.
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(uuid::Uuid),
    Time(chrono::DateTime<chrono::Utc>),
}

/// How a table's copy ended.
pub(crate) enum Copied {
    /// Every row is in the target: how many, over every run.
    Done(u64),
    /// The batch budget ran out or the operator interrupted: run again to continue.
    Stopped,
}

/// Copy limits shared by every table of one run.
pub(crate) struct Budget<'a> {
    pub batch_size: usize,
    /// Batches left before stopping as if interrupted (`--max-batches`).
    pub batches_left: Option<u64>,
    /// Set by Ctrl-C: the batch in flight commits, then the copy stops.
    pub interrupted: &'a std::sync::atomic::AtomicBool,
}

impl Budget<'_> {
    /// Whether another batch may start, counting it.
    fn take_batch(&mut self) -> bool {
        if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        match &mut self.batches_left {
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
            None => true,
        }
    }
}

/// Copies `table` from where `progress` stands to its end, or until `budget` stops it.
pub(crate) async fn copy_table(
    source: &SqlitePool,
    target: &PgPool,
    table: &Table,
    mut progress: TableProgress,
    budget: &mut Budget<'_>,
    meter: &mut Progress,
) -> anyhow::Result<Copied> {
    let columns = &table.columns;
    let batch = budget
        .batch_size
        .min(MAX_PARAMETERS / columns.len().max(1))
        .max(1);
    let select = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
        column_list(columns),
        quote(&table.name)
    );
    while !progress.done {
        if !budget.take_batch() {
            return Ok(Copied::Stopped);
        }
        let copied = copy_batch(source, target, table, &select, batch, progress);
        let Ok(copied) = tokio::time::timeout(BATCH_DEADLINE, copied).await else {
            bail!(
                "a batch of {} took longer than {} s (is either database stuck?); \
                 nothing of it was kept: run the same command again to continue",
                table.name,
                BATCH_DEADLINE.as_secs()
            );
        };
        let rows;
        (progress, rows) = copied?;
        meter.advance(&table.name, rows);
    }
    Ok(Copied::Done(progress.rows_copied))
}

/// Reads the rows after `progress` and commits them with the table's new progress in one
/// target transaction: the progress, and how many rows it copied.
async fn copy_batch(
    source: &SqlitePool,
    target: &PgPool,
    table: &Table,
    select: &str,
    batch: usize,
    mut progress: TableProgress,
) -> anyhow::Result<(TableProgress, u64)> {
    let rows = sqlx::query(select)
        .bind(progress.last_rowid)
        .bind(i64::try_from(batch).unwrap_or(i64::MAX))
        .fetch_all(source)
        .await
        .with_context(|| format!("reading the source's {} rows", table.name))?;
    let mut tx = target.begin().await?;
    if let Some(last) = rows.last() {
        insert(&mut tx, table, &rows).await?;
        progress.last_rowid = last.try_get(0)?;
        progress.rows_copied += rows.len() as u64;
    }
    // A short batch is the last one: the table is done in the same transaction.
    progress.done = rows.len() < batch;
    ledger::advance(&mut tx, &table.name, progress).await?;
    tx.commit()
        .await
        .with_context(|| format!("committing a batch of {}", table.name))?;
    Ok((progress, rows.len() as u64))
}

fn column_list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One multi-row INSERT of `rows` (rowid first, then the table's columns in order).
async fn insert(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    table: &Table,
    rows: &[SqliteRow],
) -> anyhow::Result<()> {
    let mut values = Vec::with_capacity(rows.len());
    for row in rows {
        let mut converted = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            let cell = read_cell(row, i + 1)
                .with_context(|| format!("reading {}.{}", table.name, column.name))?;
            converted.push(
                convert(cell, column.kind)
                    .with_context(|| format!("converting {}.{}", table.name, column.name))?,
            );
        }
        values.push(converted);
    }
    let overriding = if table.identity {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let mut builder = QueryBuilder::<Postgres>::new(format!(
        "INSERT INTO {} ({}){overriding} ",
        quote(&table.name),
        column_list(&table.columns)
    ));
    builder.push_values(values, |mut row, cells| {
        for (value, column) in cells.into_iter().zip(&table.columns) {
            row.push("CAST(");
            match value {
                Value::Null => row.push_bind_unseparated(None::<String>),
                Value::Bool(v) => row.push_bind_unseparated(v),
                Value::Int(v) => row.push_bind_unseparated(v),
                Value::Real(v) => row.push_bind_unseparated(v),
                Value::Text(v) => row.push_bind_unseparated(v),
                Value::Bytes(v) => row.push_bind_unseparated(v),
                Value::Uuid(v) => row.push_bind_unseparated(v),
                Value::Time(v) => row.push_bind_unseparated(v),
            };
            row.push_unseparated(format!(" AS {})", column.type_name));
        }
    });
    // Not a cached prepared statement: the same text binds a NULL as text in one batch and
    // a uuid in the next, and a cached statement would keep the first batch's types.
    builder
        .build()
        .persistent(false)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("inserting into the target's {}", table.name))?;
    Ok(())
}

/// The value at `index`, as SQLite stores it (its storage class, not the declared type).
fn read_cell(row: &SqliteRow, index: usize) -> anyhow::Result<Cell> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let class = raw.type_info().name().to_owned();
    Ok(match class.as_str() {
        "INTEGER" | "BOOLEAN" => Cell::Int(row.try_get_unchecked(index)?),
        "REAL" => Cell::Real(row.try_get_unchecked(index)?),
        "TEXT" => Cell::Text(row.try_get_unchecked(index)?),
        _ => Cell::Blob(row.try_get_unchecked(index)?),
    })
}

/// `cell` as the target column's `kind` wants it bound.
fn convert(cell: Cell, kind: Kind) -> anyhow::Result<Value> {
    Ok(match (cell, kind) {
        (Cell::Null, _) => Value::Null,
        (Cell::Blob(bytes), Kind::Uuid) => {
            Value::Uuid(uuid::Uuid::from_slice(&bytes).context("a uuid blob is not 16 bytes")?)
        }
        (Cell::Int(i), Kind::Bool) => Value::Bool(i != 0),
        // Text PostgreSQL reads differently is left to its cast, which fails loudly.
        (Cell::Text(text), Kind::Timestamp) => match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(time) => Value::Time(time.to_utc().trunc_subsecs(6)),
            Err(_) => Value::Text(text),
        },
        (Cell::Blob(bytes), Kind::Bytes) => Value::Bytes(bytes),
        (Cell::Text(text), Kind::Bytes) => Value::Bytes(text.into_bytes()),
        (Cell::Blob(bytes), _) => match String::from_utf8(bytes) {
            Ok(text) => Value::Text(text),
            Err(_) => bail!("binary data where the target column is not bytea"),
        },
        (Cell::Int(i), _) => Value::Int(i),
        (Cell::Real(r), _) => Value::Real(r),
        (Cell::Text(text), _) => Value::Text(text),
    })
}

/// Sets the sequence behind each `sequenced` column past the largest copied value, so
/// the next row PostgreSQL numbers does not collide with a copied one.
pub(crate) async fn advance_sequences(target: &PgPool, tables: &[Table]) -> anyhow::Result<()> {
    for table in tables {
        for column in table.columns.iter().filter(|c| c.sequenced) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), \
                 COALESCE((SELECT max({col}) FROM {tab}), 0) + 1, false)",
                col = quote(&column.name),
                tab = quote(&table.name),
            );
            sqlx::query(&sql)
                .bind(quote(&table.name))
                .bind(&column.name)
                .execute(target)
                .await
                .with_context(|| {
                    format!("setting the sequence of {}.{}", table.name, column.name)
                })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Cell, Kind, Value, convert};

    #[test]
    fn sqlite_storage_becomes_the_target_type() {
        let id = uuid::Uuid::now_v7();
        assert!(
            matches!(convert(Cell::Blob(id.as_bytes().to_vec()), Kind::Uuid), Ok(Value::Uuid(u)) if u == id)
        );
        assert!(matches!(
            convert(Cell::Int(1), Kind::Bool),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            convert(Cell::Int(0), Kind::Bool),
            Ok(Value::Bool(false))
        ));
        assert!(matches!(convert(Cell::Null, Kind::Uuid), Ok(Value::Null)));
        let nanos = Cell::Text("2026-12-02T10:00:00.123456999+00:00".into());
        assert!(
            matches!(convert(nanos, Kind::Timestamp), Ok(Value::Time(t)) if t.to_rfc3339() == "2026-12-02T10:00:00.123456+00:00")
        );
        assert!(
            matches!(convert(Cell::Text("12:00".into()), Kind::Cast), Ok(Value::Text(t)) if t == "12:00")
        );
        assert!(convert(Cell::Blob(vec![1, 2, 3]), Kind::Uuid).is_err());
        assert!(convert(Cell::Blob(vec![0xff, 0xfe]), Kind::Cast).is_err());
    }
}
