//! `[auth.oidc]`: sign-in with OpenID providers (`[[auth.oidc.providers]]`).

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use tenantbase_core::identity::oidc::{OidcPolicy, ProviderConfig};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// This server's public base URL; each provider must allow
    /// `{public_url}/v1/auth/oidc/{name}/callback` as a redirect URI.
    pub public_url: String,
    /// Bounds each call to a provider (discovery, keys, token); 1 to 60.
    pub http_timeout_secs: u64,
    /// How long a provider's discovery document and keys are reused; at least 60.
    pub discovery_ttl_secs: u64,
    /// None by default: OpenID sign-in is off until a provider is configured.
    pub providers: Vec<ProviderConfig>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        let policy = OidcPolicy::default();
        Self {
            public_url: policy.public_url,
            http_timeout_secs: policy.http_timeout.as_secs(),
            discovery_ttl_secs: policy.discovery_ttl.as_secs(),
            providers: policy.providers,
        }
    }
}

impl OidcConfig {
    pub fn policy(&self) -> OidcPolicy {
        OidcPolicy {
            providers: self.providers.clone(),
            public_url: self.public_url.clone(),
            http_timeout: Duration::from_secs(self.http_timeout_secs),
            discovery_ttl: Duration::from_secs(self.discovery_ttl_secs),
            ..OidcPolicy::default()
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=60).contains(&self.http_timeout_secs) {
            bail!("invalid configuration: auth.oidc.http_timeout_secs must be 1 to 60");
        }
        if self.discovery_ttl_secs < 60 {
            bail!("invalid configuration: auth.oidc.discovery_ttl_secs must be at least 60");
        }
        if let Err(why) = self.policy().check() {
            bail!("invalid configuration: auth.oidc.{why}");
        }
        Ok(())
    }
}
