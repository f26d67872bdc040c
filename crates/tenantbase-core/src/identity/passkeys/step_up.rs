//! A passkey as a step-up: the signed-in caller answers a challenge listing their own
//! passkeys, in the session that asked for it. A user-verified passkey is two factors by
//! itself (the key, and the PIN or biometric that unlocked it), so it renews the
//! session's `auth_time` without the password — the one way an account without a
//! password steps up in place. The session keeps its `amr`: a step-up proves recency,
//! not a new way of signing in. Refusals are audited as step-ups' (`auth.step_up.failed`).

use tenantbase_domain::model::RequestMeta;

use super::answer::{Audit, Passed};
use super::for_account::Step;
use super::{Identity, IdentityError};
use crate::identity::{Principal, Reauthenticated};

impl Identity {
    /// Request options for `navigator.credentials.get()` listing the caller's passkeys;
    /// only the caller's session can answer them.
    pub async fn start_passkey_step_up(
        &self,
        principal: &Principal,
    ) -> Result<serde_json::Value, IdentityError> {
        self.start_with_passkeys_of(principal.user_id, Step::StepUp(principal.session_id))
            .await
    }

    /// Checks the caller's passkey answer and renews the session's `auth_time`. Refusals
    /// — no pending step-up of the caller's session, another account's passkey, a bad
    /// signature or origin, a counter that did not increase, no user verification — are
    /// `PasskeyRefused`, audited.
    pub async fn finish_passkey_step_up(
        &self,
        principal: &Principal,
        credential: serde_json::Value,
        request: &RequestMeta,
    ) -> Result<Reauthenticated, IdentityError> {
        let Passed {
            stored,
            result,
            owner: _,
            unit,
        } = self
            .finish_with_passkey_of(
                principal.user_id,
                Step::StepUp(principal.session_id),
                credential,
                request,
            )
            .await?;
        // The verifier demands it already; without it the passkey is one factor, which
        // must not stand in for the password.
        if !result.user_verified() {
            drop(unit);
            let audit = Audit::StepUp(principal.user_id);
            return Err(self
                .refuse(audit, Some(&stored), "user not verified", request)
                .await);
        }
        let details = serde_json::json!({
            "method": "passkey",
            "passkey_id": stored.info.id.to_string(),
        });
        self.renew_auth_time(unit, principal, details, request)
            .await
    }
}
