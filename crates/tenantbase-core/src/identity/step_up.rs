//! Step-up: the changes that matter most (password, second factors, API keys, deleting
//! an org) need a recent proof of identity, not just a live session. `reauthenticate`
//! renews that proof in the session without opening a new one: the password and, when
//! the account has any second factor, one of them — or a user-verified passkey alone
//! (`passkeys::step_up`). Also the notice of a sign-in from a device the account has not
//! used before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::model::{RequestMeta, Session, User};

use super::accounts::{Identity, IdentityWrite, chrono_duration, user_event};
use super::cache::AuthStale;
use super::mfa::MfaMethod;
use super::tokens::Subject;
use super::{IdentityError, Principal};
use crate::write::Change;

/// How recent a sign-in the sensitive changes need, and whether new devices are announced.
#[derive(Debug, Clone, Copy)]
pub struct StepUpPolicy {
    /// The longest time since the session's user last authenticated (`auth_time`) that a
    /// sensitive change accepts.
    pub max_age: Duration,
    /// Email the user (and record an event) when an account is signed in to from a device
    /// none of its sessions came from.
    pub new_sign_in_alerts: bool,
}

impl Default for StepUpPolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(10 * 60),
            new_sign_in_alerts: true,
        }
    }
}

/// A second factor's code, shown to reauthenticate an account that has one.
#[derive(Debug, Clone, Copy)]
pub struct SecondFactor<'a> {
    pub method: MfaMethod,
    pub code: &'a str,
}

/// A fresh access token for the same session, carrying the renewed `auth_time`.
#[derive(Debug, Clone)]
pub struct Reauthenticated {
    pub access_token: String,
    pub expires_in: u64,
    pub auth_time: DateTime<Utc>,
}

impl Identity {
    /// Refuses a sensitive change unless the caller authenticated within the window.
    pub fn require_recent_auth(&self, principal: &Principal) -> Result<(), IdentityError> {
        if Utc::now() - principal.auth_time <= chrono_duration(self.step_up.max_age) {
            Ok(())
        } else {
            Err(IdentityError::ReauthenticationRequired)
        }
    }

