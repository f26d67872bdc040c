//! Request and response bodies of the second-factor routes, and the two shapes of the
//! sign-in answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_core::identity::mfa::{MfaMethod, SecondFactorDue, TotpEnrolment};
use tenantbase_domain::model::{MfaFactor, TrustedDevice};
use utoipa::ToSchema;

use super::dto::TokenResponse;

/// What `POST /v1/auth/login` and `POST /v1/auth/oidc/exchange` answer with 200: a token
/// pair, or a second factor due.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LoginResponse {
    Session(TokenResponse),
    SecondFactor(MfaRequiredResponse),
}

/// The first step passed; no session until `POST /v1/auth/mfa/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MfaRequiredResponse {
    /// Always `true`.
    pub mfa_required: bool,
    /// Single use, 5 minutes, bound to the `X-Device-Id` of the sign-in if it sent one.
    pub mfa_token: String,
    pub methods: Vec<MfaMethodName>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
}

impl From<SecondFactorDue> for MfaRequiredResponse {
    fn from(due: SecondFactorDue) -> Self {
        Self {
            mfa_required: true,
            mfa_token: due.mfa_token,
            methods: due.methods.into_iter().map(MfaMethodName::from).collect(),
            expires_in: due.expires_in,
        }
    }
}

/// A way to pass the second step.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MfaMethodName {
    /// A passkey: `POST /v1/auth/mfa/passkey/start`, then `/finish` (for a step-up:
    /// `POST /v1/auth/reauthenticate/passkey/start`, then `/finish`).
    Passkey,
    /// A code of the authenticator app.
    Totp,
    /// One of the backup codes (each works once).
    BackupCode,
    /// A code from `POST /v1/auth/mfa/email/send` (for a step-up:
    /// `POST /v1/auth/reauthenticate/email-code`).
    EmailCode,
}

impl From<MfaMethod> for MfaMethodName {
    fn from(method: MfaMethod) -> Self {
        match method {
            MfaMethod::Passkey => MfaMethodName::Passkey,
            MfaMethod::Totp => MfaMethodName::Totp,
            MfaMethod::BackupCode => MfaMethodName::BackupCode,
            MfaMethod::EmailCode => MfaMethodName::EmailCode,
        }
    }
}

impl From<MfaMethodName> for MfaMethod {
    fn from(method: MfaMethodName) -> Self {
        match method {
            MfaMethodName::Passkey => MfaMethod::Passkey,
            MfaMethodName::Totp => MfaMethod::Totp,
            MfaMethodName::BackupCode => MfaMethod::BackupCode,
            MfaMethodName::EmailCode => MfaMethod::EmailCode,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaVerifyBody {
    pub mfa_token: String,
    pub method: MfaMethodName,
    pub code: String,
    /// Trust this device (its `X-Device-Id` is required) for `auth.mfa.trusted_device_days`:
    /// the answer carries a `device_token` for later sign-ins.
    #[serde(default)]
    pub trust_device: bool,
}

/// The token pair of a completed sign-in, and the device token if trust was asked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MfaVerifyResponse {
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Present with `trust_device`: send it as `device_token` to `POST /v1/auth/login`
    /// with the same `X-Device-Id`. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaTokenBody {
    pub mfa_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpCodeBody {
    /// The 6 digits the authenticator app shows now.
    pub code: String,
}

/// What an authenticator app needs; the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpEnrolmentView {
    /// Base32 (RFC 4648), for typing in.
    pub secret: String,
    /// `otpauth://totp/…` (SHA-1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// The `otpauth_uri` as an SVG QR code.
    pub qr_svg: String,
}

impl From<TotpEnrolment> for TotpEnrolmentView {
    fn from(enrolment: TotpEnrolment) -> Self {
        Self {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
            qr_svg: enrolment.qr_svg,
        }
    }
}

/// Backup codes, shown this once: each works once in place of a second factor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BackupCodes {
    pub backup_codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MfaFactorView {
    /// `totp` or `email`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: DateTime<Utc>,
    /// `false` while a TOTP enrolment waits for its first code.
    pub confirmed: bool,
}

impl From<&MfaFactor> for MfaFactorView {
    fn from(factor: &MfaFactor) -> Self {
        Self {
            kind: factor.kind.as_str(),
            created_at: factor.created_at,
            confirmed: factor.is_active(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MfaStatusView {
    pub factors: Vec<MfaFactorView>,
    pub backup_codes_left: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrustedDeviceView {
    /// `tdv_…`
    pub id: String,
    /// The `X-Device-Label` the device sent when it was trusted.
    pub device_label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&TrustedDevice> for TrustedDeviceView {
    fn from(device: &TrustedDevice) -> Self {
        Self {
            id: device.id.to_string(),
            device_label: device.device_label.clone(),
            created_at: device.created_at,
            expires_at: device.expires_at,
        }
    }
}
