//! Telemetry of a running process: the JSON log (through a bounded writer queue, with a
//! level that a config reload can change) and, when `telemetry.otlp_endpoint` is set,
//! OpenTelemetry traces of requests, units of work, jobs and mail sends. Without an
//! endpoint no tracing layer is installed: spans cost what they cost before.

mod log_writer;
mod traces;

use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::Config;

pub(crate) use log_writer::describe_metrics;

/// Changes the log filter of the running process (`log.level`).
#[derive(Clone)]
pub(crate) struct LogLevel(reload::Handle<EnvFilter, Registry>);

impl LogLevel {
    /// Applies `level` (already validated as a filter by the config).
    pub(crate) fn set(&self, level: &str) -> anyhow::Result<()> {
        let filter = EnvFilter::try_new(level).with_context(|| format!("log.level `{level}`"))?;
        self.0
            .reload(filter)
            .context("the log filter is gone (the subscriber was dropped)")
    }
}

/// What `init` installed; keep it alive for the life of the process and end it with
/// `shutdown`.
pub(crate) struct Telemetry {
    pub(crate) log_level: LogLevel,
    traces: Option<SdkTracerProvider>,
    flush_deadline: Duration,
    _log: WorkerGuard,
}

/// Installs the global subscriber: the JSON log filtered by `log.level`, and the trace
/// layer when export is configured. Traces have their own filter (our crates at info),
/// so a quieter log does not thin out traces, and the exporter's own HTTP client never
/// traces itself.
pub(crate) fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let (writer, guard) = log_writer::writer(config.log.queue_lines);
    let (filter, handle) = reload::Layer::new(EnvFilter::try_new(&config.log.level)?);
    let log = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_writer(writer)
        .with_filter(filter);
    let provider = traces::provider(&config.telemetry)?;
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tenantbase"))
            .with_filter(Targets::new().with_target("tenantbase", LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(log)
        .with(traces)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))?;
    if let Some(url) = config.telemetry.traces_url_for_logs() {
        tracing::info!(endpoint = %url, sample_ratio = config.telemetry.sample_ratio, "exporting traces");
    }
    Ok(Telemetry {
        log_level: LogLevel(handle),
        traces: provider,
        flush_deadline: Duration::from_millis(config.telemetry.export_timeout_ms),
        _log: guard,
    })
}

impl Telemetry {
    /// Flushes queued spans (within `telemetry.export_timeout_ms`); the log is flushed
    /// when `self` is dropped.
    pub(crate) async fn shutdown(self) {
        if let Some(provider) = self.traces {
            traces::shutdown(provider, self.flush_deadline).await;
        }
    }
}
