//! Signing in with a provider: the start, the callback (which finds or creates the
//! account, or hands a linking flow's identity to `linking`), and the exchange of the
//! one-time login code, which ends like a password's first step: the account's own second
//! factor is still due (`mfa::finish_first_step`), and the session remembers the identity
//! it came through, so that unlinking the identity ends it.
//!
//! Which accounts a sign-in may reach: the account an identity is linked to; else a new
//! account, when the provider vouches for the email (`email_verified: true`) and no
//! account has it. An existing account is never linked automatically (409
//! `account_exists_link_required`), and an unverified email creates nothing (403
//! `email_not_verified`): whoever controls a provider account must not take over a
//! local one.
//!
//! An app may bind the login code to itself: it starts with the S256 `code_challenge` of
//! a verifier it keeps, and the exchange needs that verifier — so a login code planted in
//! another browser (login CSRF) or read from a log is of no use there. The binding is in
//! the stored hash (of the code with the challenge), so a wrong verifier finds nothing.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sha2::{Digest, Sha256};
use tenantbase_domain::id::{IdentityId, UserId};
use tenantbase_domain::model::{Actor, LinkedIdentity, RequestMeta, Target, User};
use tenantbase_store::StoreError;
use tenantbase_store::identity::oidc::OidcFlow;
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::platform::events::NewEvent;
use url::Url;

use super::flow::random_token;
use super::provider::VerifiedClaims;
use super::{Oidc, OidcError};
use crate::identity::accounts::{IdentityWrite, chrono_duration, hash_refresh_token, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::mfa::{FirstStep, SignIn};
use crate::identity::sign_in_methods::linked_user;
use crate::identity::{Device, IdentityError};
use crate::mail::deliverable;
use crate::tenancy::profiles::DISPLAY_NAME_MAX;
use crate::tenancy::required_text;
use crate::write::Change;

/// The purpose of login codes among the user's single-use tokens.
const LOGIN_CODE: &str = "oidc_login";
/// Long enough for the app to exchange it at once, too short to be worth stealing.
const LOGIN_CODE_TTL: Duration = Duration::from_secs(60);
/// Between the identity a login code names and its secret part. The stored hash covers
/// the whole code, so a code naming another identity finds nothing.
const LOGIN_CODE_SEPARATOR: char = '.';

/// What the provider's redirect to the callback carries.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set when the provider refused (e.g. the user declined).
    pub error: Option<String>,
}

impl Oidc {
    /// Starts a sign-in with `provider`, its login code bound to `app_challenge` when
    /// given; the URL to send the browser to.
    pub async fn start_sign_in(
        &self,
        provider: &str,
        redirect_uri: &str,
        app_challenge: Option<&str>,
    ) -> Result<Url, OidcError> {
        self.start_flow(provider, redirect_uri, None, app_challenge)
            .await
    }

    /// Finishes a flow at the callback: the app's redirect URI to send the browser back
    /// to, with `login_code` (a sign-in) or `link_code` (a link) in its query. Failures
    /// after the flow was found are audited as `auth.oidc.login.failed`.
    pub async fn finish(
        &self,
        provider: &str,
        callback: Callback,
        request: &RequestMeta,
    ) -> Result<Url, OidcError> {
        self.provider(provider)?;
        // A provider's refusal comes without a code.
        let code_missing = given(&callback.code).is_none() && callback.error.is_none();
        let taken = match given(&callback.state) {
            Some(state) => self.take_flow(provider, state).await?,
            None => None,
        };
        let Some((flow, secrets)) = taken else {
            return Err(unusable_state(callback.state.is_some(), code_missing));
        };
        let finished = async {
            if callback.error.is_some() {
                return Err(OidcError::ProviderDenied);
            }
            let code =
                given(&callback.code).ok_or_else(|| OidcError::invalid("code", "is missing"))?;
            let claims = self
                .provider(provider)?
                .exchange(&self.http, code, &secrets.verifier, &secrets.nonce)
                .await?;
            match flow.user_id {
                Some(user) => self.pend_link(&flow, user, claims).await,
                None => self.sign_in(&flow, &claims, request).await,
            }
        }
        .await;
        if let Err(error) = &finished {
            self.record_failure(&flow, error, request).await?;
        }
        finished
    }

