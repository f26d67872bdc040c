//! The authorization-code flow's bookkeeping: starting one (a row keyed by the state's
//! hash, ten minutes, single use) and taking it back at the callback.
//!
//! The PKCE verifier and the nonce are HMACs of the state under a key derived from the
//! master key, so the database holds no secret of the flow and any replica can finish it:
//! the state alone (which travels through the browser) does not give the verifier away.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tenantbase_store::identity::oidc::OidcFlow;
use url::Url;

use super::{Oidc, OidcError};
use crate::identity::accounts::{chrono_duration, hash_refresh_token};
use crate::identity::{IdentityError, Principal};

/// How long a started flow may take to come back.
const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// What the callback needs to finish a flow it took back.
pub(super) struct FlowSecrets {
    pub verifier: String,
    pub nonce: String,
}

impl Oidc {
    /// Starts a flow with `provider` returning to `redirect_uri` (one of the provider's
    /// allowed URIs); `link_to` makes it verify an identity for that signed-in user and
    /// session to link instead of signing in; `app_challenge` binds the login code to the app (see `sign_in`). The
    /// provider's authorization URL, for the browser.
    pub(super) async fn start_flow(
        &self,
        provider: &str,
        redirect_uri: &str,
        link_to: Option<&Principal>,
        app_challenge: Option<&str>,
    ) -> Result<Url, OidcError> {
        let provider = self.provider(provider)?;
        let mut invalid = Vec::new();
        if !provider
            .config
            .redirect_uris
            .iter()
            .any(|uri| uri == redirect_uri)
        {
            let message = "is not one of the provider's allowed redirect URIs";
            invalid.push(("redirect_uri", message.to_owned()));
        }
        let s256 = |c: &str| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        match app_challenge {
            Some(challenge) if !s256(challenge) => {
                let message = "must be an S256 challenge: 43 characters of base64url";
                invalid.push(("code_challenge", message.to_owned()));
            }
            // A linking flow is confirmed by the session that started it: nothing to bind.
            None if link_to.is_none() && provider.config.require_code_challenge => {
                let message =
                    "is required by this provider: the S256 challenge of a verifier the app keeps";
                invalid.push(("code_challenge", message.to_owned()));
            }
            _ => {}
        }
        if !invalid.is_empty() {
            return Err(OidcError::Invalid(invalid));
        }
        let state = random_token()?;
        let secrets = self.flow_secrets(&state);
        let url = provider
            .authorization_url(&self.http, &state, &secrets.nonce, &secrets.verifier)
            .await?;
        let now = Utc::now();
        let flow = OidcFlow {
            state_hash: hash_refresh_token(&state),
            provider: provider.config.name.clone(),
            user_id: link_to.map(|principal| principal.user_id),
            session_id: link_to.map(|principal| principal.session_id),
            redirect_uri: redirect_uri.to_owned(),
            app_challenge: app_challenge.map(str::to_owned),
            created_at: now,
            expires_at: now + chrono_duration(FLOW_TTL),
        };
        // Starting changes nothing about anyone: no event, so a plain unit.
        let mut unit = self.identity.store.begin().await?;
        unit.insert_oidc_flow(&flow).await?;
        unit.commit().await?;
        Ok(url)
    }

    /// Takes the flow of `state` for `provider` back, once: unknown, used, expired and
    /// other providers' states are all `None`.
    pub(super) async fn take_flow(
        &self,
        provider: &str,
        state: &str,
    ) -> Result<Option<(OidcFlow, FlowSecrets)>, OidcError> {
        let mut unit = self.identity.store.begin().await?;
        let flow = unit
            .take_oidc_flow(&hash_refresh_token(state), Utc::now())
            .await?;
        unit.commit().await?;
        Ok(flow
            .filter(|flow| flow.provider == provider)
            .map(|flow| (flow, self.flow_secrets(state))))
    }

    fn flow_secrets(&self, state: &str) -> FlowSecrets {
        let derive = |purpose: &str| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.flow_key.as_ref())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(purpose.as_bytes());
            mac.update(&[0]);
            mac.update(state.as_bytes());
            // 43 characters of base64url: a valid PKCE verifier (RFC 7636 §4.1).
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        };
        FlowSecrets {
            verifier: derive("pkce-verifier"),
            nonce: derive("nonce"),
        }
    }
}

/// 256 random bits, URL-safe: states, login and link codes.
pub(super) fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Internal(format!("randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
