//! Email verification and password recovery: single-use tokens mailed to the user
//! (stored hashed, short-lived, replaced by any newer one), and password changes that end
//! the user's other sessions. Guest upgrades live here too: they add the email and the
//! password a guest lacked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::email::Email;
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_domain::model::RequestMeta;
use tenantbase_domain::model::User;
use tenantbase_domain::password::{Password, PasswordError};
use tenantbase_mail::MessageKind;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{StoreError, UnitOfWork};

use super::accounts::{
    Identity, IdentityWrite, chrono_duration, hash_refresh_token, new_refresh_token, user_event,
};
use super::cache::AuthStale;
use super::email_change::CHANGE_EMAIL;
use super::{IdentityError, Principal};
use crate::tenancy::FieldProblem;
use crate::write::Change;

pub(super) const VERIFY_EMAIL: &str = "verify_email";
pub(super) const RESET_PASSWORD: &str = "reset_password";
const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
const RESET_TTL: Duration = Duration::from_secs(30 * 60);

impl Identity {
    /// Issues a verification token for `user` and queues the email, in `unit`.
    pub(super) async fn queue_verification(
        &self,
        unit: &mut dyn UnitOfWork,
        user: &User,
    ) -> Result<(), IdentityError> {
        let Some(email) = &user.email else {
            return Ok(());
        };
        let display_name = user.display_name.clone();
        self.mail_token(unit, user.id, email, VERIFY_EMAIL, VERIFY_TTL, |link| {
            MessageKind::VerifyEmail { display_name, link }
        })
        .await
    }

    /// Issues a single-use token of `purpose` for `user` (replacing older ones) and queues
    /// the email that `message` builds around its link: the app page named like the
    /// purpose (`verify_email` → `{app_url}/verify-email?token=…`).
    async fn mail_token(
        &self,
        unit: &mut dyn UnitOfWork,
        user: UserId,
        to: &str,
        purpose: &str,
        ttl: Duration,
        message: impl FnOnce(String) -> MessageKind,
    ) -> Result<(), IdentityError> {
        let token = (purpose, ttl, None);
        self.mail_bound_token(unit, user, to, token, message)
            .await
            .map(drop)
    }

    /// `mail_token`, for a token of `(purpose, ttl, bound_to)`: with `bound_to`, the token
    /// works only beside that text (`one_time_token_hash`), which the link carries as
    /// `email`. Returns when the token expires.
    pub(super) async fn mail_bound_token(
        &self,
        unit: &mut dyn UnitOfWork,
        user: UserId,
        to: &str,
        (purpose, ttl, bound_to): (&str, Duration, Option<&str>),
        message: impl FnOnce(String) -> MessageKind,
    ) -> Result<DateTime<Utc>, IdentityError> {
        let token = new_refresh_token()?;
        let expires_at = Utc::now() + chrono_duration(ttl);
        let hash = one_time_token_hash(&token, bound_to);
        unit.issue_user_token(user, purpose, &hash, expires_at)
            .await?;
        let page = purpose.replace('_', "-");
        let mut link = format!("{}/{page}?token={token}", self.links.app_url);
        if let Some(text) = bound_to {
            link.push_str("&email=");
            link.extend(url::form_urlencoded::byte_serialize(text.as_bytes()));
        }
        self.links
            .mailer
            .queue(unit, to, &message(link))
            .await
            .map_err(|e| IdentityError::Internal(format!("queueing the {purpose} email: {e}")))?;
        Ok(expires_at)
    }

