//! Checking a passkey's answer to an authentication challenge, for a sign-in (either
//! step) or a step-up: the passkey must exist and belong to the expected user, the
//! verifier must accept the answer, and the signature counter must move forward. Every
//! refusal is audited with its reason (`Audit`) and answered alike.

use chrono::Utc;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Actor, RequestMeta, Target, User};
use tenantbase_store::identity::passkeys::{PasskeyUse, StoredPasskey};
use tenantbase_store::platform::events::NewEvent;
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PublicKeyCredential, Uuid, WebauthnError,
};

use super::record::{self, Record, credential_key, parse};
use super::{Identity, IdentityError};
use crate::identity::accounts::IdentityWrite;
use crate::identity::cache::AuthStale;
use crate::write::Change;

/// An answer that passed: the passkey, what the verifier found, and the open unit in
/// which the passkey's new counter and flags are recorded (the caller commits it).
pub(super) struct Passed<'a> {
    /// The passkey's owner, whose row the unit has locked.
    pub owner: User,
    pub stored: StoredPasskey,
    pub result: AuthenticationResult,
    pub unit: IdentityWrite<'a>,
}

/// How a refused answer is audited.
#[derive(Debug, Clone, Copy)]
pub(super) enum Audit {
    /// A sign-in's (either step): `auth.passkey.login.failed`, about the passkey's owner
    /// when the passkey is known.
    SignIn,
    /// A step-up of this signed-in user: `auth.step_up.failed` about them, as a refused
    /// password or code is, with `failed: "passkey"`.
    StepUp(UserId),
}

/// The assertion JSON a browser returned, parsed.
pub(super) fn assertion(
    credential: serde_json::Value,
) -> Result<PublicKeyCredential, IdentityError> {
    record::credential(&credential, "authentication response").map_err(IdentityError::InvalidFields)
}

impl Identity {
    /// Checks `credential`, which must name a passkey of `owner`, with `verify` (the
    /// verifier's finish, given the stored passkey); refusals are audited as `audit` says.
    pub(super) async fn check_answer(
        &self,
        credential: &PublicKeyCredential,
        owner: Uuid,
        verify: impl FnOnce(&Passkey) -> Result<AuthenticationResult, WebauthnError>,
        audit: Audit,
        request: &RequestMeta,
    ) -> Result<Passed<'_>, IdentityError> {
        let mut unit = self.write().await?;
        let credential_id = credential_key(credential.get_credential_id());
        let stored = unit.passkey_by_credential_id(&credential_id).await?;
        let Some(stored) = stored.filter(|s| s.info.user_id.as_uuid() == owner) else {
            drop(unit);
            return Err(self.refuse(audit, None, UNKNOWN_PASSKEY, request).await);
        };
        // The owner's row before the passkey's, as a removal takes them: the other order
        // could deadlock against it on PostgreSQL.
        let owner = unit.lock_user(stored.info.user_id).await?;
        let mut passkey = parse(&stored.credential)?;
        let result = match verify(&passkey) {
            Ok(result) => result,
            Err(error) => {
                drop(unit);
                let reason = match error {
                    WebauthnError::CredentialPossibleCompromise => COUNTER_BEHIND,
                    WebauthnError::InvalidRPOrigin => "origin not allowed",
                    _ => "verification failed",
                };
                return Err(self.refuse(audit, Some(&stored), reason, request).await);
            }
        };
        passkey.update_credential(&result);
        let record = Record::of(&passkey)?;
        let used = PasskeyUse {
            id: stored.info.id,
            credential: record.json,
            sign_count: record.sign_count,
            backup_eligible: record.backup_eligible,
            backed_up: record.backed_up,
            used_at: Utc::now(),
        };
        if !unit.record_passkey_use(used).await? {
            // The passkey was read before the owner's lock, which a removal may have held
            // until it deleted the passkey: then the answer is refused as one coming just
            // after the removal is (an unknown passkey), not as a cloned authenticator's.
            let removed = unit
                .passkey_by_credential_id(&credential_id)
                .await?
                .is_none_or(|now| now.info.id != stored.info.id);
            drop(unit);
            let (passkey, reason) = if removed {
                (None, UNKNOWN_PASSKEY)
            } else {
                (Some(&stored), COUNTER_BEHIND)
            };
            return Err(self.refuse(audit, passkey, reason, request).await);
        }
        Ok(Passed {
            owner,
            stored,
            result,
            unit,
        })
    }

    /// Audits a refused answer as `audit` says and returns the refusal, or what kept it
    /// from being audited. No unit may be open.
    pub(super) async fn refuse(
        &self,
        audit: Audit,
        passkey: Option<&StoredPasskey>,
        reason: &str,
        request: &RequestMeta,
    ) -> IdentityError {
        let passkey_id = passkey.map(|p| p.info.id.to_string());
        let (event_type, subject, payload) = match audit {
            Audit::SignIn => (
                "auth.passkey.login.failed",
                passkey.map(|p| p.info.user_id.to_string()),
                serde_json::json!({"reason": reason, "passkey_id": passkey_id}),
            ),
            Audit::StepUp(user) => (
                "auth.step_up.failed",
                Some(user.to_string()),
                serde_json::json!({"failed": "passkey", "reason": reason, "passkey_id": passkey_id}),
            ),
        };
        let event = NewEvent {
            org_id: None,
            event_type: event_type.to_owned(),
            actor: subject.clone().map_or(Actor::System, Actor::User),
            target: subject.map(|id| Target {
                kind: "user".to_owned(),
                id,
            }),
            request: request.clone(),
            payload,
        };
        let audited = async {
            let unit = self.write().await?;
            unit.commit(Change::new(AuthStale::Nothing, event)).await
        };
        match audited.await {
            Ok(()) => IdentityError::PasskeyRefused,
            Err(error) => error.into(),
        }
    }
}

/// No passkey of the expected user has the answer's credential id (or no longer has).
const UNKNOWN_PASSKEY: &str = "unknown passkey";

/// A signature counter that did not increase: a cloned authenticator.
const COUNTER_BEHIND: &str = "signature counter did not increase";
