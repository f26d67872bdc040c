//! An authentication ceremony with the passkeys of an account named beforehand — the
//! second step of a sign-in (`second_factor`) and a step-up (`step_up`): the challenge
//! lists only that account's passkeys and requires user verification, and only an answer
//! by one of them, to a ceremony started for the same purpose and account, passes.

use tenantbase_domain::id::UserId;
use tenantbase_domain::model::RequestMeta;
use tenantbase_store::identity::passkeys::CeremonyPurpose;
use webauthn_rs::prelude::PasskeyAuthentication;

use super::answer::{Passed, assertion};
use super::record::parse;
use super::{Identity, IdentityError, ceremony};

impl Identity {
    /// Request options for `navigator.credentials.get()` listing `user`'s passkeys, the
    /// ceremony kept for `purpose`. `MfaNotEnrolled` when the account has none.
    pub(super) async fn start_with_passkeys_of(
        &self,
        user: UserId,
        purpose: CeremonyPurpose,
    ) -> Result<serde_json::Value, IdentityError> {
        let webauthn = self.webauthn()?;
        let passkeys = self
            .store
            .passkeys(user)
            .await?
            .iter()
            .map(|stored| parse(&stored.credential))
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(IdentityError::MfaNotEnrolled);
        }
        // `Passkey` ceremonies of webauthn-rs require user verification (PIN, biometric).
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| IdentityError::Internal(format!("passkey {}: {e}", purpose.as_str())))?;
        ceremony::open(
            self.store.as_ref(),
            purpose,
            Some(user),
            &options.public_key.challenge,
            &state,
        )
        .await?;
        serde_json::to_value(&options)
            .map_err(|e| IdentityError::Internal(format!("request options: {e}")))
    }

    /// Checks `credential` (the browser's assertion JSON) against `user`'s ceremony for
    /// `purpose`. Refusals are `PasskeyRefused`, audited; on success the passkey's use is
    /// recorded in the returned unit, for the caller to commit with what it proves.
    pub(super) async fn finish_with_passkey_of(
        &self,
        user: UserId,
        purpose: CeremonyPurpose,
        credential: serde_json::Value,
        request: &RequestMeta,
    ) -> Result<Passed<'_>, IdentityError> {
        let webauthn = self.webauthn()?;
        let credential = assertion(credential)?;
        let state: Option<PasskeyAuthentication> = ceremony::take(
            self.store.as_ref(),
            purpose,
            Some(user),
            &credential.response.client_data_json,
        )
        .await?;
        let Some(state) = state else {
            return Err(self.refuse(None, "no pending challenge", request).await);
        };
        let verify = |_: &_| webauthn.finish_passkey_authentication(&credential, &state);
        self.check_answer(&credential, user.as_uuid(), verify, request)
            .await
    }
}
