//! Passkeys (WebAuthn, PRODUCT.md ID-9) verified by `webauthn-rs`: a signed-in user adds,
//! lists, renames and removes passkeys, anyone signs in with a discoverable passkey
//! without naming an account first, a passkey passes the second step of a sign-in, and
//! a signed-in user steps up with one.
//! Each ceremony's state waits server-side for its answer — single use, for
//! `CEREMONY_TTL` — keyed by its challenge (`ceremony`).

mod answer;
mod ceremony;
mod for_account;
mod manage;
mod record;
mod second_factor;
mod sign_in;
mod step_up;

use std::time::Duration;

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use super::{Identity, IdentityError};

/// How long a ceremony's challenge can be answered; also the client's timeout.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

/// The relying party passkeys are bound to: its id (a domain), the name authenticators
/// show, and the web origins allowed to run its ceremonies.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// Fails when an origin is not a URL, or `id` is not the domain of the first origin
    /// or a parent of it (WebAuthn's rule, checked by `webauthn-rs`).
    pub fn new(id: &str, name: &str, origins: &[String]) -> Result<Self, String> {
        let origins = origins
            .iter()
            .map(|origin| Url::parse(origin).map_err(|e| format!("origin `{origin}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let (first, others) = origins
            .split_first()
            .ok_or_else(|| "at least one origin is needed".to_owned())?;
        let mut builder = WebauthnBuilder::new(id, first)
            .map_err(|e| format!("relying party id `{id}` for origin `{first}`: {e}"))?
            .rp_name(name)
            .timeout(CEREMONY_TTL);
        for origin in others {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { webauthn })
    }
}

impl Identity {
    /// Offers passkeys for `relying_party`; without it every passkey use case answers
    /// `PasskeysDisabled`.
    pub fn with_passkeys(mut self, relying_party: RelyingParty) -> Self {
        self.passkeys = Some(relying_party);
        self
    }

    fn webauthn(&self) -> Result<&Webauthn, IdentityError> {
        self.passkeys
            .as_ref()
            .map(|rp| &rp.webauthn)
            .ok_or(IdentityError::PasskeysDisabled)
    }
}
