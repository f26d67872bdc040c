//! `tenantbase permissions`: the permission catalog as JSON, the same entries as
//! `GET /v1/permissions`, so generated clients (clients/typescript) get it without a server.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;
use tenantbase_domain::Permission;

/// One entry, fields in the order a reader expects (a `json!` map would sort them).
#[derive(Serialize)]
struct Entry {
    name: &'static str,
    description: &'static str,
}

/// Prints `[{"name", "description"}, …]` in catalog order.
pub(crate) fn run() -> anyhow::Result<()> {
    let catalog: Vec<Entry> = Permission::ALL
        .iter()
        .map(|p| Entry {
            name: p.name(),
            description: p.description(),
        })
        .collect();
    // `writeln!` rather than `println!`: a closed pipe (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &catalog).context("writing the catalog")?;
    writeln!(out).context("writing the catalog")?;
    Ok(())
}
