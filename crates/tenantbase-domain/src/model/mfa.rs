//! Second factors of a user, the pending second step of a sign-in, and the devices
//! trusted to skip it.

use chrono::{DateTime, Utc};

use crate::id::{IdentityId, TrustedDeviceId, UserId};

/// What kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MfaKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A code emailed at sign-in, for accounts that opted in.
    Email,
}

impl MfaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaKind::Totp => "totp",
            MfaKind::Email => "email",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "totp" => Some(MfaKind::Totp),
            "email" => Some(MfaKind::Email),
            _ => None,
        }
    }
}

/// One second factor of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaFactor {
    pub user_id: UserId,
    pub kind: MfaKind,
    /// The TOTP secret, sealed under the master key; `None` for email.
    pub sealed_secret: Option<Vec<u8>>,
    /// `None` while a TOTP enrolment waits for its first code.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last TOTP time step accepted (codes of it or older are refused).
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl MfaFactor {
    /// Usable at sign-in.
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// The second step of a sign-in whose first factor passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub user_id: UserId,
    /// The device id of the first step, if it sent one: the second must send the same.
    pub device_id: Option<String>,
    /// The `amr` value of the first factor (`pwd`, `fed`, …).
    pub first_factor: String,
    /// The linked identity a federated first step came through, for the session.
    pub identity_id: Option<IdentityId>,
    pub expires_at: DateTime<Utc>,
}

/// A device that skips the second factor until it expires or is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    pub id: TrustedDeviceId,
    pub user_id: UserId,
    pub device_id: String,
    pub device_label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
