//! Background work of a process: the job worker, the cron scheduler and the audit
//! sealer, wired from the configuration. `serve` runs them beside HTTP; `tenantbase
//! worker` runs only them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tenantbase_blob::BlobStore;
use tenantbase_core::audit::archive::ArchiveJob;
use tenantbase_core::audit::seal::{RunningSealer, Sealer};
use tenantbase_core::identity::retention::PruneEndedAuth;
use tenantbase_core::jobs::builtin::{CleanupJobs, Probe};
use tenantbase_core::jobs::{
    Backoff, JobSeal, Registry, Schedule, Scheduler, Worker, WorkerConfig,
};
use tenantbase_core::mail::SendEmail;
use tenantbase_core::tenancy::PurgeOrg;
use tenantbase_core::tenancy::files::SweepFiles;
use tenantbase_mail::{FileSink, MailTransport, SmtpTransport};
use tenantbase_store::Store;
use tenantbase_store::platform::jobs::NewJob;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, MailTransportKind};

/// Every job kind this build can run.
pub(crate) fn registry(
    config: &Config,
    store: &Arc<dyn Store>,
    blob: &BlobStore,
) -> anyhow::Result<Registry> {
    let mut registry = Registry::new()
        .register(Probe)
        .register(CleanupJobs {
            store: store.clone(),
            keep: Duration::from_secs(config.jobs.keep_succeeded_hours * 3600),
        })
        .register(PruneEndedAuth {
            store: store.clone(),
            keep: Duration::from_secs(config.auth.keep_ended_days * 86_400),
        })
        .register(SendEmail {
            transport: mail_transport(config)?,
            seal: JobSeal::from_master(&crate::identity::master_key(config)?),
        })
        .register(PurgeOrg {
            store: store.clone(),
            blob: blob.clone(),
            restore_period: config.orgs.tenancy_policy().restore_period,
        })
        .register(SweepFiles {
            store: store.clone(),
            blob: blob.clone(),
            grace: Duration::from_secs(config.files.orphan_grace_minutes * 60),
        });
    if let Some(days) = config.audit.retention_days {
        registry = registry.register(ArchiveJob {
            store: store.clone(),
            blob: blob.clone(),
            retention: Duration::from_secs(u64::from(days) * 86_400),
        });
    }
    Ok(registry)
}

/// The configured mail transport: `.eml` files in the data folder, or SMTP.
fn mail_transport(config: &Config) -> anyhow::Result<Arc<dyn MailTransport>> {
    let from = &config.mail.from;
    let transport: Arc<dyn MailTransport> = match (&config.mail.transport, &config.mail.smtp) {
        (MailTransportKind::Smtp, Some(smtp)) => {
            Arc::new(SmtpTransport::new(smtp, from).context("mail.smtp / mail.from")?)
        }
        _ => Arc::new(
            FileSink::new(config.data_dir.join("mail"), from)
                .context("mail.from / the mail folder")?,
        ),
    };
    Ok(transport)
}

/// The cron schedules of this build.
pub(crate) fn schedules(config: &Config) -> anyhow::Result<Vec<Schedule>> {
    let mut schedules = vec![
        Schedule::new("jobs.cleanup", "0 0 * * * *", || {
            NewJob::new(CleanupJobs::KIND, json!({}))
        })
        .map_err(anyhow::Error::msg)?,
        Schedule::new("files.sweep", "0 15 * * * *", || {
            NewJob::new(SweepFiles::KIND, json!({}))
        })
        .map_err(anyhow::Error::msg)?,
        Schedule::new("auth.cleanup", "0 45 * * * *", || {
            NewJob::new(PruneEndedAuth::KIND, json!({}))
        })
        .map_err(anyhow::Error::msg)?,
    ];
    if config.audit.retention_days.is_some() {
        schedules.push(
            Schedule::new("audit.archive", "0 30 3 * * *", || {
                NewJob::new(ArchiveJob::KIND, json!({}))
            })
            .map_err(anyhow::Error::msg)?,
        );
    }
    Ok(schedules)
}

pub(crate) fn worker_config(config: &Config, concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        concurrency,
        poll_interval: Duration::from_millis(config.jobs.poll_interval_ms),
        lease: Duration::from_secs(config.jobs.lease_secs),
        backoff: Backoff {
            base: Duration::from_millis(config.jobs.backoff_base_ms),
            max: Duration::from_secs(config.jobs.backoff_max_secs),
        },
    }
}

/// The worker (with `concurrency` slots) and the scheduler, running until `shutdown`.
pub(crate) fn spawn(
    config: &Config,
    store: &Arc<dyn Store>,
    blob: &BlobStore,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> anyhow::Result<JoinSet<()>> {
    let mut tasks = JoinSet::new();
    let worker = Worker::new(
        store.clone(),
        registry(config, store, blob)?,
        worker_config(config, concurrency),
    );
    tasks.spawn(worker.run(shutdown.clone()));
    let scheduler = Scheduler::new(store.clone(), schedules(config)?);
    tasks.spawn(scheduler.run(shutdown.clone()));
    Ok(tasks)
}

/// The audit sealer. It runs in every process that writes, whether or not it runs jobs,
/// and is stopped after the process's last write so that it seals that too.
pub(crate) fn spawn_sealer(config: &Config, store: &Arc<dyn Store>) -> RunningSealer {
    Sealer::new(
        store.clone(),
        Duration::from_millis(config.audit.seal_interval_ms.max(1)),
    )
    .spawn()
}