    /// The account of a verified identity, found or created, and a login code for it.
    async fn sign_in(
        &self,
        flow: &OidcFlow,
        claims: &VerifiedClaims,
        request: &RequestMeta,
    ) -> Result<Url, OidcError> {
        match self.sign_in_once(flow, claims, request).await {
            // Two first sign-ins of one identity at once (two tabs, a double click): the
            // other created the account between our look-up and our insert, so its
            // address or the identity is taken now — by this identity's own account,
            // which a second look finds.
            Err(OidcError::AccountExistsLinkRequired | OidcError::IdentityLinkedElsewhere) => {
                self.sign_in_once(flow, claims, request).await
            }
            answer => answer,
        }
    }

    /// One attempt of `sign_in`, in one unit of work.
    async fn sign_in_once(
        &self,
        flow: &OidcFlow,
        claims: &VerifiedClaims,
        request: &RequestMeta,
    ) -> Result<Url, OidcError> {
        let now = Utc::now();
        let mut unit = self.identity.write().await?;
        let (user, identity, created) = match unit
            .identity_by_subject(&claims.issuer, &claims.subject)
            .await?
        {
            Some(identity) => {
                unit.touch_identity(identity.id, now).await?;
                (unit.user(identity.user_id).await?, identity, false)
            }
            None => {
                let (user, identity) = self.create_account(&mut unit, flow, claims).await?;
                (user, identity, true)
            }
        };
        let login_code = format!("{}{LOGIN_CODE_SEPARATOR}{}", identity.id, random_token()?);
        let expires_at = now + chrono_duration(LOGIN_CODE_TTL);
        let stored = login_code_hash(&login_code, flow.app_challenge.as_deref());
        unit.add_user_token(user.id, LOGIN_CODE, &stored, expires_at)
            .await?;
        let payload = serde_json::json!({
            "provider": flow.provider,
            "identity_id": identity.id.to_string(),
            "account_created": created,
        });
        let mut change = Change::new(
            AuthStale::Nothing,
            user_event("auth.oidc.login.succeeded", &user, request, payload),
        );
        if created {
            change = change.and(linked_event(&user, &identity, request));
        }
        unit.commit(change).await?;
        back_to(&flow.redirect_uri, "login_code", &login_code)
    }

    /// A new account for a new identity, when its email is verified and free.
    async fn create_account(
        &self,
        unit: &mut IdentityWrite<'_>,
        flow: &OidcFlow,
        claims: &VerifiedClaims,
    ) -> Result<(User, LinkedIdentity), OidcError> {
        // Held to sign-up's rule: the account's mail (a new sign-in's alert) is queued in
        // the sign-in's unit, and an address the mailer refuses would fail it.
        let email = claims
            .email
            .as_deref()
            .filter(|_| claims.email_verified)
            .and_then(|email| deliverable(email).ok())
            .ok_or(OidcError::EmailNotVerified)?;
        // The provider's name is the user's to type there: cut to length, as refusing the
        // sign-in for it would help no one, but one a profile would refuse (control or
        // invisible characters, NUL) gives way to the local part.
        let display_name = claims
            .name
            .as_deref()
            .map(|name| {
                name.trim()
                    .chars()
                    .take(DISPLAY_NAME_MAX)
                    .collect::<String>()
            })
            .and_then(|name| required_text("display_name", &name, DISPLAY_NAME_MAX).ok())
            .unwrap_or_else(|| email.local_part().to_owned());
        let user = unit
            .create_user(NewUser {
                id: UserId::new(),
                email: Some(email.as_str().to_owned()),
                display_name,
                password_hash: None,
                is_guest: false,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => OidcError::AccountExistsLinkRequired,
                other => other.into(),
            })?;
        let now = Utc::now();
        unit.mark_email_verified(user.id, now).await?;
        let identity = LinkedIdentity {
            id: IdentityId::new(),
            user_id: user.id,
            provider: flow.provider.clone(),
            issuer: claims.issuer.clone(),
            subject: claims.subject.clone(),
            email: claims.email.clone(),
            created_at: now,
            last_used_at: Some(now),
        };
        insert_identity(unit, &identity).await?;
        Ok((user, identity))
    }

