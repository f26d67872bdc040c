//! One configured provider: its settings, checked at start-up; its discovery document and
//! keys, fetched when first needed and cached; the authorization URL; and the code
//! exchange with the ID token's verification (signature, `iss`, `aud`, `exp`, `nonce`).

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenantbase_domain::email::Email;
use url::Url;

use super::OidcError;

/// A provider as the operator configures it (`[[auth.oidc.providers]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Names the provider in routes (`/v1/auth/oidc/{name}/…`): `[a-z0-9_-]`, 1–32.
    pub name: String,
    /// The issuer URL; `{issuer}/.well-known/openid-configuration` is read for the rest.
    pub issuer: String,
    pub client_id: String,
    /// A secret: never logged.
    pub client_secret: SecretString,
    /// Requested besides `openid`, which is always requested.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimNames,
    /// The app URIs a flow may return to; a start naming another is refused.
    pub redirect_uris: Vec<String>,
    /// Refuse a sign-in start without the app's `code_challenge`, so that every login code
    /// is bound to the app that started it (no login CSRF). Off by default: a start needs
    /// only `redirect_uri`.
    #[serde(default)]
    pub require_code_challenge: bool,
}

fn default_scopes() -> Vec<String> {
    vec!["email".to_owned(), "profile".to_owned()]
}

/// Which ID-token claims hold the email, whether it is verified, and the display name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimNames {
    pub email: String,
    pub email_verified: String,
    pub name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            email: "email".to_owned(),
            email_verified: "email_verified".to_owned(),
            name: "name".to_owned(),
        }
    }
}

impl ProviderConfig {
    /// Why this configuration cannot work, naming the setting.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "name `{}` must be 1 to 32 of a-z, 0-9, - and _",
                self.name
            ));
        }
        let at = |setting: &str| format!("provider `{}`: {setting}", self.name);
        secure_url(&self.issuer).map_err(|why| format!("{} {why}", at("issuer")))?;
        if self.client_id.trim().is_empty() {
            return Err(format!("{} must not be empty", at("client_id")));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(format!("{} must not be empty", at("client_secret")));
        }
        if let Some(scope) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(format!("{} `{scope}` is not one scope", at("scopes")));
        }
        let claims = [
            &self.claims.email,
            &self.claims.email_verified,
            &self.claims.name,
        ];
        if claims.iter().any(|claim| claim.trim().is_empty()) {
            return Err(format!("{} must not be empty", at("claims")));
        }
        if self.redirect_uris.is_empty() {
            return Err(format!("{} needs at least one URI", at("redirect_uris")));
        }
        for uri in &self.redirect_uris {
            secure_url(uri).map_err(|why| format!("{} `{uri}` {why}", at("redirect_uris")))?;
        }
        Ok(())
    }
}

/// An absolute URL without fragment, over HTTPS — or plain HTTP to this machine only.
pub(crate) fn secure_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => return Err("must be https (or http to a loopback address)".to_owned()),
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".to_owned());
    }
    Ok(url)
}

/// What a verified ID token says about the user, read through the claim mapping.
#[derive(Debug, Clone)]
pub(super) struct VerifiedClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// ID tokens signed otherwise are refused: no `none`, and no HMAC, whose key would be the
/// client secret.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A signature that fails with keys older than this re-reads the provider's keys once:
/// providers rotate them.
const KEYS_RECHECK_AFTER: Duration = Duration::from_secs(60);

pub(super) struct Provider {
    pub(super) config: ProviderConfig,
    issuer: IssuerUrl,
    /// Our callback, as registered with the provider.
    callback: RedirectUrl,
    discovery_ttl: Duration,
    /// One discovery at a time: concurrent sign-ins wait for it rather than repeat it.
    discovered: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Provider {
    pub(super) fn new(
        config: ProviderConfig,
        public_url: &str,
        discovery_ttl: Duration,
    ) -> Result<Self, String> {
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| e.to_string())?;
        let callback = format!(
            "{}/v1/auth/oidc/{}/callback",
            public_url.trim_end_matches('/'),
            config.name
        );
        let callback = RedirectUrl::new(callback).map_err(|e| format!("public_url: {e}"))?;
        Ok(Self {
            config,
            issuer,
            callback,
            discovery_ttl,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document and keys, read again once older than `max_age`. When
    /// re-reading fails, the previous copy serves on (with a warning) rather than stop
    /// every sign-in.
    async fn metadata(
        &self,
        http: &reqwest::Client,
        max_age: Duration,
    ) -> Result<CoreProviderMetadata, OidcError> {
        let mut slot = self.discovered.lock().await;
        if let Some((at, metadata)) = slot.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(metadata.clone());
        }
        match CoreProviderMetadata::discover_async(self.issuer.clone(), http).await {
            Ok(metadata) => {
                *slot = Some((Instant::now(), metadata.clone()));
                Ok(metadata)
            }
            Err(error) => match slot.as_ref() {
                Some((_, metadata)) => {
                    tracing::warn!(provider = %self.config.name, %error, "re-reading the provider's discovery document failed; using the previous one");
                    Ok(metadata.clone())
                }
                None => Err(OidcError::ProviderUnavailable(error.to_string())),
            },
        }
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.callback.clone())
    }

    /// Where to send the browser: the provider's authorization endpoint with our client,
    /// callback, scopes, `state`, `nonce` and the S256 challenge of `verifier`.
    pub(super) async fn authorization_url(
        &self,
        http: &reqwest::Client,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<Url, OidcError> {
        let client = self.client(self.metadata(http, self.discovery_ttl).await?);
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    /// Exchanges `code` (with the PKCE `verifier`) and verifies the ID token it brings.
    pub(super) async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedClaims, OidcError> {
        let client = self.client(self.metadata(http, self.discovery_ttl).await?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::ProviderUnavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(_) => OidcError::CodeRejected,
                other => OidcError::ProviderUnavailable(other.to_string()),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidIdToken("the token response has none".to_owned()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
            id_token
                .claims(&verifier, &nonce)
                .map(|claims| (claims.issuer().to_string(), claims.subject().to_string()))
        };
        let (issuer, subject) = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.client(self.metadata(http, KEYS_RECHECK_AFTER).await?);
                verify(&fresh)
            }
            verified => verified,
        }
        .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        let payload = verified_payload(&id_token.to_string())?;
        let names = &self.config.claims;
        let text = |claim: &str| {
            payload
                .get(claim)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        // Text neither backend stores (PostgreSQL refuses NUL) is no identity.
        if subject.contains('\0') {
            return Err(OidcError::InvalidIdToken(
                "its subject holds NUL".to_owned(),
            ));
        }
        Ok(VerifiedClaims {
            issuer,
            subject,
            // Kept as asserted, for display, when it is an address at all.
            email: text(&names.email).filter(|email| Email::parse(email).is_ok()),
            // Only a JSON `true` counts: a string or an absent claim vouches for nothing.
            email_verified: payload.get(&names.email_verified)
                == Some(&serde_json::Value::Bool(true)),
            name: text(&names.name),
        })
    }
}

/// The claims of an ID token whose signature was verified, as JSON: the configured claim
/// names may be any claim, standard or not.
fn verified_payload(
    compact: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let malformed = || OidcError::InvalidIdToken("its payload is not a JSON object".to_owned());
    let payload = compact.split('.').nth(1).ok_or_else(malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}
