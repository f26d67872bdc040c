//! `tenantbase worker`: job workers, schedules and the audit sealer without the HTTP
//! server, until SIGTERM or SIGINT; running jobs finish first, then their events are
//! sealed, within `shutdown_timeout_secs`.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::{background, connect, serve};

/// `Ok(false)` when the shutdown deadline passed with jobs still running.
pub(crate) async fn run(config: &Config, concurrency: Option<usize>) -> anyhow::Result<bool> {
    crate::data_dir::ensure_writable(config)?;
    let _in_use = crate::in_use::hold(config)?;
    let store = connect::open_store(config).await?;
    let blob = serve::open_blob(config).await?;
    let shutdown = CancellationToken::new();
    let concurrency = concurrency.unwrap_or(config.jobs.workers).max(1);
    let mut tasks = background::spawn(config, &store, &blob, concurrency, &shutdown)?;
    let sealer = background::spawn_sealer(config, &store);
    serve::wait_for_signal().await;
    shutdown.cancel();
    let deadline = std::time::Duration::from_secs(config.shutdown_timeout_secs);
    let drained = async {
        while tasks.join_next().await.is_some() {}
        sealer.stop().await;
    };
    if tokio::time::timeout(deadline, drained).await.is_err() {
        tracing::error!(
            deadline_secs = config.shutdown_timeout_secs,
            jobs = tasks.len(),
            "shutdown deadline passed: abandoning running jobs"
        );
        return Ok(false);
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(true)
}
