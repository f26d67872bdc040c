//! A signed-in user's passkeys: the registration ceremony, and listing, renaming and
//! removing them. Each change is audited, and a new passkey is announced by email.

use chrono::Utc;
use tenantbase_domain::id::PasskeyId;
use tenantbase_domain::model::{PasskeyInfo, RequestMeta, User};
use tenantbase_mail::MessageKind;
use tenantbase_store::StoreError;
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewPasskey};
use tenantbase_store::identity::sessions::OpenedBy;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::record::{self, Record, credential_key, parse, passkey_name};
use super::{Identity, IdentityError, ceremony};
use crate::identity::Principal;
use crate::identity::accounts::user_event;
use crate::identity::cache::AuthStale;
use crate::write::Change;

impl Identity {
    /// Starts adding a passkey to the caller's account: the creation options for
    /// `navigator.credentials.create()` (the JSON `webauthn-rs` makes, as browsers'
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` reads it).
    pub async fn start_passkey_registration(
        &self,
        principal: &Principal,
    ) -> Result<serde_json::Value, IdentityError> {
        let webauthn = self.webauthn()?;
        self.require_recent_auth(principal)?;
        let user = self.passkey_owner(principal).await?;
        let existing = self.store.passkeys(user.id).await?;
        let exclude = existing
            .iter()
            .map(|stored| parse(&stored.credential).map(|passkey| passkey.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let account_name = user.email.as_deref().unwrap_or(&user.display_name);
        let (options, state) = webauthn
            .start_passkey_registration(
                user.id.as_uuid(),
                account_name,
                &user.display_name,
                Some(exclude),
            )
            .map_err(|e| IdentityError::Internal(format!("passkey registration: {e}")))?;
        ceremony::open(
            self.store.as_ref(),
            CeremonyPurpose::Register,
            Some(user.id),
            // Only the session that started it (and passed its recent sign-in check) may
            // finish it: another session of the user, stale or stolen, cannot.
            Some(principal.session_id),
            None,
            &options.public_key.challenge,
            &state,
        )
        .await?;
        let mut options = serde_json::to_value(&options)
            .map_err(|e| IdentityError::Internal(format!("creation options: {e}")))?;
        // Sign-in names no account first, so the authenticator must keep the credential
        // (and the user handle) itself: a discoverable credential. The verifier does not
        // depend on it, so the options are amended on their way out.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".to_owned(), "required".into());
            selection.insert("requireResidentKey".to_owned(), true.into());
        }
        Ok(options)
    }

    /// Finishes the registration `credential` answers (the JSON of the
    /// `PublicKeyCredential` the browser created) and stores the passkey as `name`.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        name: &str,
        credential: serde_json::Value,
        request: &RequestMeta,
    ) -> Result<PasskeyInfo, IdentityError> {
        let webauthn = self.webauthn()?;
        let name = passkey_name(name);
        let credential =
            record::credential::<RegisterPublicKeyCredential>(&credential, "registration response");
        let (name, credential) = match (name, credential) {
            (Ok(name), Ok(credential)) => (name, credential),
            (name, credential) => {
                let problems = name.err().into_iter();
                let problems = problems.chain(credential.err().into_iter().flatten());
                return Err(IdentityError::InvalidFields(problems.collect()));
            }
        };
        let user = self.passkey_owner(principal).await?;
        let state: PasskeyRegistration = ceremony::take(
            self.store.as_ref(),
            CeremonyPurpose::Register,
            Some(user.id),
            Some(principal.session_id),
            None,
            &credential.response.client_data_json,
        )
        .await?
        .ok_or_else(|| {
            IdentityError::invalid(
                "credential",
                "answers no pending registration of this session: unknown, already \
                 answered, started elsewhere, or started more than 5 minutes ago"
                    .to_owned(),
            )
        })?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| IdentityError::invalid("credential", format!("was refused: {e}")))?;
        let record = Record::of(&passkey)?;
        let mut unit = self.write().await?;
        let info = unit
            .insert_passkey(NewPasskey {
                info: PasskeyInfo {
                    id: PasskeyId::new(),
                    user_id: user.id,
                    name,
                    backup_eligible: record.backup_eligible,
                    backed_up: record.backed_up,
                    created_at: Utc::now(),
                    last_used_at: None,
                },
                credential_id: credential_key(passkey.cred_id()),
                credential: record.json,
                sign_count: record.sign_count,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => IdentityError::PasskeyExists,
                other => other.into(),
            })?;
        if let Some(email) = &user.email {
            let message = MessageKind::PasskeyAdded {
                display_name: user.display_name.clone(),
                passkey_name: info.name.clone(),
                time: info.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            };
            self.links
                .mailer
                .queue(unit.as_mut(), email, &message)
                .await
                .map_err(|e| IdentityError::Internal(format!("queueing the email: {e}")))?;
        }
        let event = passkey_event(
            "auth.passkey.added",
            &user,
            &info,
            request,
            serde_json::json!({"backup_eligible": info.backup_eligible}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(info)
    }

    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, principal: &Principal) -> Result<Vec<PasskeyInfo>, IdentityError> {
        self.webauthn()?;
        let stored = self.store.passkeys(principal.user_id).await?;
        Ok(stored.into_iter().map(|stored| stored.info).collect())
    }

    /// Renames one of the caller's passkeys; another user's is `PasskeyNotFound`.
    pub async fn rename_passkey(
        &self,
        principal: &Principal,
        id: PasskeyId,
        name: &str,
        request: &RequestMeta,
    ) -> Result<PasskeyInfo, IdentityError> {
        self.webauthn()?;
        let name =
            passkey_name(name).map_err(|problem| IdentityError::InvalidFields(vec![problem]))?;
        let mut unit = self.write().await?;
        let info = unit
            .rename_passkey(principal.user_id, id, &name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => IdentityError::PasskeyNotFound,
                other => other.into(),
            })?;
        let user = unit.user(principal.user_id).await?;
        let event = passkey_event(
            "auth.passkey.renamed",
            &user,
            &info,
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(info)
    }

    /// Removes one of the caller's passkeys: it signs in no more, and the sessions it
    /// opened (alone or as a second step) end with it. Another user's is
    /// `PasskeyNotFound`.
    pub async fn remove_passkey(
        &self,
        principal: &Principal,
        id: PasskeyId,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.webauthn()?;
        self.require_recent_auth(principal)?;
        let mut unit = self.write().await?;
        // Under the user's row lock, so two removals cannot each leave the other's method.
        let user = unit.lock_user(principal.user_id).await?;
        if !unit.delete_passkey(principal.user_id, id).await? {
            return Err(IdentityError::PasskeyNotFound);
        }
        if self
            .sign_in_methods_left(unit.as_mut(), &user, None)
            .await?
            == 0
        {
            return Err(IdentityError::LastSignInMethod);
        }
        // A passkey is usually removed because its device is lost or no longer trusted:
        // what it signed in must not outlive it, as an unlinked identity's sessions do not.
        let revoked = unit
            .revoke_sessions_opened_by(
                user.id,
                OpenedBy::Passkey(id),
                "auth.passkey.removed",
                Utc::now(),
            )
            .await?;
        let payload = serde_json::json!({
            "passkey_id": id.to_string(),
            "revoked_sessions": revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        let event = user_event("auth.passkey.removed", &user, request, payload);
        let ended: Vec<_> = revoked
            .iter()
            .map(|session| {
                let payload = serde_json::json!({
                    "session_id": session.to_string(),
                    "reason": "passkey removed",
                });
                user_event("auth.session.revoked", &user, request, payload)
            })
            .collect();
        let change = Change::new(AuthStale::Sessions(revoked), event);
        unit.commit(ended.into_iter().fold(change, Change::and))
            .await?;
        Ok(())
    }

    /// The caller, who must have an account: a guest's passkey would outlive the guest's
    /// short-lived, unrecoverable account.
    async fn passkey_owner(&self, principal: &Principal) -> Result<User, IdentityError> {
        let user = self.store.user_by_id(principal.user_id).await?;
        if user.is_guest {
            return Err(IdentityError::GuestPasskey);
        }
        Ok(user)
    }
}

/// An event about `info`, a passkey of `user`: its id and name, and `extra`.
fn passkey_event(
    event_type: &str,
    user: &User,
    info: &PasskeyInfo,
    request: &RequestMeta,
    extra: serde_json::Value,
) -> tenantbase_store::platform::events::NewEvent {
    let mut payload = serde_json::json!({"passkey_id": info.id.to_string(), "name": info.name});
    if let (Some(payload), serde_json::Value::Object(extra)) = (payload.as_object_mut(), extra) {
        payload.extend(extra);
    }
    user_event(event_type, user, request, payload)
}
