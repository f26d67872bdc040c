//! The second step of a sign-in: a code of one of the account's methods against the
//! `mfa_token` of the first step. Failures count against the account like wrong
//! passwords do, and are audited; a TOTP code is accepted once.

use chrono::Utc;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{MfaFactor, MfaKind, RequestMeta, User};
use tenantbase_store::identity::mfa::ChallengedUser;
use tenantbase_store::platform::events::NewEvent;

use super::codes::{find_hash, normalize_backup_code};
use super::email::email_code_purpose;
use super::{FactorPassed, MfaMethod, check_device};
use crate::identity::accounts::{Device, Identity, IdentityWrite, hash_refresh_token, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::{IdentityError, TokenPair};
use crate::tenancy::FieldProblem;
use crate::write::Change;

/// A passed second step.
#[derive(Debug, Clone)]
pub struct MfaVerified {
    pub pair: TokenPair,
    /// Set when the device asked to be trusted: it skips the second step until it expires.
    pub device_token: Option<String>,
}

impl Identity {
    /// Checks `code` by `method` for the challenge of `mfa_token` and opens the session;
    /// with `trust_device`, also trusts the device (which must have sent its id).
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        method: MfaMethod,
        code: &str,
        trust_device: bool,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<MfaVerified, IdentityError> {
        if trust_device && device.id.is_none() {
            // Refused whatever the token, with the method too if the account lacks it.
            let mut problems = vec![FieldProblem::new(
                "trust_device",
                "needs the device's id (X-Device-Id) to bind the trust to",
            )];
            problems.extend(self.method_problem(mfa_token, method, device).await?);
            return Err(IdentityError::InvalidFields(problems));
        }
        // The challenge's use, the code's and the new session commit together: one
        // durable write, and a code is never spent on a sign-in that did not happen. Every
        // refusal below drops the unit, which gives the challenge back.
        let mut unit = self.write().await?;
        let ChallengedUser {
            challenge,
            user,
            factors,
        } = unit
            .consume_challenge_with_user(&hash_refresh_token(mfa_token), Utc::now())
            .await?
            .ok_or(IdentityError::InvalidMfaToken)?;
        check_device(&challenge, device)?;
        let account = throttle_key(challenge.user_id);
        let ip = request.ip.as_deref();
        self.throttle
            .start_attempt(ip, &account)
            .map_err(IdentityError::TooManyAttempts)?;
        let Some(used) = self
            .check_code_in(&mut unit, (&user, &factors), method, code, false, request)
            .await?
        else {
            drop(unit);
            let unit = self.write().await?;
            let event = user_event(
                "auth.mfa.verify.failed",
                &user,
                request,
                serde_json::json!({"method": method.as_str()}),
            );
            unit.commit(Change::new(AuthStale::Nothing, event)).await?;
            return Err(IdentityError::InvalidMfaCode);
        };
        let passed = FactorPassed {
            user,
            amr_factor: "otp",
            recorded: Some(used),
            passkey: None,
        };
        let pair = self
            .complete_mfa_in(unit, challenge, passed, device, request)
            .await?;
        self.throttle.record_success(ip, &account);
        let device_token = if trust_device {
            Some(self.trust_device(&pair.user, device, request).await?)
        } else {
            None
        };
        Ok(MfaVerified { pair, device_token })
    }

    /// Whether `code` passes `method` for a step-up of `user`, using it up (and recording
    /// so) if it does, in a unit of its own.
    pub(in crate::identity) async fn check_step_up_code(
        &self,
        user: &User,
        method: MfaMethod,
        code: &str,
        request: &RequestMeta,
    ) -> Result<bool, IdentityError> {
        let mut unit = self.write().await?;
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        let Some(change) = self
            .check_code_in(&mut unit, (user, &factors), method, code, true, request)
            .await?
        else {
            return Ok(false);
        };
        unit.commit(change).await?;
        Ok(true)
    }

    /// Whether `code` passes `method` for `user`'s sign-in (or `step_up`), in `unit`, where
    /// the user's `factors` were read: the change recording the code's use when it passes
    /// (to commit with whatever else the unit does), `None` when it does not. A method the
    /// account cannot use is an invalid request, not a failed attempt.
    async fn check_code_in(
        &self,
        unit: &mut IdentityWrite<'_>,
        (user, factors): (&User, &[MfaFactor]),
        method: MfaMethod,
        code: &str,
        step_up: bool,
        request: &RequestMeta,
    ) -> Result<Option<Change<AuthStale>>, IdentityError> {
        // Only a backup code's (and a passkey's) right to answer depends on the codes and
        // passkeys left: the code methods skip those reads.
        let (backup_codes, passkeys) =
            if matches!(method, MfaMethod::BackupCode | MfaMethod::Passkey) {
                let codes = unit.unused_backup_codes(user.id).await?;
                (codes, unit.passkey_count(user.id).await?)
            } else {
                (Vec::new(), 0)
            };
        let methods = self.methods_for(user, factors, backup_codes.len() as u64, passkeys);
        if let Some(problem) = method_refusal(method, &methods) {
            return Err(IdentityError::InvalidFields(vec![problem]));
        }
        let event = match method {
            MfaMethod::Passkey => return Ok(None), // Refused above.
            MfaMethod::Totp => {
                let Some(factor) = factors.iter().find(|f| f.kind == MfaKind::Totp) else {
                    return Ok(None);
                };
                match self.totp_step(user, factor, code)? {
                    // Recording the step refuses it, and every earlier one, from now on.
                    Some(step) if unit.use_totp_step(user.id, step).await? => {
                        verified(user, method, request)
                    }
                    _ => return Ok(None),
                }
            }
            MfaMethod::BackupCode => {
                let hash = self
                    .mfa
                    .keys
                    .code_hash(user.id, &normalize_backup_code(code));
                let Some(found) = find_hash(&backup_codes, &hash) else {
                    return Ok(None);
                };
                if !unit.use_backup_code(user.id, found, Utc::now()).await? {
                    return Ok(None);
                }
                let remaining = backup_codes.len() - 1;
                let used = user_event(
                    "auth.mfa.backup_code.used",
                    user,
                    request,
                    serde_json::json!({"remaining": remaining}),
                );
                let change = Change::new(AuthStale::Nothing, used);
                return Ok(Some(change.and(verified(user, method, request))));
            }
            MfaMethod::EmailCode => {
                let hash = self.email_code_hash(user.id, code.trim(), step_up);
                let purpose = email_code_purpose(step_up);
                let Some(stored) = unit.email_code(user.id, purpose, Utc::now()).await? else {
                    return Ok(None);
                };
                if find_hash(std::slice::from_ref(&stored), &hash).is_none()
                    || !unit.use_email_code(user.id, purpose, &stored).await?
                {
                    return Ok(None);
                }
                verified(user, method, request)
            }
        };
        Ok(Some(Change::new(AuthStale::Nothing, event)))
    }
}

impl Identity {
    /// Why `method` cannot answer the challenge of `mfa_token` from `device`, if it
    /// cannot; nothing when the token does not answer (its refusal comes with the code).
    async fn method_problem(
        &self,
        mfa_token: &str,
        method: MfaMethod,
        device: &Device,
    ) -> Result<Option<FieldProblem>, IdentityError> {
        let challenge = match self.peek_challenge(mfa_token).await {
            Ok(challenge) if check_device(&challenge, device).is_ok() => challenge,
            Ok(_) | Err(IdentityError::InvalidMfaToken) => return Ok(None),
            Err(other) => return Err(other),
        };
        let user = self.store.user_by_id(challenge.user_id).await?;
        let factors = self.store.mfa_factors(user.id).await?;
        let backup_codes = self.store.backup_codes_left(user.id).await?;
        let passkeys = self.store.passkeys(user.id).await?.len() as u64;
        let methods = self.methods_for(&user, &factors, backup_codes, passkeys);
        Ok(method_refusal(method, &methods))
    }
}

/// Why `method` is no way to pass this second step, given the account's `methods`.
fn method_refusal(method: MfaMethod, methods: &[MfaMethod]) -> Option<FieldProblem> {
    let message = if !methods.contains(&method) {
        format!("{} is not a method of this account", method.as_str())
    } else if method == MfaMethod::Passkey {
        "a passkey answers at /v1/auth/mfa/passkey/start and /finish".to_owned()
    } else {
        return None;
    };
    Some(FieldProblem::new("method", message))
}

fn verified(user: &User, method: MfaMethod, request: &RequestMeta) -> NewEvent {
    user_event(
        "auth.mfa.verified",
        user,
        request,
        serde_json::json!({"method": method.as_str()}),
    )
}

/// Second-step failures count per account, apart from wrong passwords: a user who
/// mistypes a code is not also held back on the password step.
fn throttle_key(user: UserId) -> String {
    format!("mfa:{user}")
}
