//! The target's schema as PostgreSQL describes it: the tables to fill, their columns and
//! types (information_schema), and an order their foreign keys accept (pg_constraint).
//! Read from the live database rather than listed by hand, so a new table or column is
//! copied without anyone remembering to add it here.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use sqlx::{PgPool, SqlitePool};

/// How a column's SQLite value must be turned into the PostgreSQL one; everything else
/// travels as SQLite gives it and is cast by PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `uuid`, which SQLite keeps as 16 bytes.
    Uuid,
    /// `boolean`, which SQLite keeps as 0 or 1.
    Bool,
    /// `bytea`.
    Bytes,
    /// `timestamptz`, which SQLite keeps as RFC 3339 text, down to nanoseconds.
    Timestamp,
    /// Anything PostgreSQL can cast from text or a number (timestamps, integers, json…).
    Cast,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    /// The column's type as a qualified, quoted name, for `CAST(… AS type)`.
    pub type_name: String,
    pub kind: Kind,
    /// Filled from a sequence (identity or serial): set past the copied maximum at the end.
    pub sequenced: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    /// The columns to copy: generated columns are left to PostgreSQL.
    pub columns: Vec<Column>,
    /// Has an identity column, so inserts must say `OVERRIDING SYSTEM VALUE`.
    pub identity: bool,
}

/// An identifier, quoted for SQL on either database.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

type ColumnRow = (String, String, String, String, String, String, String);

/// The target's tables (after its migrations), parents before the tables that refer to
/// them; the migration bookkeeping table is not data.
pub(crate) async fn target_tables(pg: &PgPool) -> anyhow::Result<Vec<Table>> {
    let rows: Vec<ColumnRow> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.udt_schema::text, c.udt_name::text, \
                c.is_identity::text, c.is_generated::text, coalesce(c.column_default::text, '') \
         FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> '_sqlx_migrations' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(pg)
    .await
    .context("reading the target's columns from information_schema")?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, name, udt_schema, udt, identity, generated, default) in rows {
        let entry = tables.entry(table.clone()).or_insert_with(|| Table {
            name: table,
            columns: Vec::new(),
            identity: false,
        });
        if generated == "ALWAYS" {
            continue;
        }
        let kind = match udt.as_str() {
            "uuid" => Kind::Uuid,
            "bool" => Kind::Bool,
            "bytea" => Kind::Bytes,
            "timestamptz" => Kind::Timestamp,
            _ => Kind::Cast,
        };
        let identity = identity == "YES";
        entry.identity |= identity;
        entry.columns.push(Column {
            name,
            type_name: format!("{}.{}", quote(&udt_schema), quote(&udt)),
            kind,
            sequenced: identity || default.starts_with("nextval("),
        });
    }
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT child.relname::text, parent.relname::text \
         FROM pg_constraint k \
         JOIN pg_class child ON child.oid = k.conrelid \
         JOIN pg_class parent ON parent.oid = k.confrelid \
         WHERE k.contype = 'f' AND child.relnamespace = current_schema()::text::regnamespace",
    )
    .fetch_all(pg)
    .await
    .context("reading the target's foreign keys")?;
    let order = parents_first(tables.keys().cloned().collect(), &edges)?;
    Ok(order
        .into_iter()
        .filter_map(|name| tables.remove(&name))
        .collect())
}

/// `tables` ordered so that every table comes after the tables its foreign keys name
/// (Kahn's algorithm, alphabetical among equals so runs are repeatable). A table that
/// refers to itself is fine (rows are copied in insertion order); a cycle between tables
/// is refused, since no order of inserts would satisfy it.
fn parents_first(
    tables: BTreeSet<String>,
    edges: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let mut waiting_on: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (child, parent) in edges {
        if child != parent
            && tables.contains(parent)
            && let Some(parents) = waiting_on.get_mut(child.as_str())
        {
            parents.insert(parent.as_str());
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    while !waiting_on.is_empty() {
        let ready: Vec<&str> = waiting_on
            .iter()
            .filter(|(_, parents)| parents.is_empty())
            .map(|(table, _)| *table)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = waiting_on.keys().copied().collect();
            bail!(
                "the target's foreign keys form a cycle between {}",
                stuck.join(", ")
            );
        }
        for table in ready {
            waiting_on.remove(table);
            for parents in waiting_on.values_mut() {
                parents.remove(table);
            }
            order.push(table.to_owned());
        }
    }
    Ok(order)
}

/// The tables of `tables` that hold at least one row in the target.
pub(crate) async fn non_empty(pg: &PgPool, tables: &[Table]) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for table in tables {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&table.name));
        let any: bool = sqlx::query_scalar(&sql)
            .fetch_one(pg)
            .await
            .with_context(|| format!("looking for rows in the target's {}", table.name))?;
        if any {
            found.push(table.name.clone());
        }
    }
    Ok(found)
}

/// Refuses a source whose schema is not the target's: each database must have applied
/// the same migrations, so that every target column has a source column of that name.
pub(crate) async fn check_same_version(sqlite: &SqlitePool, pg: &PgPool) -> anyhow::Result<()> {
    let query = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let source: Vec<i64> = sqlx::query_scalar(query)
        .fetch_all(sqlite)
        .await
        .context("reading the source's applied migrations")?;
    let target: Vec<i64> = sqlx::query_scalar(query)
        .fetch_all(pg)
        .await
        .context("reading the target's applied migrations")?;
    if source != target {
        bail!(
            "the source database has migrations up to {:?} applied, this binary's are up to {:?}: \
             run `tenantbase migrate` on the source first (with the same binary)",
            source.last(),
            target.last()
        );
    }
    Ok(())
}

/// Rows in the source's copy of `table`.
pub(crate) async fn source_rows(sqlite: &SqlitePool, table: &Table) -> anyhow::Result<u64> {
    let sql = format!("SELECT count(*) FROM {}", quote(&table.name));
    let rows: i64 = sqlx::query_scalar(&sql)
        .fetch_one(sqlite)
        .await
        .with_context(|| format!("counting the source's {} rows", table.name))?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::parents_first;

    fn names(list: &[&str]) -> std::collections::BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn edge(child: &str, parent: &str) -> (String, String) {
        (child.to_owned(), parent.to_owned())
    }

    #[test]
    fn parents_come_before_children_and_self_references_are_allowed() {
        let order = parents_first(
            names(&["projects", "orgs", "users", "members"]),
            &[
                edge("members", "orgs"),
                edge("members", "users"),
                edge("orgs", "users"),
                edge("projects", "orgs"),
                edge("projects", "projects"),
            ],
        )
        .expect("order");
        assert_eq!(order, ["users", "orgs", "members", "projects"]);
    }

    #[test]
    fn a_cycle_is_refused_naming_its_tables() {
        let error = parents_first(names(&["a", "b", "c"]), &[edge("a", "b"), edge("b", "a")])
            .expect_err("cycle");
        assert_eq!(
            error.to_string(),
            "the target's foreign keys form a cycle between a, b"
        );
    }
}
