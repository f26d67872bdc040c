//! The management listener (`metrics.listen`): `/metrics` on an address of its own, so
//! scraping can stay on an internal network while the API listener faces clients. It
//! stops with the API listener.

use anyhow::Context;
use tenantbase_http::AppState;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Binds `metrics.listen`, when set, and serves it until `shutdown`; the handle ends when
/// its connections have closed.
pub(crate) async fn serve(
    config: &Config,
    state: &AppState,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(addr) = config.metrics.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (metrics.listen)"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    Ok(Some(tokio::spawn(crate::http_server::serve(
        listener,
        tenantbase_http::management_router(state.clone()),
        config.connection_deadlines(),
        shutdown.clone(),
    ))))
}
