//! Second factors: TOTP with backup codes, emailed codes, trusted devices, and the
//! second step of a sign-in. A sign-in whose account has an active factor ends its first
//! step with an `mfa_token` (random, stored as SHA-256, 5 minutes, single use, bound to
//! the device id the first step sent) instead of a session; `complete_mfa_in` turns it
//! into one once a second factor passed, in the unit that recorded the factor's use. Other
//! sign-in methods (passkeys) plug in there, and a sign-in with an OpenID provider (first
//! factor `fed`) ends its first step the same way.

mod codes;
mod email;
mod keys;
mod totp;
mod trusted;
mod verify;

use std::time::Duration;

use chrono::Utc;
use tenantbase_domain::id::{IdentityId, PasskeyId};
use tenantbase_domain::model::{MfaChallenge, MfaFactor, MfaKind, RequestMeta, User};
use tenantbase_mail::MessageKind;
use tenantbase_store::identity::mfa::NewMfaChallenge;
use tenantbase_store::platform::events::NewEvent;

use super::accounts::{
    Device, Identity, IdentityWrite, chrono_duration, hash_refresh_token, new_refresh_token,
    user_event,
};
use super::cache::AuthStale;
use super::session_open::{Grant, Opening};
use super::sign_in_methods::linked_user;
use super::{IdentityError, Principal, TokenPair};
use crate::write::Change;

pub use keys::MfaKeys;
pub use totp::TotpEnrolment;
pub use verify::MfaVerified;

/// How long the second step of a sign-in may take.
pub const MFA_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// The rules and keys of second factors.
#[derive(Debug, Clone)]
pub struct MfaPolicy {
    pub keys: MfaKeys,
    /// The issuer authenticator apps show beside the account (`otpauth://` `issuer`).
    pub issuer: String,
    /// Accounts with TOTP may also get a code by email (`auth.mfa.email_fallback`).
    pub email_fallback: bool,
    /// How long a trusted device skips the second factor (`auth.mfa.trusted_device_days`).
    pub trusted_device_ttl: Duration,
}

impl MfaPolicy {
    /// The defaults, with `keys` (`MfaKeys::from_master`).
    pub fn new(keys: MfaKeys) -> Self {
        Self {
            keys,
            issuer: "tenantbase".to_owned(),
            email_fallback: false,
            trusted_device_ttl: Duration::from_secs(30 * 86_400),
        }
    }
}

/// A way to pass the second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    /// One of the account's passkeys (`passkeys::second_factor`).
    Passkey,
    Totp,
    BackupCode,
    EmailCode,
}

impl MfaMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Passkey => "passkey",
            MfaMethod::Totp => "totp",
            MfaMethod::BackupCode => "backup_code",
            MfaMethod::EmailCode => "email_code",
        }
    }
}

/// A first step that passed: who, by which factor (an `amr` value: `pwd`, `fed`), the
/// event that records the sign-in if no second step is due, and the linked identity a
/// federated first step came through.
pub(super) struct FirstStep {
    pub user: User,
    pub factor: &'static str,
    pub event: NewEvent,
    pub identity: Option<IdentityId>,
}

/// How a first step ended.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// No second factor due: signed in.
    Session(Box<TokenPair>),
    /// The account has a second factor: no session yet.
    SecondFactorDue(SecondFactorDue),
}

/// What the client needs for the second step.
#[derive(Debug, Clone)]
pub struct SecondFactorDue {
    pub mfa_token: String,
    /// The methods this account can use, in the order to offer them.
    pub methods: Vec<MfaMethod>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
}

/// A second factor that passed for `user`, ready to complete the sign-in.
pub(super) struct FactorPassed<'a> {
    pub user: User,
    /// The factor's `amr` value (`otp`, `hwk`, …).
    pub amr_factor: &'a str,
    /// What checking the factor changed (a code used up), to commit with the session.
    pub recorded: Option<Change<AuthStale>>,
    /// The passkey that passed, if one did: removing it ends the session.
    pub passkey: Option<PasskeyId>,
}

