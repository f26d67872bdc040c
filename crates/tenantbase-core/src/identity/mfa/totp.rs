//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of skew): enrolment and its
//! confirmation, removal, backup codes, and the factors a user has.

use chrono::Utc;
use qrcode::QrCode;
use qrcode::render::svg;
use tenantbase_domain::model::{MfaFactor, MfaKind, RequestMeta, User};
use totp_rs::{Algorithm, Totp};
use zeroize::Zeroizing;

use super::codes::{BACKUP_CODES, new_backup_code, normalize_backup_code};
use crate::identity::accounts::{Identity, IdentityWrite, user_event};
use crate::identity::cache::AuthStale;
use crate::identity::{IdentityError, Principal};
use crate::write::Change;

/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
const SECRET_LEN: usize = 20;
const STEP_SECS: u64 = 30;

/// What an authenticator app needs to enrol; the secret is shown this once.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// Base32, for typing in.
    pub secret: String,
    pub otpauth_uri: String,
    /// The `otpauth_uri` as a QR code.
    pub qr_svg: String,
}

/// A user's factors and how many backup codes are left.
#[derive(Debug, Clone)]
pub struct MfaStatus {
    pub factors: Vec<MfaFactor>,
    pub backup_codes_left: u64,
}

impl Identity {
    /// Starts a TOTP enrolment: a new secret, sealed at rest, that becomes a factor once
    /// `confirm_totp` sees a code of it. A pending enrolment is replaced; a confirmed
    /// factor must be removed first.
    pub async fn enroll_totp(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<TotpEnrolment, IdentityError> {
        let user = self.store.user_by_id(principal.user_id).await?;
        let Some(account) = user.email.clone().filter(|_| !user.is_guest) else {
            return Err(IdentityError::MfaUnavailable(
                "guest accounts cannot add a second factor".to_owned(),
            ));
        };
        let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
        getrandom::fill(secret.as_mut_slice())
            .map_err(|e| IdentityError::Internal(format!("randomness: {e}")))?;
        let totp = self.totp(secret.to_vec(), &account)?;
        let otpauth_uri = totp
            .to_url()
            .map_err(|e| IdentityError::Internal(format!("otpauth link: {e}")))?;
        let qr_svg = QrCode::new(otpauth_uri.as_bytes())
            .map_err(|e| IdentityError::Internal(format!("QR code: {e}")))?
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        let sealed = self.mfa.keys.seal_secret(user.id, &secret)?;
        let mut unit = self.write().await?;
        if !unit.put_pending_totp(user.id, &sealed, Utc::now()).await? {
            return Err(IdentityError::TotpAlreadyEnrolled);
        }
        let event = user_event(
            "auth.mfa.totp.enrolment_started",
            &user,
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(TotpEnrolment {
            secret: totp.secret().to_base32(),
            otpauth_uri,
            qr_svg,
        })
    }

    /// Activates the pending TOTP enrolment with a current code of it; returns the first
    /// backup codes, which are shown this once and kept only as keyed hashes.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        request: &RequestMeta,
    ) -> Result<Vec<String>, IdentityError> {
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        let pending = factors
            .iter()
            .find(|f| f.kind == MfaKind::Totp)
            .ok_or(IdentityError::MfaNotEnrolled)?;
        if pending.is_active() {
            return Err(IdentityError::TotpAlreadyEnrolled);
        }
        let step = self.totp_step(&user, pending, code)?.ok_or_else(|| {
            IdentityError::invalid("code", "is not a current code of this secret".to_owned())
        })?;
        if !unit.confirm_totp(user.id, step, Utc::now()).await? {
            return Err(IdentityError::MfaNotEnrolled);
        }
        let codes = self.replace_backup_codes(&mut unit, &user).await?;
        let event = user_event(
            "auth.mfa.totp.enrolled",
            &user,
            request,
            serde_json::json!({"backup_codes": codes.len()}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(codes)
    }

    /// Removes the TOTP factor (pending or active), and the backup codes too when no
    /// other factor remains; emails the user about it.
    pub async fn remove_totp(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.remove_factor(principal, MfaKind::Totp, "auth.mfa.totp.removed", request)
            .await
    }

    /// New backup codes; the old ones stop working.
    pub async fn regenerate_backup_codes(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<Vec<String>, IdentityError> {
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        let factors = unit.mfa_factors_in_unit(user.id).await?;
        if !factors.iter().any(MfaFactor::is_active) {
            return Err(IdentityError::MfaNotEnrolled);
        }
        let codes = self.replace_backup_codes(&mut unit, &user).await?;
        let event = user_event(
            "auth.mfa.backup_codes.regenerated",
            &user,
            request,
            serde_json::json!({"backup_codes": codes.len()}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(codes)
    }

    /// The caller's factors (pending ones included) and unused backup codes.
    pub async fn mfa_status(&self, principal: &Principal) -> Result<MfaStatus, IdentityError> {
        Ok(MfaStatus {
            factors: self.store.mfa_factors(principal.user_id).await?,
            backup_codes_left: self.store.backup_codes_left(principal.user_id).await?,
        })
    }

    /// Replaces `user`'s backup codes in `unit`; returns the new codes.
    async fn replace_backup_codes(
        &self,
        unit: &mut IdentityWrite<'_>,
        user: &User,
    ) -> Result<Vec<String>, IdentityError> {
        let codes = (0..BACKUP_CODES)
            .map(|_| new_backup_code())
            .collect::<Result<Vec<_>, _>>()?;
        let hashes: Vec<String> = codes
            .iter()
            .map(|code| {
                self.mfa
                    .keys
                    .code_hash(user.id, &normalize_backup_code(code))
            })
            .collect();
        unit.replace_backup_codes(user.id, &hashes, Utc::now())
            .await?;
        Ok(codes)
    }

    /// The time step `code` belongs to under `factor`'s secret (±1 step), if it does.
    pub(super) fn totp_step(
        &self,
        user: &User,
        factor: &MfaFactor,
        code: &str,
    ) -> Result<Option<i64>, IdentityError> {
        let sealed = factor
            .sealed_secret
            .as_deref()
            .ok_or_else(|| IdentityError::Internal("a TOTP factor without a secret".to_owned()))?;
        let secret = self.mfa.keys.open_secret(user.id, sealed)?;
        let totp = self.totp(secret.to_vec(), user.email.as_deref().unwrap_or("account"))?;
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(totp
            .check(&code, now)
            .map(|step| i64::try_from(step).unwrap_or(i64::MAX)))
    }

    fn totp(&self, secret: Vec<u8>, account: &str) -> Result<Totp, IdentityError> {
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(secret)
            .with_account_name(account)
            .with_issuer(Some(self.mfa.issuer.as_str()))
            .build()
            .map_err(|e| IdentityError::Internal(format!("TOTP parameters: {e}")))
    }
}