    /// Audits a flow that failed after it was found.
    async fn record_failure(
        &self,
        flow: &OidcFlow,
        error: &OidcError,
        request: &RequestMeta,
    ) -> Result<(), OidcError> {
        let unit = self.identity.write().await?;
        let event = NewEvent {
            org_id: None,
            event_type: "auth.oidc.login.failed".to_owned(),
            actor: flow
                .user_id
                .map_or(Actor::System, |user| Actor::User(user.to_string())),
            target: flow.user_id.map(|user| Target {
                kind: "user".to_owned(),
                id: user.to_string(),
            }),
            request: request.clone(),
            payload: serde_json::json!({
                "provider": flow.provider,
                "reason": error.code(),
                "linking": flow.user_id.is_some(),
            }),
        };
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Ends the sign-in a login code stands for like a password's first step (first
    /// factor `fed`): a session (amr `fed`), or, when the account has an active second
    /// factor and `device_token` does not show the device trusted, a challenge for the
    /// second step. The code is used up either way. A code bound to an app challenge
    /// needs its `code_verifier`; a code whose identity was unlinked since is refused.
    pub async fn exchange_login_code(
        &self,
        login_code: &str,
        code_verifier: Option<&str>,
        device: &Device,
        device_token: Option<&str>,
        request: &RequestMeta,
    ) -> Result<SignIn, OidcError> {
        let identity: IdentityId = login_code
            .split_once(LOGIN_CODE_SEPARATOR)
            .and_then(|(identity, _)| identity.parse().ok())
            .ok_or(OidcError::InvalidLoginCode)?;
        // Computed here rather than by oauth2's helper, which panics on a verifier of a
        // length RFC 7636 does not allow: any string the client sends is just a mismatch.
        let challenge =
            code_verifier.map(|verifier| URL_SAFE_NO_PAD.encode(Sha256::digest(verifier)));
        let stored = login_code_hash(login_code, challenge.as_deref());
        let mut unit = self.identity.write().await?;
        let user = unit
            .consume_user_token(&stored, LOGIN_CODE, Utc::now())
            .await?
            .ok_or(OidcError::InvalidLoginCode)?;
        let user = linked_user(unit.as_mut(), user, identity)
            .await?
            .ok_or(OidcError::InvalidLoginCode)?;
        let payload = serde_json::json!({"identity_id": identity.to_string()});
        let step = FirstStep {
            event: user_event("auth.oidc.session.opened", &user, request, payload),
            user,
            factor: "fed",
            identity: Some(identity),
        };
        Ok(self
            .identity
            .finish_first_step(unit, step, device, device_token, request)
            .await?)
    }
}

/// A callback parameter's value, when one was given.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

/// The refusal of a callback whose state finds no flow: named with the code when that is
/// missing too, so that one answer lists both.
fn unusable_state(state_given: bool, code_missing: bool) -> OidcError {
    if !code_missing {
        return OidcError::InvalidState;
    }
    let state = if state_given {
        "is unknown, used or expired"
    } else {
        "is missing"
    };
    OidcError::Invalid(vec![
        ("state", state.to_owned()),
        ("code", "is missing".to_owned()),
    ])
}

/// What the database keeps of a login code: its hash with the app's challenge.
fn login_code_hash(login_code: &str, app_challenge: Option<&str>) -> String {
    hash_refresh_token(&format!(
        "{login_code}.{}",
        app_challenge.unwrap_or_default()
    ))
}

/// Links the identity; `IdentityLinkedElsewhere` if (issuer, subject) is taken.
pub(super) async fn insert_identity(
    unit: &mut IdentityWrite<'_>,
    identity: &LinkedIdentity,
) -> Result<(), OidcError> {
    unit.insert_identity(identity).await.map_err(|e| match e {
        // A concurrent flow linked the same identity first.
        StoreError::Conflict { .. } => OidcError::IdentityLinkedElsewhere,
        other => other.into(),
    })
}

/// `auth.identity.linked` about `user`.
pub(super) fn linked_event(
    user: &User,
    identity: &LinkedIdentity,
    request: &RequestMeta,
) -> NewEvent {
    let payload = serde_json::json!({
        "provider": identity.provider,
        "identity_id": identity.id.to_string(),
    });
    user_event("auth.identity.linked", user, request, payload)
}

/// The app's `redirect_uri` (a configured one, checked at start-up) with `name=value`
/// added to its query.
pub(super) fn back_to(redirect_uri: &str, name: &str, value: &str) -> Result<Url, OidcError> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|e| IdentityError::Internal(format!("stored redirect URI: {e}")))?;
    url.query_pairs_mut().append_pair(name, value);
    Ok(url)
}
