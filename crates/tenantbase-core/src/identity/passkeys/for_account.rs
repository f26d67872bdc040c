//! An authentication ceremony with the passkeys of an account named beforehand — the
//! second step of a sign-in (`second_factor`) and a step-up (`step_up`): the challenge
//! lists only that account's passkeys and requires user verification, and only an answer
//! by one of them, to a ceremony started for the same purpose and account — and, for a
//! step-up, in the same session, for a second step, with the same `mfa_token` — passes.

use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_domain::model::RequestMeta;
use tenantbase_store::identity::passkeys::CeremonyPurpose;
use webauthn_rs::prelude::PasskeyAuthentication;

use super::answer::{Audit, Passed, assertion};
use super::record::parse;
use super::{Identity, IdentityError, ceremony};

/// What an account's ceremony is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step<'a> {
    /// The second step of the sign-in whose challenge is this (the hash of its
    /// `mfa_token`, which names the account): another pending sign-in of the same user
    /// cannot finish it, as the finish completes the sign-in of the `mfa_token` it is sent.
    SecondFactor(&'a str),
    /// A step-up of this session: another session of the same user cannot finish it,
    /// as a step-up renews the `auth_time` of the session it is finished in.
    StepUp(SessionId),
}

impl<'a> Step<'a> {
    fn purpose(self) -> CeremonyPurpose {
        match self {
            Step::SecondFactor(_) => CeremonyPurpose::SecondFactor,
            Step::StepUp(_) => CeremonyPurpose::StepUp,
        }
    }

    fn session(self) -> Option<SessionId> {
        match self {
            Step::SecondFactor(_) => None,
            Step::StepUp(session) => Some(session),
        }
    }

    fn mfa_challenge(self) -> Option<&'a str> {
        match self {
            Step::SecondFactor(challenge) => Some(challenge),
            Step::StepUp(_) => None,
        }
    }

    /// How a refusal of `user`'s answer is audited.
    fn audit(self, user: UserId) -> Audit {
        match self {
            Step::SecondFactor(_) => Audit::SignIn,
            Step::StepUp(_) => Audit::StepUp(user),
        }
    }
}

impl Identity {
    /// Request options for `navigator.credentials.get()` listing `user`'s passkeys, the
    /// ceremony kept for `step`. `MfaNotEnrolled` when the account has none.
    pub(super) async fn start_with_passkeys_of(
        &self,
        user: UserId,
        step: Step<'_>,
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
        let purpose = step.purpose();
        // `Passkey` ceremonies of webauthn-rs require user verification (PIN, biometric).
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| IdentityError::Internal(format!("passkey {}: {e}", purpose.as_str())))?;
        ceremony::open(
            self.store.as_ref(),
            purpose,
            Some(user),
            step.session(),
            step.mfa_challenge(),
            &options.public_key.challenge,
            &state,
        )
        .await?;
        serde_json::to_value(&options)
            .map_err(|e| IdentityError::Internal(format!("request options: {e}")))
    }

    /// Checks `credential` (the browser's assertion JSON) against `user`'s ceremony for
    /// `step`. Refusals are `PasskeyRefused`, audited as `step` says; on success the
    /// passkey's use is recorded in the returned unit, for the caller to commit with what
    /// it proves.
    pub(super) async fn finish_with_passkey_of(
        &self,
        user: UserId,
        step: Step<'_>,
        credential: serde_json::Value,
        request: &RequestMeta,
    ) -> Result<Passed<'_>, IdentityError> {
        let webauthn = self.webauthn()?;
        let credential = assertion(credential)?;
        let state: Option<PasskeyAuthentication> = ceremony::take(
            self.store.as_ref(),
            step.purpose(),
            Some(user),
            step.session(),
            step.mfa_challenge(),
            &credential.response.client_data_json,
        )
        .await?;
        let audit = step.audit(user);
        let Some(state) = state else {
            return Err(self
                .refuse(audit, None, "no pending challenge", request)
                .await);
        };
        let verify = |_: &_| webauthn.finish_passkey_authentication(&credential, &state);
        self.check_answer(&credential, user.as_uuid(), verify, audit, request)
            .await
    }
}
