//! OpenID Connect sign-in (ID-9): operator-configured providers, the authorization-code
//! flow with PKCE (S256), `state` and `nonce`, ID tokens checked by the `openidconnect`
//! crate, identities keyed by (issuer, subject), explicit linking and unlinking.
//!
//! A flow ends with a one-time `login_code` sent to the app's redirect URI, which the app
//! exchanges for the usual token pair, or the second step of an account with a second
//! factor (`exchange_login_code`): tokens never travel in a URL, where browser history,
//! logs and `Referer` headers keep them. A linking flow ends likewise with a one-time
//! `link_code`, which links nothing until the user and session that started the flow
//! confirm it (`confirm_link`).

mod error;
mod flow;
mod linking;
mod provider;
mod sign_in;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tenantbase_domain::model::LinkedIdentity;
use zeroize::Zeroizing;

pub use error::OidcError;
pub use provider::{ClaimNames, ProviderConfig};
pub use sign_in::Callback;

use super::Identity;
use super::tokens::MasterKey;
use provider::Provider;

/// What the operator configured, and the limits of the calls to providers.
#[derive(Debug, Clone)]
pub struct OidcPolicy {
    pub providers: Vec<ProviderConfig>,
    /// This server's public base URL: providers send the browser back to
    /// `{public_url}/v1/auth/oidc/{provider}/callback`, the URI registered with them.
    pub public_url: String,
    /// Bounds every call to a provider (discovery, JWKS, token).
    pub http_timeout: Duration,
    /// How long a provider's discovery document and keys are used before re-reading them.
    pub discovery_ttl: Duration,
    /// How long a linking flow's `link_code` waits for its confirmation (not configurable:
    /// tests shorten it).
    pub link_code_ttl: Duration,
}

impl OidcPolicy {
    /// Why this configuration cannot work, naming the setting (checked at start-up).
    pub fn check(&self) -> Result<(), String> {
        provider::secure_url(&self.public_url).map_err(|why| format!("public_url {why}"))?;
        let mut names = std::collections::BTreeSet::new();
        for provider in &self.providers {
            provider
                .check()
                .map_err(|why| format!("providers: {why}"))?;
            if !names.insert(&provider.name) {
                return Err(format!("providers: two are named `{}`", provider.name));
            }
        }
        Ok(())
    }
}

impl Default for OidcPolicy {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            http_timeout: Duration::from_secs(10),
            discovery_ttl: Duration::from_secs(3600),
            link_code_ttl: Duration::from_secs(5 * 60),
        }
    }
}

/// The OpenID Connect use cases; sessions come from `Identity`.
pub struct Oidc {
    identity: Arc<Identity>,
    providers: BTreeMap<String, Provider>,
    http: reqwest::Client,
    /// Derives each flow's PKCE verifier and nonce from its state.
    flow_key: Zeroizing<[u8; 32]>,
    link_code_ttl: Duration,
}

/// The purpose the flow key is derived for; changing it breaks the flows under way.
const FLOW_KEY_PURPOSE: &str = "tenantbase/oidc/flows";

impl Oidc {
    /// Fails on a configuration `OidcPolicy::check` refuses.
    pub fn new(
        identity: Arc<Identity>,
        master: &MasterKey,
        policy: OidcPolicy,
    ) -> Result<Self, String> {
        policy.check()?;
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer point us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.http_timeout)
            .connect_timeout(policy.http_timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        let mut providers = BTreeMap::new();
        for config in policy.providers {
            let provider = Provider::new(config, &policy.public_url, policy.discovery_ttl)?;
            providers.insert(provider.config.name.clone(), provider);
        }
        Ok(Self {
            identity,
            providers,
            http,
            flow_key: master.derive(FLOW_KEY_PURPOSE),
            link_code_ttl: policy.link_code_ttl,
        })
    }

    /// The configured providers' names, for the app's sign-in buttons.
    pub fn provider_names(&self) -> Vec<&str> {
        self.providers.keys().map(String::as_str).collect()
    }

    /// `UnknownProvider` unless `name` is configured: a route under a provider's name is
    /// not found before its query is looked at.
    pub fn known_provider(&self, name: &str) -> Result<(), OidcError> {
        self.provider(name).map(drop)
    }

    fn provider(&self, name: &str) -> Result<&Provider, OidcError> {
        self.providers.get(name).ok_or(OidcError::UnknownProvider)
    }

    /// The caller's linked identities, oldest first.
    pub async fn identities(
        &self,
        principal: &super::Principal,
    ) -> Result<Vec<LinkedIdentity>, OidcError> {
        Ok(self.identity.store.identities_of(principal.user_id).await?)
    }
}
