//! Signing in with a discoverable passkey: the client asks for a challenge naming no
//! account, the authenticator picks the credential and returns the user handle it keeps,
//! and the answer opens a session whose `amr` says what the passkey proved.

use tenantbase_domain::model::RequestMeta;
use tenantbase_store::identity::passkeys::CeremonyPurpose;
use webauthn_rs::prelude::DiscoverableAuthentication;

use super::answer::{Audit, Passed, assertion};
use super::record::amr;
use super::{Identity, IdentityError, ceremony};
use crate::identity::TokenPair;
use crate::identity::accounts::{Device, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::session_open::{Grant, Opening};
use crate::write::Change;

impl Identity {
    /// Starts a usernameless sign-in: request options for `navigator.credentials.get()`
    /// with no `allowCredentials`, so the authenticator offers its own credentials.
    pub async fn start_passkey_sign_in(&self) -> Result<serde_json::Value, IdentityError> {
        let webauthn = self.webauthn()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| IdentityError::Internal(format!("passkey sign-in: {e}")))?;
        ceremony::open(
            self.store.as_ref(),
            CeremonyPurpose::SignIn,
            None,
            None,
            None,
            &options.public_key.challenge,
            &state,
        )
        .await?;
        serde_json::to_value(&options)
            .map_err(|e| IdentityError::Internal(format!("request options: {e}")))
    }

    /// Finishes the sign-in `credential` answers (the JSON of the browser's assertion).
    /// Every refusal — no such ceremony, unknown passkey, a user handle that is not the
    /// passkey's owner, a bad signature or origin, a signature counter that did not move
    /// forward (a cloned authenticator) — is `PasskeyRefused` and audited with its reason.
    pub async fn finish_passkey_sign_in(
        &self,
        credential: serde_json::Value,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let webauthn = self.webauthn()?;
        let credential = assertion(credential)?;
        let state: Option<DiscoverableAuthentication> = ceremony::take(
            self.store.as_ref(),
            CeremonyPurpose::SignIn,
            None,
            None,
            None,
            &credential.response.client_data_json,
        )
        .await?;
        let Some(state) = state else {
            return Err(self
                .refuse(Audit::SignIn, None, "no pending challenge", request)
                .await);
        };
        let Ok((user_handle, _)) = webauthn.identify_discoverable_authentication(&credential)
        else {
            return Err(self
                .refuse(Audit::SignIn, None, "no user handle", request)
                .await);
        };
        let verify = |passkey: &_| {
            webauthn.finish_discoverable_authentication_v2(&credential, state, passkey)
        };
        let Passed {
            owner: user,
            stored,
            result,
            unit,
        } = self
            .check_answer(&credential, user_handle, verify, Audit::SignIn, request)
            .await?;
        let amr = amr(&result);
        let payload = serde_json::json!({"passkey_id": stored.info.id.to_string(), "amr": amr});
        let event = user_event("auth.passkey.login.succeeded", &user, request, payload);
        let grant = Grant {
            amr,
            access_ttl: None,
            identity: None,
            passkey: Some(stored.info.id),
            opening: Opening::SignIn,
        };
        self.open_session_as(
            unit,
            Change::new(AuthStale::Nothing, event),
            user,
            device,
            request,
            grant,
        )
        .await
    }
}
