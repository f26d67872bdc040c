//! A passkey as the second step of a sign-in: the first step's `mfa_token` names the
//! account, the challenge lists that account's passkeys (`for_account`), and a passing
//! answer completes the sign-in (`complete_mfa`), adding the key's kind to the session's
//! `amr`.

use tenantbase_domain::model::RequestMeta;

use super::answer::Passed;
use super::for_account::Step;
use super::record::key_kind;
use super::{Identity, IdentityError};
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
        self.webauthn()?;
        let user = self.mfa_challenge_user(mfa_token).await?;
        self.start_with_passkeys_of(user.id, Step::SecondFactor)
            .await
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
        self.webauthn()?;
        let user = self.mfa_challenge_user(mfa_token).await?;
        let Passed {
            stored,
            result,
            unit,
        } = self
            .finish_with_passkey_of(user.id, Step::SecondFactor, credential, request)
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
