//! Signing in with a discoverable passkey: the client asks for a challenge naming no
//! account, the authenticator picks the credential and returns the user handle it keeps,
//! and the answer opens a session whose `amr` says what the passkey proved.

use chrono::Utc;
use tenantbase_domain::model::{Actor, RequestMeta, Target};
use tenantbase_store::identity::passkeys::{CeremonyPurpose, PasskeyUse, StoredPasskey};
use tenantbase_store::platform::events::NewEvent;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential, WebauthnError};

use super::record::{Record, amr, credential_key, parse};
use super::{Identity, IdentityError, ceremony};
use crate::identity::TokenPair;
use crate::identity::accounts::{Device, Grant, user_event};
use crate::identity::cache::AuthStale;
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
        let credential: PublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
            IdentityError::invalid(
                "credential",
                format!("is not a WebAuthn authentication response: {e}"),
            )
        })?;
        let state: Option<DiscoverableAuthentication> = ceremony::take(
            self.store.as_ref(),
            CeremonyPurpose::SignIn,
            None,
            &credential.response.client_data_json,
        )
        .await?;
        let Some(state) = state else {
            return Err(self.refuse(None, "no pending challenge", request).await);
        };
        let Ok((user_handle, credential_id)) =
            webauthn.identify_discoverable_authentication(&credential)
        else {
            return Err(self.refuse(None, "no user handle", request).await);
        };
        let mut unit = self.write().await?;
        let stored = unit
            .passkey_by_credential_id(&credential_key(credential_id))
            .await?;
        let Some(stored) = stored.filter(|s| s.info.user_id.as_uuid() == user_handle) else {
            drop(unit);
            return Err(self.refuse(None, "unknown passkey", request).await);
        };
        let mut passkey = parse(&stored.credential)?;
        let result =
            match webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey) {
                Ok(result) => result,
                Err(error) => {
                    drop(unit);
                    let reason = match error {
                        WebauthnError::CredentialPossibleCompromise => {
                            "signature counter did not increase"
                        }
                        WebauthnError::InvalidRPOrigin => "origin not allowed",
                        _ => "verification failed",
                    };
                    return Err(self.refuse(Some(&stored), reason, request).await);
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
            drop(unit);
            let reason = "signature counter did not increase";
            return Err(self.refuse(Some(&stored), reason, request).await);
        }
        let user = unit.lock_user(stored.info.user_id).await?;
        let amr = amr(&result);
        let payload = serde_json::json!({"passkey_id": stored.info.id.to_string(), "amr": amr});
        let event = user_event("auth.passkey.login.succeeded", &user, request, payload);
        let grant = Grant {
            amr,
            access_ttl: None,
        };
        self.open_session_as(unit, event, user, device, request, grant)
            .await
    }

    /// Audits a refused passkey sign-in (about the passkey's owner when the passkey is
    /// known) and returns the refusal, or what kept it from being audited.
    async fn refuse(
        &self,
        passkey: Option<&StoredPasskey>,
        reason: &str,
        request: &RequestMeta,
    ) -> IdentityError {
        let owner = passkey.map(|p| p.info.user_id.to_string());
        let event = NewEvent {
            org_id: None,
            event_type: "auth.passkey.login.failed".to_owned(),
            actor: owner.clone().map_or(Actor::System, Actor::User),
            target: owner.map(|id| Target {
                kind: "user".to_owned(),
                id,
            }),
            request: request.clone(),
            payload: serde_json::json!({
                "reason": reason,
                "passkey_id": passkey.map(|p| p.info.id.to_string()),
            }),
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
