//! A passkey as the second step of a sign-in: the first step's `mfa_token` names the
//! account, the challenge lists that account's passkeys, and a passing answer completes
//! the sign-in (`complete_mfa`), adding the key's kind to the session's `amr`.

use tenantbase_domain::model::RequestMeta;
use tenantbase_store::identity::passkeys::CeremonyPurpose;
use webauthn_rs::prelude::PasskeyAuthentication;

use super::answer::{Passed, assertion};
use super::record::{key_kind, parse};
use super::{Identity, IdentityError, ceremony};
use crate::identity::TokenPair;
use crate::identity::accounts::{Device, user_event};
use crate::identity::cache::AuthStale;
use crate::write::Change;

impl Identity {
    /// Request options for `navigator.credentials.get()` listing the passkeys of the
    /// account `mfa_token` belongs to.
    pub async fn start_passkey_second_factor(
        &self,
        mfa_token: &str,
    ) -> Result<serde_json::Value, IdentityError> {
        let webauthn = self.webauthn()?;
        let user = self.mfa_challenge_user(mfa_token).await?;
        let passkeys = self
            .store
            .passkeys(user.id)
            .await?
            .iter()
            .map(|stored| parse(&stored.credential))
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(IdentityError::MfaNotEnrolled);
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| IdentityError::Internal(format!("passkey second factor: {e}")))?;
        ceremony::open(
            self.store.as_ref(),
            CeremonyPurpose::SecondFactor,
            Some(user.id),
            &options.public_key.challenge,
            &state,
        )
        .await?;
        serde_json::to_value(&options)
            .map_err(|e| IdentityError::Internal(format!("request options: {e}")))
    }

    /// Checks the passkey's answer for the account of `mfa_token` and completes the
    /// sign-in. Refusals are `PasskeyRefused`, audited; a bad `mfa_token` is
    /// `InvalidMfaToken`.
    pub async fn finish_passkey_second_factor(
        &self,
        mfa_token: &str,
        credential: serde_json::Value,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let webauthn = self.webauthn()?;
        let credential = assertion(credential)?;
        let user = self.mfa_challenge_user(mfa_token).await?;
        let state: Option<PasskeyAuthentication> = ceremony::take(
            self.store.as_ref(),
            CeremonyPurpose::SecondFactor,
            Some(user.id),
            &credential.response.client_data_json,
        )
        .await?;
        let Some(state) = state else {
            return Err(self.refuse(None, "no pending challenge", request).await);
        };
        let verify = |_: &_| webauthn.finish_passkey_authentication(&credential, &state);
        let Passed {
            stored,
            result,
            unit,
        } = self
            .check_answer(&credential, user.id.as_uuid(), verify, request)
            .await?;
        let payload = serde_json::json!({
            "passkey_id": stored.info.id.to_string(),
            "step": "second_factor",
        });
        let event = user_event("auth.passkey.login.succeeded", &user, request, payload);
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        self.complete_mfa(mfa_token, user, key_kind(&result), device, request)
            .await
    }
}
