//! Trace export: an OpenTelemetry tracer provider whose batch processor posts spans over
//! OTLP/HTTP (protobuf) from a thread of its own. Its queue is bounded
//! (`telemetry.queue_spans`): when the collector is slow or gone, new spans are dropped,
//! and requests neither wait for it nor fail because of it.

use std::time::Duration;

use anyhow::Context;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};

use crate::config::{OtlpProtocol, TelemetryConfig};

/// How long finished spans wait to be sent together (the specification's default is 5 s;
/// a shorter wait keeps traces close to live at a few requests a second to the collector).
const EXPORT_EVERY: Duration = Duration::from_secs(1);
/// Most spans in one export request.
const EXPORT_BATCH: usize = 512;

/// The provider for `config`, or `None` when no endpoint is set. Also makes W3C
/// `traceparent` the propagation format the request span reads.
pub(super) fn provider(config: &TelemetryConfig) -> anyhow::Result<Option<SdkTracerProvider>> {
    let Some(url) = config.traces_url() else {
        return Ok(None);
    };
    let protocol = match config.otlp_protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(url)
        .with_timeout(Duration::from_millis(config.export_timeout_ms))
        .build()
        .context("telemetry.otlp_endpoint: building the OTLP exporter")?;
    let batches = BatchConfigBuilder::default()
        .with_max_queue_size(config.queue_spans)
        .with_max_export_batch_size(EXPORT_BATCH.min(config.queue_spans))
        .with_scheduled_delay(EXPORT_EVERY)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batches)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        // A trace begun upstream keeps its caller's decision; new ones are sampled here.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(provider))
}

/// Sends what is queued and stops the exporter, waiting at most `deadline` (on a blocking
/// thread: the SDK's shutdown blocks). A collector that does not answer costs the spans
/// still queued, never a stuck exit.
pub(super) async fn shutdown(provider: SdkTracerProvider, deadline: Duration) {
    let flushing = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(deadline));
    match tokio::time::timeout(deadline + Duration::from_secs(1), flushing).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => {
            tracing::warn!(%error, "flushing traces at shutdown failed; queued spans are lost")
        }
        Ok(Err(_)) | Err(_) => {
            tracing::warn!(
                "flushing traces at shutdown did not finish in time; queued spans are lost"
            )
        }
    }
}
