//! `tenantbase audit verify|export|archive`.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::Utc;
use tenantbase_core::audit::archive::archive_before;
use tenantbase_core::audit::export::{Format, export_chain};
use tenantbase_core::audit::seal::seal_all;
use tenantbase_core::audit::verify::{unsealed, verify_chains};
use tenantbase_domain::OrgId;

use crate::cli::{AuditCommand, ExportFormat};
use crate::config::Config;
use crate::{connect, serve};

/// `Ok(false)` when verification found a broken chain.
pub(crate) async fn run(config: &Config, command: AuditCommand) -> anyhow::Result<bool> {
    let store = connect::open_store(config).await?;
    let outcome = match command {
        AuditCommand::Verify { org } => {
            let chain = org.as_deref().map(chain_name).transpose()?;
            let verdicts = verify_chains(store.as_ref(), chain.as_deref()).await?;
            if verdicts.is_empty() {
                println!("{}: ok 0 events", chain.as_deref().unwrap_or("all chains"));
            }
            for verdict in &verdicts {
                println!("{verdict}");
            }
            // Pending events are reported, not failed: the sealer has yet to reach them.
            for unsealed in unsealed(store.as_ref(), chain.as_deref()).await? {
                println!("{unsealed}");
            }
            verdicts.iter().all(|v| v.is_intact())
        }
        AuditCommand::Export {
            org,
            format,
            since,
            until,
        } => {
            let format = match format {
                ExportFormat::Jsonl => Format::Jsonl,
                ExportFormat::Csv => Format::Csv,
            };
            let stdout = std::io::stdout().lock();
            let mut out = std::io::BufWriter::new(stdout);
            export_chain(
                store.as_ref(),
                &chain_name(&org)?,
                format,
                since,
                until,
                &mut out,
            )
            .await?;
            out.flush()?;
            true
        }
        AuditCommand::Archive { older_than_days } => {
            let Some(days) = older_than_days.or(config.audit.retention_days) else {
                bail!("give --older-than-days or set audit.retention_days");
            };
            let blob = serve::open_blob(config).await?;
            let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
            let archived = archive_before(store.as_ref(), &blob, cutoff).await;
            // A one-shot command runs no sealer: it seals the `audit.archived` events it
            // recorded, those of the chains archived before any failure too.
            let sealed = seal_all(store.as_ref()).await;
            let manifests = archived?;
            sealed?;
            for m in &manifests {
                println!(
                    "archived {} seq {}..={} ({} events) to {}",
                    m.chain, m.first_seq, m.last_seq, m.events, m.object
                );
            }
            println!("{} archives written", manifests.len());
            true
        }
    };
    store.close().await;
    Ok(outcome)
}

/// The stored chain name for an `--org` argument, checked to be an org id or `platform`.
fn chain_name(org: &str) -> anyhow::Result<String> {
    if org == "platform" {
        return Ok(org.to_owned());
    }
    let id: OrgId = org.parse().with_context(|| format!("--org `{org}`"))?;
    Ok(id.to_string())
}
