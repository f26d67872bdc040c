//! What every handler can reach.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tenantbase_blob::BlobStore;
use tenantbase_core::Store;

/// Limits and switches of the HTTP layer, from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted; larger ones get 413.
    pub body_limit_bytes: usize,
    /// A request still running after this gets 503 and is dropped.
    pub request_timeout: Duration,
    /// `Strict-Transport-Security` max-age; `None` sends no HSTS header (plain-HTTP setups).
    pub hsts_max_age_secs: Option<u64>,
    /// How long `/ready` waits for each dependency before calling it down.
    pub ready_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed: a request from one of these
    /// is attributed to the address the proxy saw. Empty: the socket's peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Who may scrape `/metrics`, and on which listener.
    pub metrics: crate::MetricsAccess,
    /// Whether successful probe requests (`/health`, `/ready`, `/metrics`) are logged.
    pub log_probes: bool,
    /// Whether traces are exported: the request span then continues an incoming
    /// `traceparent` and carries OpenTelemetry's HTTP attributes and the trace id.
    pub trace_context: bool,
}

impl HttpSettings {
    /// The client's address: the socket peer, or — when the peer is a trusted proxy — the
    /// right-most `X-Forwarded-For` hop that is not itself a trusted proxy (see
    /// `forwarded`).
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        crate::forwarded::client_ip(&self.trusted_proxies, peer, headers)
    }
}

/// Shared state of the server: one `Arc`, so the copy axum makes for every middleware
/// and extractor that takes it costs one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What every handler can reach, behind `AppState`.
pub struct Services {
    /// The database, whichever backend was configured.
    pub store: Arc<dyn Store>,
    /// Object storage for files and archives.
    pub blob: BlobStore,
    /// Renders the process's metrics as Prometheus text.
    pub metrics: PrometheusHandle,
    /// When `/metrics` last read the job queue's depth (it rereads every few seconds).
    pub queue_depth: Arc<crate::QueueDepthReadings>,
    /// Limits and switches of the HTTP layer.
    pub http: Arc<HttpSettings>,
    /// Accounts, sessions and tokens.
    pub identity: Arc<tenantbase_core::identity::Identity>,
    /// Sign-in with OpenID providers and linked identities.
    pub oidc: Arc<tenantbase_core::identity::oidc::Oidc>,
    /// Orgs, access control and org-owned data.
    pub tenancy: Arc<tenantbase_core::tenancy::Tenancy>,
    /// Every request in flight; writes run to completion in tasks of their own, a
    /// bounded number at once. Shutdown waits for them, up to its deadline.
    pub in_flight: crate::InFlight,
}
