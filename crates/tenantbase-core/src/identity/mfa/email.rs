//! Emailed codes as a second factor: an account opts in (with a verified address), or,
//! when `auth.mfa.email_fallback` allows it, an account with TOTP may ask for one — for
//! the second step of a sign-in or for a step-up. A code is 6 digits, lives 10 minutes,
//! is used once, and only its keyed hash is stored; the email carrying it is sealed in
//! the mail queue like every message. A sign-in and a step-up each have their own
//! outstanding code: sending one leaves the other's working.

use std::time::Duration;

use chrono::Utc;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{MfaKind, RequestMeta};
use tenantbase_mail::MessageKind;
use tenantbase_store::identity::mfa::EmailCodePurpose;

use super::codes::new_email_code;
use super::{MfaMethod, check_device};
use crate::identity::accounts::{Device, Identity, IdentityWrite, chrono_duration, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::{IdentityError, Principal};
use crate::write::Change;

const EMAIL_CODE_TTL: Duration = Duration::from_secs(10 * 60);

impl Identity {
    /// Emails a sign-in code to the user of `mfa_token`, replacing any earlier sign-in
    /// code (a step-up's stays).
    pub async fn send_mfa_email_code(
        &self,
        mfa_token: &str,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let challenge = self.peek_challenge(mfa_token).await?;
        check_device(&challenge, device)?;
        let unit = self.write().await?;
        self.email_code(unit, challenge.user_id, false, request)
            .await
    }

    /// Emails the signed-in caller a code to step up with (`reauthenticate` with method
    /// `email_code`), replacing any earlier step-up code (a sign-in's stays).
    pub async fn send_step_up_email_code(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let unit = self.write().await?;
        self.email_code(unit, principal.user_id, true, request)
            .await
    }

    /// Emails `user_id` a new code, for a sign-in or a `step_up`, when the account takes
    /// emailed codes. Sends count per account: past the sign-in threshold they are delayed
    /// like failed attempts, so the address cannot be flooded. Step-up sends have a budget
    /// of their own: a stolen session must not use up the sign-in's, which the owner needs
    /// to sign in and end that session.
    async fn email_code(
        &self,
        mut unit: IdentityWrite<'_>,
        user_id: UserId,
        step_up: bool,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let user = unit.user(user_id).await?;
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        let backup_codes = unit.unused_backup_codes(user.id).await?.len() as u64;
        let passkeys = unit.passkey_count(user.id).await?;
        let methods = self.methods_for(&user, &factors, backup_codes, passkeys);
        let (true, Some(email)) = (methods.contains(&MfaMethod::EmailCode), &user.email) else {
            return Err(IdentityError::MfaUnavailable(
                "this account does not receive sign-in codes by email".to_owned(),
            ));
        };
        let budget = if step_up {
            "mfa-email-step-up"
        } else {
            "mfa-email"
        };
        self.spend_mail_budget(budget, user.id)?;
        let code = new_email_code()?;
        let expires_at = Utc::now() + chrono_duration(EMAIL_CODE_TTL);
        unit.put_email_code(
            user.id,
            email_code_purpose(step_up),
            &self.email_code_hash(user.id, &code, step_up),
            expires_at,
        )
        .await?;
        let message = MessageKind::MfaCode {
            display_name: user.display_name.clone(),
            code,
            expires_in_minutes: (EMAIL_CODE_TTL.as_secs() / 60) as u32,
            step_up,
        };
        self.links
            .mailer
            .queue(unit.as_mut(), email, &message)
            .await
            .map_err(|e| IdentityError::Internal(format!("queueing the mfa_code email: {e}")))?;
        let event_type = if step_up {
            "auth.step_up.email_code.sent"
        } else {
            "auth.mfa.email_code.sent"
        };
        let event = user_event(event_type, &user, request, serde_json::json!({}));
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Opts the caller in to sign-in codes by email (their address must be verified, and
    /// an authenticator app, if they have one, must allow a fallback:
    /// `auth.mfa.email_fallback`). Already opted in: nothing changes.
    pub async fn enable_email_factor(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.require_recent_auth(principal)?;
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        if user.is_guest || user.email.is_none() || !user.email_verified {
            return Err(IdentityError::MfaUnavailable(
                "verify the account's email address before using it as a second factor".to_owned(),
            ));
        }
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        let has_totp = factors
            .iter()
            .any(|f| f.kind == MfaKind::Totp && f.is_active());
        if has_totp && !self.mfa.email_fallback {
            return Err(IdentityError::MfaUnavailable(
                "this server does not send sign-in codes by email to accounts with an \
                 authenticator app"
                    .to_owned(),
            ));
        }
        if !unit
            .add_mfa_factor(user.id, MfaKind::Email, Utc::now())
            .await?
        {
            return Ok(());
        }
        let event = user_event(
            "auth.mfa.email.enabled",
            &user,
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Opts the caller out of sign-in codes by email.
    pub async fn disable_email_factor(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.require_recent_auth(principal)?;
        self.remove_factor(
            principal,
            MfaKind::Email,
            "auth.mfa.email.disabled",
            request,
        )
        .await
    }

    /// The stored form of an emailed code, bound to what it was sent for: a step-up's
    /// code cannot finish a sign-in, nor a sign-in's a step-up, whichever row it is
    /// looked for in. (A sign-in's keeps the plain form, so codes pending at an upgrade
    /// still work.)
    pub(super) fn email_code_hash(&self, user: UserId, code: &str, step_up: bool) -> String {
        if step_up {
            self.mfa.keys.code_hash(user, &format!("step_up:{code}"))
        } else {
            self.mfa.keys.code_hash(user, code)
        }
    }
}

/// The store's slot for a code sent for a sign-in or for a `step_up`: one each per account.
pub(super) fn email_code_purpose(step_up: bool) -> EmailCodePurpose {
    if step_up {
        EmailCodePurpose::StepUp
    } else {
        EmailCodePurpose::SignIn
    }
}
