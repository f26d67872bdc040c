//! What every handler can reach.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tenantbase_blob::BlobStore;
use tenantbase_store::Store;

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
}

impl HttpSettings {
    /// The client's address: the socket peer, or — when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the
    /// left-most entries are whatever the client chose to send).
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        forwarded_for: Option<&str>,
    ) -> std::net::IpAddr {
        let trusted =
            |ip: &std::net::IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        forwarded_for
            .into_iter()
            .flat_map(|header| header.rsplit(','))
            .map_while(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(trusted: &[&str]) -> HttpSettings {
        HttpSettings {
            body_limit_bytes: 1,
            request_timeout: Duration::from_secs(1),
            hsts_max_age_secs: None,
            ready_timeout: Duration::from_secs(1),
            trusted_proxies: trusted.iter().map(|n| n.parse().expect("net")).collect(),
            metrics: crate::MetricsAccess::default(),
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        let open = settings(&[]);
        assert_eq!(
            open.client_ip(ip("10.0.0.1"), Some("203.0.113.7")),
            ip("10.0.0.1"),
            "not trusted: ignored"
        );
        let proxied = settings(&["10.0.0.0/8"]);
        assert_eq!(
            proxied.client_ip(ip("10.0.0.1"), Some("203.0.113.7")),
            ip("203.0.113.7")
        );
        assert_eq!(
            proxied.client_ip(ip("10.0.0.1"), Some("1.2.3.4, 203.0.113.7, 10.0.0.2")),
            ip("203.0.113.7"),
            "the right-most untrusted hop, not what the client wrote first"
        );
        assert_eq!(
            proxied.client_ip(ip("10.0.0.1"), Some("garbage")),
            ip("10.0.0.1")
        );
        assert_eq!(proxied.client_ip(ip("10.0.0.1"), None), ip("10.0.0.1"));
        assert_eq!(
            proxied.client_ip(ip("192.0.2.1"), Some("203.0.113.7")),
            ip("192.0.2.1"),
            "a direct client cannot forge it"
        );
    }
}

/// Shared state of the server; cheap to clone.
#[derive(Clone)]
pub struct AppState {
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
    /// Orgs, access control and org-owned data.
    pub tenancy: Arc<tenantbase_core::tenancy::Tenancy>,
}
