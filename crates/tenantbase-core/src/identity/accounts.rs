//! Sign-up, sign-in and guest sessions: each verifies what it must, opens a session with
//! a rotating refresh token, and issues an access token — the change and its audit event
//! in one unit of work.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use tenantbase_domain::email::Email;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::User;
use tenantbase_domain::model::{Actor, RequestMeta, Target};
use tenantbase_domain::password::{Password, PasswordPolicy};
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{Store, StoreError, UnitOfWork};

use super::cache::{AuthCache, AuthStale};
use super::credentials::{NewAccount, new_account};
use super::mfa::{FirstStep, MfaPolicy, SignIn};
use super::password_hash::PasswordHasher;
use super::step_up::StepUpPolicy;
use super::throttle::{Throttle, ThrottlePolicy};
use super::tokens::Keyring;
use super::{IdentityError, TokenPair};
use crate::write::{Change, Write};

/// A unit of work that commits only with a `Change` (see `crate::write`).
pub(super) type IdentityWrite<'c> = Write<Box<dyn UnitOfWork>, &'c AuthCache>;

/// Lifetimes of sessions and tokens.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends (each refresh slides it).
    pub idle: Duration,
    /// No session outlives this, however active.
    pub absolute: Duration,
    /// A refresh token presented again within this window of its first use is a lost
    /// race between a client's own concurrent refreshes (refused, session kept); later,
    /// it is a replay, and the whole session is revoked.
    pub refresh_grace: Duration,
    /// Access-token lifetime of guests.
    pub guest_access_ttl: Duration,
    /// Live sessions a user may have; signing in beyond it ends the oldest.
    pub max_per_user: usize,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(14 * 86_400),
            absolute: Duration::from_secs(30 * 86_400),
            refresh_grace: Duration::from_secs(10),
            guest_access_ttl: Duration::from_secs(3600),
            max_per_user: 10,
        }
    }
}

/// Where emailed links point, and how emails are rendered and queued.
#[derive(Debug, Clone)]
pub struct Links {
    /// Base URL of the app that handles `/verify-email?token=…` and `/reset-password?token=…`.
    pub app_url: String,
    pub mailer: crate::mail::Mailer,
}

/// The client's device, as it describes itself on sign-in.
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// A stable id the client sends with every refresh; refresh tokens are bound to it.
    pub id: Option<String>,
    pub label: Option<String>,
}

/// The identity use cases.
pub struct Identity {
    pub(super) store: Arc<dyn Store>,
    pub(super) hasher: PasswordHasher,
    /// Swapped whole when keys are rotated (`replace_keyring`); readers clone the `Arc`.
    keyring: RwLock<Arc<Keyring>>,
    pub(super) passwords: PasswordPolicy,
    pub(super) sessions: SessionPolicy,
    pub(super) links: Links,
    pub(super) throttle: Throttle,
    pub(super) step_up: StepUpPolicy,
    pub(super) cache: AuthCache,
    /// Set when passkeys are offered (`with_passkeys`).
    pub(super) passkeys: Option<super::passkeys::RelyingParty>,
    pub(super) mfa: MfaPolicy,
}

/// The rules an `Identity` applies.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    pub passwords: PasswordPolicy,
    pub sessions: SessionPolicy,
    pub links: Links,
    pub throttle: ThrottlePolicy,
    pub step_up: StepUpPolicy,
    pub mfa: MfaPolicy,
}