    /// Marks the email of the token's user verified.
    pub async fn verify_email(
        &self,
        token: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let now = Utc::now();
        let mut unit = self.write().await?;
        let user_id = unit
            .consume_user_token(&hash_refresh_token(token), VERIFY_EMAIL, now)
            .await?
            .ok_or(IdentityError::InvalidOneTimeToken)?;
        unit.mark_email_verified(user_id, now).await?;
        let user = unit.user(user_id).await?;
        let event = user_event("auth.email.verified", &user, request, serde_json::json!({}));
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Sends a fresh verification email; the previous link stops working.
    pub async fn resend_verification(&self, principal: &Principal) -> Result<(), IdentityError> {
        let mut unit = self.store.begin().await?;
        let user = unit.user(principal.user_id).await?;
        if user.email.is_none() {
            return Err(IdentityError::NoEmail);
        }
        if user.email_verified {
            return Err(IdentityError::NothingToVerify);
        }
        self.spend_mail_budget("verify-mail", user.id)?;
        self.queue_verification(unit.as_mut(), &user).await?;
        unit.commit().await?;
        Ok(())
    }

    /// Emails a reset link if `email` belongs to an account with a password, within the
    /// account's mail budget: anyone may ask for any address, so past it the request is
    /// only audited (`mailed: false`). The caller answers the same whatever happens here,
    /// so it runs apart from the request.
    pub async fn forgot_password(
        &self,
        email: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = self.store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if user.password_hash.is_none() {
            return Ok(());
        }
        let mut unit = self.write().await?;
        let mailed = self.spend_mail_budget("reset-mail", user.id).is_ok();
        if mailed {
            let display_name = user.display_name.clone();
            let expires_in_minutes = (RESET_TTL.as_secs() / 60) as u32;
            self.mail_token(
                unit.as_mut(),
                user.id,
                email.as_str(),
                RESET_PASSWORD,
                RESET_TTL,
                |link| MessageKind::ResetPassword {
                    display_name,
                    link,
                    expires_in_minutes,
                },
            )
            .await?;
        }
        let event = user_event(
            "auth.password.reset_requested",
            &user,
            request,
            serde_json::json!({"mailed": mailed}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Sets a new password from a reset token and ends every session of the user.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let token_hash = hash_refresh_token(token);
        // Check the password and hash it before the unit of work starts: argon2 takes tens
        // of milliseconds, too long to hold a transaction (SQLite's single writer) open.
        let owner = self
            .store
            .user_token_owner(&token_hash, RESET_PASSWORD, Utc::now())
            .await?;
        // The rules that need no account apply whatever the token: one 422 names both.
        let owner = match (owner, Password::new(new_password, None, &self.passwords)) {
            (Some(owner), Ok(_)) => owner,
            (Some(_), Err(weak)) => return Err(weak_password(weak)),
            (None, Ok(_)) => return Err(IdentityError::InvalidOneTimeToken),
            (None, Err(weak)) => {
                return Err(IdentityError::InvalidFields(vec![
                    IdentityError::one_time_token_problem(),
                    FieldProblem::new("new_password", weak.to_string()),
                ]));
            }
        };
        let user = self.store.user_by_id(owner).await?;
        let password = self.new_password(&user, new_password)?;
        let hash = self.hasher.hash(&password).await?;
        let mut unit = self.write().await?;
        // Consuming it is what counts: a concurrent reset with the same token loses here.
        let consumed = unit
            .consume_user_token(&token_hash, RESET_PASSWORD, Utc::now())
            .await?;
        if consumed != Some(owner) {
            return Err(IdentityError::InvalidOneTimeToken);
        }
        let claimed = if user.email_verified {
            None
        } else {
            Some(
                self.claim_unverified_account(&mut unit, &user, request)
                    .await?,
            )
        };
        let reset = (user, claimed);
        self.replace_password(unit, reset, &hash, None, "auth.password.reset", request)
            .await
    }

    /// A reset proves the email of an account that never had: whoever registered it may
    /// not own the address and may have added a passkey, a linked identity or a second
    /// factor of their own to come back through after the owner resets (account
    /// pre-hijacking). Those go, in the reset's unit, and the email counts as verified:
    /// the event to record it.
    async fn claim_unverified_account(
        &self,
        unit: &mut IdentityWrite<'_>,
        user: &User,
        request: &RequestMeta,
    ) -> Result<NewEvent, IdentityError> {
        let now = Utc::now();
        // Pending sign-ins end before anything else, in the order a second step takes its
        // rows (the challenge, then the factor): on PostgreSQL a second step half way
        // through holds its challenge and wants the factor this removes, so taking the
        // factor first deadlocked.
        let sign_ins_ended = unit.delete_mfa_challenges(user.id, now).await?;
        // Then the UPDATE: on PostgreSQL it waits for whatever holds the user's row lock
        // (a passkey or an identity being added), whose rows the DELETEs then see.
        unit.mark_email_verified(user.id, now).await?;
        let removed = unit.remove_sign_in_methods_but_password(user.id).await?;
        let payload = serde_json::json!({
            "sign_in_methods_removed": removed,
            "pending_sign_ins_ended": sign_ins_ended,
        });
        Ok(user_event(
            "auth.email.verified_by_reset",
            user,
            request,
            payload,
        ))
    }

    /// Changes the password after checking the current one; ends the user's other sessions.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new_password: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.require_recent_auth(principal)?;
        let user = self.store.user_by_id(principal.user_id).await?;
        let Some(phc) = &user.password_hash else {
            return Err(IdentityError::invalid(
                "current_password",
                "this account has no password".to_owned(),
            ));
        };
        // Guessing the current password from a stolen session is a sign-in attempt too:
        // the same limits apply, and failures are audited.
        let account = user.email.clone().unwrap_or_else(|| user.id.to_string());
        let ip = request.ip.as_deref();
        self.throttle
            .start_attempt(ip, &account)
            .map_err(IdentityError::TooManyAttempts)?;
        // Checked first, so that a wrong current password and a weak new one are named
        // in one 422.
        let password = Password::new(new_password, user.email.as_deref(), &self.passwords);
        if !self.hasher.verify(current, phc).await?.matches {
            let unit = self.write().await?;
            let event = user_event(
                "auth.password.change_failed",
                &user,
                request,
                serde_json::json!({}),
            );
            unit.commit(Change::new(AuthStale::Nothing, event)).await?;
            let wrong = FieldProblem::new("current_password", "is not correct");
            return Err(match password {
                Ok(_) => IdentityError::InvalidFields(vec![wrong]),
                Err(weak) => IdentityError::InvalidFields(vec![
                    wrong,
                    FieldProblem::new("new_password", weak.to_string()),
                ]),
            });
        }
        self.throttle.record_success(ip, &account);
        let password = password.map_err(weak_password)?;
        let hash = self.hasher.hash(&password).await?;
        let unit = self.write().await?;
        let keep = Some(principal.session_id);
        let change = (user, None);
        self.replace_password(unit, change, &hash, keep, "auth.password.changed", request)
            .await
    }

    /// Stores the new hash of `user`, ends their sessions but `keep` and their second
    /// steps under way, audits it as `event_type` (after `prior`, what the same unit did
    /// first), and commits.
    async fn replace_password(
        &self,
        mut unit: IdentityWrite<'_>,
        (user, prior): (User, Option<NewEvent>),
        hash: &str,
        keep: Option<SessionId>,
        event_type: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let now = Utc::now();
        // Sign-ins half way through (an `mfa_token` the old password earned) end with it.
        // Before the UPDATE, so on PostgreSQL a second step racing this waits for it and
        // finds none, or commits first and has its session revoked below; and again after
        // it, for a first step that held the user's row lock (which the UPDATE waited for)
        // and made its challenge under the old password.
        let mut sign_ins_ended = unit.delete_mfa_challenges(user.id, now).await?;
        unit.set_password_hash(user.id, hash, now).await?;
        sign_ins_ended += unit.delete_mfa_challenges(user.id, now).await?;
        unit.revoke_user_sessions(user.id, keep, event_type, now)
            .await?;
        // A device trusted under the old password would skip the second factor for
        // whoever learned it: trust ends with the password.
        let untrusted = unit.delete_trusted_devices(user.id).await?;
        // So would an email change asked for under it: whoever asked must ask again.
        unit.end_user_tokens(user.id, CHANGE_EMAIL, now).await?;
        let payload = serde_json::json!({
            "trusted_devices_revoked": untrusted,
            "pending_sign_ins_ended": sign_ins_ended,
        });
        let event = user_event(event_type, &user, request, payload);
        let change = prior.into_iter().fold(
            Change::new(AuthStale::UserSessions(user.id), event),
            Change::and,
        );
        unit.commit(change).await?;
        Ok(())
    }

    /// Turns the signed-in guest into a full account with the same id (and data).
    pub async fn upgrade_guest(
        &self,
        principal: &Principal,
        email: &str,
        password: &str,
        request: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let (email, password) =
            super::credentials::new_credentials(email, password, &self.passwords)?;
        let hash = self.hasher.hash(&password).await?;
        let mut unit = self.write().await?;
        let user = unit
            .upgrade_guest(principal.user_id, email.as_str(), &hash, Utc::now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => IdentityError::EmailTaken,
                StoreError::NotFound => IdentityError::NotAGuest,
                other => other.into(),
            })?;
        let event = user_event(
            "auth.guest.upgraded",
            &user,
            request,
            serde_json::json!({"email": email.as_str()}),
        );
        self.queue_verification(unit.as_mut(), &user).await?;
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(user)
    }

    fn new_password(&self, user: &User, raw: &str) -> Result<Password, IdentityError> {
        Password::new(raw, user.email.as_deref(), &self.passwords).map_err(weak_password)
    }
}

/// What a mailed token is stored as: its hash, over the text it is bound to as well when
/// it has one, so that the token is worth nothing beside any other.
pub(super) fn one_time_token_hash(token: &str, bound_to: Option<&str>) -> String {
    match bound_to {
        None => hash_refresh_token(token),
        Some(text) => hash_refresh_token(&format!("{token}\n{text}")),
    }
}

fn weak_password(refused: PasswordError) -> IdentityError {
    IdentityError::invalid("new_password", refused.to_string())
}
