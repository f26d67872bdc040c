//! `tenantbase worker`: job workers and schedules without the HTTP server, until SIGTERM
//! or SIGINT; running jobs finish first.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::{background, connect, serve};

pub(crate) async fn run(config: &Config, concurrency: Option<usize>) -> anyhow::Result<()> {
    let store = connect::open_store(config).await?;
    let blob = serve::open_blob(config).await?;
    let shutdown = CancellationToken::new();
    let concurrency = concurrency.unwrap_or(config.jobs.workers).max(1);
    let mut tasks = background::spawn(config, &store, &blob, concurrency, &shutdown)?;
    serve::wait_for_signal().await;
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
