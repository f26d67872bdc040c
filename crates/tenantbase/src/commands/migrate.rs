//! `tenantbase migrate`: applies pending migrations and says what it did.

use crate::config::Config;
use crate::connect;

pub(crate) async fn run(config: &Config) -> anyhow::Result<()> {
    let store = connect::open_store(config).await?;
    let report = store.migrate().await?;
    let backend = store.backend().as_str();
    for migration in &report.applied {
        println!(
            "applied {:04} {} ({backend})",
            migration.version, migration.description
        );
    }
    println!(
        "{backend}: {} applied now, {} already applied; schema is up to date",
        report.applied.len(),
        report.already_applied
    );
    store.close().await;
    Ok(())
}