impl Identity {
    /// The user an unused, unexpired `mfa_token` belongs to, when `device` may use it
    /// (the one it is bound to, if any); does not use it up.
    pub async fn mfa_challenge_user(
        &self,
        mfa_token: &str,
        device: &Device,
    ) -> Result<User, IdentityError> {
        let challenge = self.peek_challenge(mfa_token).await?;
        check_device(&challenge, device)?;
        Ok(self.store.user_by_id(challenge.user_id).await?)
    }

    /// Opens the session of `challenge` (used up in `unit`) for the user whose second
    /// factor passed, committing with it what the factor recorded there, if anything.
    pub(super) async fn complete_mfa_in(
        &self,
        mut unit: IdentityWrite<'_>,
        challenge: MfaChallenge,
        passed: FactorPassed<'_>,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let FactorPassed {
            user,
            amr_factor,
            recorded,
            passkey,
        } = passed;
        if challenge.user_id != user.id {
            return Err(IdentityError::InvalidMfaToken);
        }
        // A federated first step counts only while its identity is still linked: an
        // unlinking during the second step ends the sign-in too.
        if let Some(identity) = challenge.identity_id
            && linked_user(unit.as_mut(), user.id, identity)
                .await?
                .is_none()
        {
            return Err(IdentityError::InvalidMfaToken);
        }
        let mut amr = vec![challenge.first_factor];
        for value in [amr_factor, "mfa"] {
            if !amr.iter().any(|a| a == value) {
                amr.push(value.to_owned());
            }
        }
        let event = user_event(
            "auth.login.succeeded",
            &user,
            request,
            serde_json::json!({"amr": amr}),
        );
        let grant = Grant {
            amr,
            access_ttl: None,
            identity: challenge.identity_id,
            passkey,
            opening: Opening::SignIn,
        };
        let change = match recorded {
            Some(used) => used.and(event),
            None => Change::new(AuthStale::Nothing, event),
        };
        self.open_session_as(unit, change, user, device, request, grant)
            .await
    }

    /// Removes the factor of `kind`, audited as `event_type`; the backup codes go too
    /// when no active factor remains, and the user is emailed.
    pub(super) async fn remove_factor(
        &self,
        principal: &Principal,
        kind: MfaKind,
        event_type: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        if !unit.delete_mfa_factor(user.id, kind).await? {
            return Err(IdentityError::MfaNotEnrolled);
        }
        let remaining = unit.mfa_factors_in_unit(user.id).await?;
        let last = !remaining.iter().any(MfaFactor::is_active);
        if last {
            unit.replace_backup_codes(user.id, &[], Utc::now()).await?;
        }
        if let Some(email) = &user.email {
            let message = MessageKind::MfaRemoved {
                display_name: user.display_name.clone(),
                factor: kind.as_str().to_owned(),
            };
            self.links
                .mailer
                .queue(unit.as_mut(), email, &message)
                .await
                .map_err(|e| {
                    IdentityError::Internal(format!("queueing the mfa_removed email: {e}"))
                })?;
        }
        let event = user_event(
            event_type,
            &user,
            request,
            serde_json::json!({"backup_codes_removed": last}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// The unused, unexpired challenge of `mfa_token`.
    async fn peek_challenge(&self, mfa_token: &str) -> Result<MfaChallenge, IdentityError> {
        self.store
            .mfa_challenge(&hash_refresh_token(mfa_token), Utc::now())
            .await?
            .ok_or(IdentityError::InvalidMfaToken)
    }

    /// The second-step methods open to `user` now: none when no factor is active. A
    /// passkey is a factor of its own (while passkeys are on), offered first.
    pub(in crate::identity) fn methods_for(
        &self,
        user: &User,
        factors: &[MfaFactor],
        backup_codes: u64,
        passkeys: u64,
    ) -> Vec<MfaMethod> {
        let active = |kind| factors.iter().any(|f| f.kind == kind && f.is_active());
        let (totp, email) = (active(MfaKind::Totp), active(MfaKind::Email));
        let mut methods = Vec::new();
        if passkeys > 0 && self.passkeys.is_some() {
            methods.push(MfaMethod::Passkey);
        }
        if totp {
            methods.push(MfaMethod::Totp);
        }
        // An emailed code is weaker than an authenticator app: an account with one takes
        // codes by email only where the operator allows it, opted in or not.
        let mailable = user.email.is_some() && user.email_verified;
        if mailable && (if totp { self.mfa.email_fallback } else { email }) {
            methods.push(MfaMethod::EmailCode);
        }
        if !methods.is_empty() && backup_codes > 0 {
            methods.push(MfaMethod::BackupCode);
        }
        methods
    }

    /// `methods_for`, refusing (`MfaUnavailable`) an account with an active factor none of
    /// whose methods can answer now (an emailed code to an address no longer verified):
    /// such an account must not pass on its first factor alone.
    pub(in crate::identity) fn answerable_methods(
        &self,
        user: &User,
        factors: &[MfaFactor],
        backup_codes: u64,
        passkeys: u64,
    ) -> Result<Vec<MfaMethod>, IdentityError> {
        let methods = self.methods_for(user, factors, backup_codes, passkeys);
        if methods.is_empty() && factors.iter().any(MfaFactor::is_active) {
            return Err(IdentityError::MfaUnavailable(
                "this account's second factor cannot answer now: emailed codes need a verified \
                 address (follow the link sent to it)"
                    .to_owned(),
            ));
        }
        Ok(methods)
    }

    /// Ends a first step that passed: a session when the account has no active second
    /// factor or the device is trusted (`device_token`), else a challenge. Commits `unit`
    /// either way.
    pub(super) async fn finish_first_step(
        &self,
        mut unit: IdentityWrite<'_>,
        step: FirstStep,
        device: &Device,
        device_token: Option<&str>,
        request: &RequestMeta,
    ) -> Result<SignIn, IdentityError> {
        let FirstStep {
            user,
            factor,
            event,
            identity,
        } = step;
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        let backup_codes = unit.unused_backup_codes(user.id).await?.len() as u64;
        let passkeys = unit.passkey_count(user.id).await?;
        let methods = self.answerable_methods(&user, &factors, backup_codes, passkeys)?;
        let trusted = match device_token {
            Some(token) if !methods.is_empty() => {
                self.is_trusted(unit.as_mut(), &user, device, token).await?
            }
            _ => false,
        };
        if methods.is_empty() || trusted {
            let grant = Grant {
                amr: vec![factor.to_owned()],
                access_ttl: None,
                identity,
                passkey: None,
                opening: Opening::SignIn,
            };
            let change = Change::new(AuthStale::Nothing, event);
            let pair = self
                .open_session_as(unit, change, user, device, request, grant)
                .await?;
            return Ok(SignIn::Session(Box::new(pair)));
        }
        let mfa_token = new_refresh_token()?;
        unit.insert_mfa_challenge(NewMfaChallenge {
            token_hash: hash_refresh_token(&mfa_token),
            user_id: user.id,
            device_id: device.id.clone(),
            first_factor: factor.to_owned(),
            identity_id: identity,
            expires_at: Utc::now() + chrono_duration(MFA_TOKEN_TTL),
        })
        .await?;
        let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
        let event = user_event(
            "auth.login.mfa_required",
            &user,
            request,
            serde_json::json!({"methods": names}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(SignIn::SecondFactorDue(SecondFactorDue {
            mfa_token,
            methods,
            expires_in: MFA_TOKEN_TTL.as_secs(),
        }))
    }
}

/// Uses up the challenge of `mfa_token` in `unit` (dropping the unit undoes that) if it
/// is unused, unexpired and answers to `device`.
pub(in crate::identity) async fn use_challenge(
    unit: &mut IdentityWrite<'_>,
    mfa_token: &str,
    device: &Device,
) -> Result<MfaChallenge, IdentityError> {
    let challenge = unit
        .consume_mfa_challenge(&hash_refresh_token(mfa_token), Utc::now())
        .await?
        .ok_or(IdentityError::InvalidMfaToken)?;
    check_device(&challenge, device)?;
    Ok(challenge)
}

/// A challenge bound to a device answers only to that device. Checked after its use in
/// the unit: the refusal drops the unit, which rolls the use back, so another device
/// cannot burn the token.
fn check_device(challenge: &MfaChallenge, device: &Device) -> Result<(), IdentityError> {
    match &challenge.device_id {
        Some(bound) if device.id.as_deref() != Some(bound.as_str()) => {
            Err(IdentityError::InvalidMfaToken)
        }
        _ => Ok(()),
    }
}
