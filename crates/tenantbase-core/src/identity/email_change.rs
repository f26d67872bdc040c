//! Changing a full account's email address: asked for while signed in and recently
//! authenticated (step-up), done only once the new address proves to be the user's by
//! the link mailed to it, and told to the old address. The link's token is bound to the
//! new address (its stored hash covers both), so the address cannot be swapped on the way.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::email::Email;
use tenantbase_domain::model::{RequestMeta, User};
use tenantbase_mail::MessageKind;
use tenantbase_store::StoreError;

use super::accounts::{Identity, user_event};
use super::cache::AuthStale;
use super::recovery::{RESET_PASSWORD, VERIFY_EMAIL, one_time_token_hash};
use super::{IdentityError, Principal};
use crate::mail::deliverable;
use crate::write::Change;

pub(super) const CHANGE_EMAIL: &str = "change_email";
const CHANGE_TTL: Duration = Duration::from_secs(3600);

/// An email change waiting for its link to be followed.
#[derive(Debug, Clone)]
pub struct EmailChangePending {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

impl Identity {
    /// Mails a link to `email` that makes it the signed-in user's address
    /// (`confirm_email_change`); the session must have signed in recently. A newer
    /// request replaces an older one; each spends the account's mail budget.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        email: &str,
        request: &RequestMeta,
    ) -> Result<EmailChangePending, IdentityError> {
        self.require_recent_auth(principal)?;
        let email = parse_email(email)?;
        let user = self.store.user_by_id(principal.user_id).await?;
        if user.email.is_none() {
            return Err(IdentityError::NoEmail);
        }
        if user.email.as_deref() == Some(email.as_str()) {
            return Err(IdentityError::invalid(
                "email",
                "is already the account's address".to_owned(),
            ));
        }
        if self.store.user_by_email(email.as_str()).await?.is_some() {
            return Err(IdentityError::EmailTaken);
        }
        self.spend_mail_budget("change-email-mail", user.id)?;
        let mut unit = self.write().await?;
        let display_name = user.display_name.clone();
        let expires_in_minutes = (CHANGE_TTL.as_secs() / 60) as u32;
        let token = (CHANGE_EMAIL, CHANGE_TTL, Some(email.as_str()));
        let expires_at = self
            .mail_bound_token(unit.as_mut(), user.id, email.as_str(), token, |link| {
                MessageKind::ConfirmEmailChange {
                    display_name,
                    link,
                    expires_in_minutes,
                }
            })
            .await?;
        let payload = serde_json::json!({"email": email.as_str()});
        let event = user_event("auth.email.change_requested", &user, request, payload);
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(EmailChangePending {
            email: email.as_str().to_owned(),
            expires_at,
        })
    }

    /// Makes `email` — the address the link of `token` was mailed to — its user's,
    /// verified. The old address is told, and the links mailed to it before stop working:
    /// a verification would now verify the new address, and a password reset would let
    /// whoever reads the old mailbox in.
    pub async fn confirm_email_change(
        &self,
        token: &str,
        email: &str,
        request: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let email = parse_email(email)?;
        let now = Utc::now();
        let hash = one_time_token_hash(token, Some(email.as_str()));
        let mut unit = self.write().await?;
        let user_id = unit
            .consume_user_token(&hash, CHANGE_EMAIL, now)
            .await?
            .ok_or(IdentityError::InvalidOneTimeToken)?;
        let before = unit.lock_user(user_id).await?;
        let user = unit
            .change_email(user_id, email.as_str(), now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => IdentityError::EmailTaken,
                other => other.into(),
            })?;
        for purpose in [VERIFY_EMAIL, RESET_PASSWORD] {
            unit.end_user_tokens(user_id, purpose, now).await?;
        }
        if let Some(old) = before.email.as_deref() {
            let told = MessageKind::EmailChanged {
                display_name: user.display_name.clone(),
            };
            self.links
                .mailer
                .queue(unit.as_mut(), old, &told)
                .await
                .map_err(|e| IdentityError::Internal(format!("queueing email_changed: {e}")))?;
        }
        let payload = serde_json::json!({"from": before.email, "to": email.as_str()});
        let event = user_event("auth.email.changed", &user, request, payload);
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(user)
    }
}

/// An address that mail can be sent to, as registration takes it.
fn parse_email(email: &str) -> Result<Email, IdentityError> {
    deliverable(email).map_err(|message| IdentityError::invalid("email", message))
}