impl Identity {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        keyring: Arc<Keyring>,
        policy: IdentityPolicy,
    ) -> Self {
        Self {
            store,
            hasher,
            keyring: RwLock::new(keyring),
            passwords: policy.passwords,
            sessions: policy.sessions,
            links: policy.links,
            throttle: Throttle::new(policy.throttle),
            step_up: policy.step_up,
            cache: AuthCache::new(),
            passkeys: None,
            mfa: policy.mfa,
        }
    }

    /// A unit of work whose commit appends the change's events and evicts the sessions
    /// this process cached that the change made stale.
    pub(super) async fn write(&self) -> Result<IdentityWrite<'_>, StoreError> {
        Ok(Write::new(self.store.begin().await?, &self.cache))
    }

    /// Where emailed links point, and how emails look.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The per-IP request budget of the auth routes.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Spends one email of `user`'s `budget` (`mfa-email`, `reset-mail`, …): past the
    /// sign-in threshold sends are delayed like failed attempts, so whoever can trigger
    /// them cannot flood the mailbox. `TooManyAttempts` while the budget must wait.
    pub(super) fn spend_mail_budget(
        &self,
        budget: &str,
        user: UserId,
    ) -> Result<(), IdentityError> {
        self.throttle
            .start_attempt(None, &format!("{budget}:{user}"))
            .map_err(IdentityError::TooManyAttempts)
    }

    /// The signing keys in use now.
    pub fn keyring(&self) -> Arc<Keyring> {
        match self.keyring.read() {
            Ok(keyring) => Arc::clone(&keyring),
            // A panic while swapping left the old keyring in place; it is still whole.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts freshly loaded keys in use, e.g. after `keys rotate` ran elsewhere.
    pub fn replace_keyring(&self, keyring: Keyring) {
        let mut slot = match self.keyring.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(keyring);
    }

    /// Creates an account with an unverified email and signs it in.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let NewAccount {
            email,
            password,
            display_name,
        } = new_account(email, password, display_name, &self.passwords)?;
        let password_hash = self.hasher.hash(&password).await?;
        let mut unit = self.write().await?;
        let user = unit
            .create_user(NewUser {
                id: UserId::new(),
                email: Some(email.as_str().to_owned()),
                display_name,
                password_hash: Some(password_hash),
                is_guest: false,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => IdentityError::EmailTaken,
                other => other.into(),
            })?;
        let event = user_event(
            "auth.registered",
            &user,
            request,
            serde_json::json!({"email": email.as_str()}),
        );
        self.queue_verification(unit.as_mut(), &user).await?;
        self.open_first_session(unit, event, user, device, request)
            .await
    }

    /// Signs in with email and password. Unknown emails and wrong passwords fail the same
    /// way, after the same argon2 work. An account with a second factor gets a challenge
    /// instead of a session, unless `device_token` shows the device is trusted.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        device: &Device,
        device_token: Option<&str>,
        request: &RequestMeta,
    ) -> Result<SignIn, IdentityError> {
        // One key for every spelling of the address that the lookup treats as one.
        let account = Email::parse(email)
            .map_or_else(|_| email.trim().to_lowercase(), |e| e.as_str().to_owned());
        let ip = request.ip.as_deref();
        let held = self.throttle.start_attempt(ip, &account);
        if let Err(wait) = held
            && device.id.is_none()
        {
            return Err(IdentityError::TooManyAttempts(wait));
        }
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        if let Err(wait) = held {
            // Held by failures from elsewhere, perhaps an attacker's: the owner's own device
            // still gets its tries (only its own failures hold it back).
            match &user {
                Some(user) if self.signed_in_before_on(user.id, device).await? => self
                    .throttle
                    .start_attempt_from_known_device(ip, &account)
                    .map_err(IdentityError::TooManyAttempts)?,
                _ => return Err(IdentityError::TooManyAttempts(wait)),
            }
        }
        let Some((user, phc)) = user.and_then(|u| u.password_hash.clone().map(|phc| (u, phc)))
        else {
            self.hasher.verify_dummy(password).await?;
            self.record_failed_login(None, request).await?;
            return Err(IdentityError::InvalidCredentials);
        };
        let verification = self.hasher.verify(password, &phc).await?;
        if !verification.matches {
            self.record_failed_login(Some(&user), request).await?;
            return Err(IdentityError::InvalidCredentials);
        }
        self.throttle.record_success(ip, &account);
        let mut unit = self.write().await?;
        // The password may have changed since it was checked (a reset racing this
        // sign-in): re-read it under a row lock, so either the reset sees this session and
        // ends it, or this sign-in sees the new hash and fails.
        let current = unit.lock_user(user.id).await?;
        if current.password_hash.as_deref() != Some(phc.as_str()) {
            return Err(IdentityError::InvalidCredentials);
        }
        if verification.needs_rehash {
            // The hashing parameters changed since this hash was made: upgrade it now,
            // while the plaintext is at hand. (A password today's policy would refuse
            // keeps its old hash; the next change of password fixes both.)
            let lenient = PasswordPolicy {
                min_chars: 1,
                ..self.passwords
            };
            if let Ok(password) = Password::new(password, None, &lenient) {
                let hash = self.hasher.hash(&password).await?;
                unit.set_password_hash(user.id, &hash, Utc::now()).await?;
            }
        }
        let event = user_event(
            "auth.login.succeeded",
            &user,
            request,
            serde_json::json!({}),
        );
        let step = FirstStep {
            user,
            factor: "pwd",
            event,
            identity: None,
        };
        self.finish_first_step(unit, step, device, device_token, request)
            .await
    }

    /// Whether `device` (by the id it sends) holds a live session of `user`: it signed in
    /// with the account's credentials before. Read only for a sign-in the account's
    /// throttle holds.
    async fn signed_in_before_on(
        &self,
        user: UserId,
        device: &Device,
    ) -> Result<bool, IdentityError> {
        let Some(id) = device.id.as_deref() else {
            return Ok(false);
        };
        let live = self.store.live_sessions(user, Utc::now()).await?;
        Ok(live
            .iter()
            .any(|session| session.device_id.as_deref() == Some(id)))
    }

    /// A guest account (`guest-NNNN`, no email, no password) with a short-lived token.
    pub async fn guest(
        &self,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let id = UserId::new();
        let number =
            u16::from_be_bytes([id.as_uuid().as_bytes()[14], id.as_uuid().as_bytes()[15]]) % 10_000;
        let mut unit = self.write().await?;
        let user = unit
            .create_user(NewUser {
                id,
                email: None,
                display_name: format!("guest-{number:04}"),
                password_hash: None,
                is_guest: true,
            })
            .await?;
        let event = user_event("auth.guest.created", &user, request, serde_json::json!({}));
        self.open_first_session(unit, event, user, device, request)
            .await
    }

    async fn record_failed_login(
        &self,
        user: Option<&User>,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let unit = self.write().await?;
        let event = NewEvent {
            org_id: None,
            event_type: "auth.login.failed".to_owned(),
            actor: user.map_or(Actor::System, |u| Actor::User(u.id.to_string())),
            target: user.map(|u| Target {
                kind: "user".to_owned(),
                id: u.id.to_string(),
            }),
            request: request.clone(),
            payload: serde_json::json!({"known_account": user.is_some()}),
        };
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }
}

/// An auth event about `user` (platform chain: users belong to no org).
pub(super) fn user_event(
    event_type: &str,
    user: &User,
    request: &RequestMeta,
    payload: serde_json::Value,
) -> NewEvent {
    NewEvent {
        org_id: None,
        event_type: event_type.to_owned(),
        actor: Actor::User(user.id.to_string()),
        target: Some(Target {
            kind: "user".to_owned(),
            id: user.id.to_string(),
        }),
        request: request.clone(),
        payload,
    }
}

/// 256 random bits, URL-safe: the only copy lives with the client.
pub(super) fn new_refresh_token() -> Result<String, IdentityError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Internal(format!("randomness: {e}")))?;
    Ok(format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What the database keeps of a refresh token.
pub(super) fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
