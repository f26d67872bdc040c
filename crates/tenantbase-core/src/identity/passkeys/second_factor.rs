//! A passkey as the second step of a sign-in: the first step's `mfa_token` names the
//! account, the challenge lists that account's passkeys (`for_account`) and is bound to
//! that `mfa_token`, and a passing answer completes the sign-in (`complete_mfa_in`),
//! adding the key's kind to the session's `amr`.

use tenantbase_domain::model::RequestMeta;

use super::answer::Passed;
use super::for_account::Step;
use super::record::key_kind;
use super::{Identity, IdentityError};
use crate::identity::TokenPair;
use crate::identity::accounts::{Device, hash_refresh_token, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::mfa::{FactorPassed, use_challenge};
use crate::write::Change;

impl Identity {
    /// Request options for `navigator.credentials.get()` listing the passkeys of the
    /// account `mfa_token` belongs to; only that `mfa_token` can finish the ceremony.
    /// A token bound to another device is refused as the emailed code's send refuses
    /// it: that device must not learn the account's credentials.
    pub async fn start_passkey_second_factor(
        &self,
        mfa_token: &str,
        device: &Device,
    ) -> Result<serde_json::Value, IdentityError> {
        self.webauthn()?;
        let user = self.mfa_challenge_user(mfa_token, device).await?;
        let challenge = hash_refresh_token(mfa_token);
        self.start_with_passkeys_of(user.id, Step::SecondFactor(&challenge))
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
        // Another device is refused before the ceremony is taken, so it cannot spend the
        // one the token's own device is answering.
        let user = self.mfa_challenge_user(mfa_token, device).await?;
        let challenge = hash_refresh_token(mfa_token);
        let Passed {
            stored,
            result,
            owner: _,
            mut unit,
        } = self
            .finish_with_passkey_of(user.id, Step::SecondFactor(&challenge), credential, request)
            .await?;
        // The passkey's use, the challenge's and the session commit together: a token
        // refused now (used meanwhile, expired, another device's) drops the unit, and with
        // it the new signature counter and the success event.
        let challenge = use_challenge(&mut unit, mfa_token, device).await?;
        let payload = serde_json::json!({
            "passkey_id": stored.info.id.to_string(),
            "step": "second_factor",
        });
        let event = user_event("auth.passkey.login.succeeded", &user, request, payload);
        let passed = FactorPassed {
            user,
            amr_factor: key_kind(&result),
            recorded: Some(Change::new(AuthStale::Nothing, event)),
            passkey: Some(stored.info.id),
        };
        self.complete_mfa_in(unit, challenge, passed, device, request)
            .await
    }
}