    /// The caller proves again who they are with their password and, when the account
    /// has a second factor, a code of one (TOTP, an emailed code, or a backup code;
    /// throttled like sign-in); the session's `auth_time` becomes now. A passkey answers
    /// at `finish_passkey_step_up` instead, without the password.
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        password: &str,
        second: Option<SecondFactor<'_>>,
        request: &RequestMeta,
    ) -> Result<Reauthenticated, IdentityError> {
        if second.is_some_and(|f| f.method == MfaMethod::Passkey) {
            return Err(IdentityError::invalid(
                "method",
                "a passkey answers at /v1/auth/reauthenticate/passkey/start and /finish".to_owned(),
            ));
        }
        let user = self.store.user_by_id(principal.user_id).await?;
        let Some(phc) = user.password_hash.clone() else {
            return Err(self.no_password(&user).await?);
        };
        // Throttled on the account id: a stolen session must not allow password guessing.
        let account = user.id.to_string();
        let ip = request.ip.as_deref();
        self.throttle
            .start_attempt(ip, &account)
            .map_err(IdentityError::TooManyAttempts)?;
        if !self.hasher.verify(password, &phc).await?.matches {
            return Err(self.step_up_failed(&user, "password", request).await?);
        }
        let methods = self.second_factors_of(&user).await?;
        let mut method = "password";
        if !methods.is_empty() {
            let Some(second) = second.filter(|f| methods.contains(&f.method)) else {
                return Err(IdentityError::SecondFactorRequired(methods));
            };
            if !self
                .check_step_up_code(&user, second.method, second.code, request)
                .await?
            {
                return Err(self
                    .step_up_failed(&user, second.method.as_str(), request)
                    .await?);
            }
            method = second.method.as_str();
        }
        self.throttle.record_success(ip, &account);
        let unit = self.write().await?;
        let details = serde_json::json!({"method": method});
        self.renew_auth_time(unit, principal, details, request)
            .await
    }

    /// Makes the session of `principal` recently authenticated, in `unit` (which may hold
    /// what the proof changed, e.g. a passkey's counter), audited as
    /// `auth.step_up.succeeded` with `details` and the session; answers a new access token.
    pub(super) async fn renew_auth_time(
        &self,
        mut unit: IdentityWrite<'_>,
        principal: &Principal,
        mut details: serde_json::Value,
        request: &RequestMeta,
    ) -> Result<Reauthenticated, IdentityError> {
        let now = Utc::now();
        let user = unit.user(principal.user_id).await?;
        let session = unit.session(principal.session_id).await?;
        if !session.is_live(now) || session.user_id != user.id {
            return Err(IdentityError::InvalidAccessToken);
        }
        unit.mark_reauthenticated(session.id, now).await?;
        details["session_id"] = serde_json::json!(session.id.to_string());
        let event = user_event("auth.step_up.succeeded", &user, request, details);
        unit.commit(Change::new(AuthStale::Sessions(vec![session.id]), event))
            .await?;
        let session = Session {
            authenticated_at: now,
            ..session
        };
        let org = principal.org.map(|org| org.to_string());
        let (access_token, claims) = self.issue_for(&user, &session, org.as_deref(), None, now)?;
        Ok(Reauthenticated {
            access_token,
            expires_in: u64::try_from(claims.exp - claims.iat).unwrap_or(0),
            auth_time: now,
        })
    }

    /// The second factors a step-up of `user` by password takes: those its sign-in asks
    /// for (a passkey, an authenticator app's code, an emailed code; backup codes beside
    /// them). An active factor none of which can answer now (an emailed code to an
    /// address no longer verified) refuses the step-up rather than let the password alone
    /// pass.
    async fn second_factors_of(&self, user: &User) -> Result<Vec<MfaMethod>, IdentityError> {
        let factors = self.store.mfa_factors(user.id).await?;
        let backup_codes = self.store.backup_codes_left(user.id).await?;
        let passkeys = self.store.passkeys(user.id).await?.len() as u64;
        self.answerable_methods(user, &factors, backup_codes, passkeys)
    }

    /// Why an account without a password cannot step up with one, and what it can do:
    /// step up with a passkey, or sign in again with its provider (a new session is a
    /// recent sign-in).
    async fn no_password(&self, user: &User) -> Result<IdentityError, IdentityError> {
        let passkey = self.passkeys.is_some() && !self.store.passkeys(user.id).await?.is_empty();
        let mut providers: Vec<String> = self
            .store
            .identities_of(user.id)
            .await?
            .into_iter()
            .map(|identity| identity.provider)
            .collect();
        providers.sort();
        providers.dedup();
        Ok(IdentityError::NoPassword { passkey, providers })
    }

    /// Records a failed step-up and answers the error to return.
    async fn step_up_failed(
        &self,
        user: &User,
        what: &str,
        request: &RequestMeta,
    ) -> Result<IdentityError, IdentityError> {
        let unit = self.write().await?;
        let event = user_event(
            "auth.step_up.failed",
            user,
            request,
            serde_json::json!({"failed": what}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(if what == "password" {
            IdentityError::InvalidCredentials
        } else {
            IdentityError::InvalidMfaCode
        })
    }

    /// An access token for `session` of `user` (bound to `org` when given).
    pub(super) fn issue_for(
        &self,
        user: &User,
        session: &Session,
        org: Option<&str>,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<(String, super::tokens::AccessClaims), IdentityError> {
        let amr: Vec<&str> = session.amr.iter().map(String::as_str).collect();
        let subject = Subject {
            user: &user.id.to_string(),
            session: &session.id.to_string(),
            amr: &amr,
            auth_time: session.authenticated_at.timestamp(),
            org,
        };
        Ok(self.keyring().issue(&subject, ttl, now)?)
    }
}
