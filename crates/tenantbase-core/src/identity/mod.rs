//! Identity: accounts and guests, password hashing, signing keys and access tokens,
//! sessions with rotating refresh tokens, sign-in with OpenID providers.

mod accounts;
mod cache;
mod credentials;
mod email_change;
pub mod mfa;
pub mod oidc;
pub mod passkeys;
pub mod password_hash;
mod recovery;
pub mod retention;
mod session_flow;
mod session_open;
mod sign_in_methods;
pub mod signing_keys;
mod step_up;
pub mod throttle;
pub mod tokens;

use chrono::{DateTime, Utc};
use tenantbase_domain::id::{OrgId, SessionId, UserId};
use tenantbase_domain::model::User;
use tenantbase_store::StoreError;

pub use accounts::{Device, Identity, IdentityPolicy, Links, SessionPolicy};
pub use cache::SESSION_TTL as REVOCATION_BOUND;
pub use email_change::EmailChangePending;
pub use step_up::{Reauthenticated, SecondFactor, StepUpPolicy};

/// What a successful sign-in or refresh hands the client.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub user: User,
    pub session_id: SessionId,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Who is calling, from a verified access token whose session is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub amr: Vec<String>,
    /// When the user last proved who they are in this session (claim `auth_time`, or the
    /// session's own record when a later step-up made it newer).
    pub auth_time: DateTime<Utc>,
    /// Set when the token is bound to one org.
    pub org: Option<OrgId>,
}

impl Principal {
    /// Whether this session was signed in with a second factor (`amr` holds `mfa`).
    pub fn used_mfa(&self) -> bool {
        self.amr.iter().any(|method| method == "mfa")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("an account with this email exists")]
    EmailTaken,
    /// Wrong password or unknown account: deliberately indistinguishable.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("invalid access token")]
    InvalidAccessToken,
    #[error("not found")]
    NotFound,
    /// A verification or reset token that is unknown, used, replaced or expired.
    #[error("invalid or expired token")]
    InvalidOneTimeToken,
    #[error("the email is already verified")]
    NothingToVerify,
    /// A guest has no address to verify.
    #[error("the account has no email address")]
    NoEmail,
    #[error("only guests can be upgraded")]
    NotAGuest,
    /// A step-up by password of an account with a second factor needs one of these too.
    #[error("a second factor is required")]
    SecondFactorRequired(Vec<mfa::MfaMethod>),
    /// Removing this would leave the account no way to sign in.
    #[error("the account's last way to sign in")]
    LastSignInMethod,
    /// A step-up by password of an account that has none: with a passkey (`passkey`) it
    /// can step up with that; else it signs in again, with one of its `providers`.
    #[error("the account has no password")]
    NoPassword {
        passkey: bool,
        providers: Vec<String>,
    },
    /// The change needs a sign-in more recent than the step-up window allows.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// An `mfa_token` that is unknown, used, expired, or bound to another device.
    #[error("invalid or expired mfa token")]
    InvalidMfaToken,
    /// A second-factor code that is wrong, used, or expired.
    #[error("invalid second-factor code")]
    InvalidMfaCode,
    /// No such second factor (or none active, where one is needed).
    #[error("no such second factor")]
    MfaNotEnrolled,
    #[error("a TOTP factor is already active")]
    TotpAlreadyEnrolled,
    /// The account cannot use this second factor (a guest, an unverified email, …).
    #[error("{0}")]
    MfaUnavailable(String),
    #[error("no such trusted device")]
    TrustedDeviceNotFound,
    /// Too many failed sign-ins from this client or on this account: try after the wait.
    #[error("too many attempts; retry in {0:?}")]
    TooManyAttempts(std::time::Duration),
    #[error(transparent)]
    Token(#[from] tokens::TokenError),
    #[error(transparent)]
    Hash(#[from] password_hash::HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Several fields are invalid at once.
    #[error("invalid fields")]
    InvalidFields(Vec<crate::tenancy::FieldProblem>),
    /// No relying party is configured (`auth.webauthn`).
    #[error("passkeys are not enabled")]
    PasskeysDisabled,
    /// A passkey sign-in that failed, for whatever reason (audited with it).
    #[error("the passkey sign-in was refused")]
    PasskeyRefused,
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error("this passkey is registered already")]
    PasskeyExists,
    #[error("guests cannot add passkeys")]
    GuestPasskey,
    #[error("{0}")]
    Internal(String),
}

impl IdentityError {
    pub(crate) fn invalid(field: &'static str, message: String) -> Self {
        IdentityError::Invalid { field, message }
    }

    /// How a refused verification or reset token (`InvalidOneTimeToken`) reads as a
    /// field problem, alone or beside others.
    pub fn one_time_token_problem() -> crate::tenancy::FieldProblem {
        crate::tenancy::FieldProblem::new(
            "token",
            "is invalid, used, replaced by a newer one, or expired",
        )
    }
}
