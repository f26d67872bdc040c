//! The management listener (`metrics.listen`): `/metrics` on an address of its own, so
//! scraping can stay on an internal network while the API listener faces clients. It
//! stops with the API listener.

use anyhow::Context;
use tenantbase_http::AppState;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Binds `metrics.listen`, when set, and serves it until `shutdown`; the handle ends with
/// the listener's outcome.
pub(crate) async fn serve(
    config: &Config,
    state: &AppState,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<JoinHandle<std::io::Result<()>>>> {
    let Some(addr) = config.metrics.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (metrics.listen)"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let app = tenantbase_http::management_router(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stop = shutdown.clone().cancelled_owned();
    Ok(Some(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
    })))
}
