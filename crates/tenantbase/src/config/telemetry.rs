//! `[telemetry]`: OpenTelemetry traces exported over OTLP. Off unless an endpoint is set.

use anyhow::bail;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Base URL of an OTLP/HTTP receiver (`http://collector:4318`); spans go to
    /// `<endpoint>/v1/traces`. Unset: no tracing layer is installed at all.
    pub otlp_endpoint: Option<String>,
    /// The wire format; only OTLP over HTTP with protobuf bodies is built in.
    pub otlp_protocol: OtlpProtocol,
    /// `service.name` of every span.
    pub service_name: String,
    /// Share of new traces kept (0.0–1.0); a trace begun upstream keeps its caller's choice.
    pub sample_ratio: f64,
    /// Finished spans waiting for export; beyond it new spans are dropped, so a slow or
    /// unreachable collector costs spans, never memory or request time.
    pub queue_spans: usize,
    /// Bound on one export call, and on the final flush at shutdown.
    pub export_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::HttpProtobuf,
            service_name: "tenantbase".to_owned(),
            sample_ratio: 1.0,
            queue_spans: 2048,
            export_timeout_ms: 5000,
        }
    }
}

impl TelemetryConfig {
    /// The URL spans are posted to, when export is on.
    pub fn traces_url(&self) -> Option<String> {
        self.otlp_endpoint
            .as_deref()
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }

    /// `traces_url` as it may be logged: without credentials or a query string, where
    /// operators put collector tokens.
    pub fn traces_url_for_logs(&self) -> Option<String> {
        let mut url = url::Url::parse(&self.traces_url()?).ok()?;
        // Both only fail for URLs that cannot carry credentials, which is fine here.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        Some(url.to_string())
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let Some(endpoint) = &self.otlp_endpoint {
            let parsed = url::Url::parse(endpoint).map_err(|e| {
                anyhow::anyhow!("invalid configuration: telemetry.otlp_endpoint: {e}")
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("invalid configuration: telemetry.otlp_endpoint must be an http(s) URL");
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            bail!("invalid configuration: telemetry.sample_ratio must be between 0 and 1");
        }
        if self.service_name.trim().is_empty() {
            bail!("invalid configuration: telemetry.service_name must not be empty");
        }
        if self.queue_spans == 0 || self.export_timeout_ms == 0 {
            bail!(
                "invalid configuration: telemetry.queue_spans and telemetry.export_timeout_ms must be greater than 0"
            );
        }
        Ok(())
    }
}
