//! Logging: one JSON object per line on stdout, written by a background thread so a slow
//! terminal or pipe never stalls a request. The buffer is bounded; when it is full, new
//! lines are dropped (and counted by tracing-appender) rather than blocking the server.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Installs the global subscriber. Keep the guard alive: dropping it flushes the log.
pub(crate) fn init(config: &LogConfig) -> anyhow::Result<WorkerGuard> {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_new(&config.level)?)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_writer(writer)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))?;
    Ok(guard)
}
