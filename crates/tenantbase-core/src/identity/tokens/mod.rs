//! Signing keys and access tokens: Ed25519 keys sealed at rest under a master key,
//! short-lived EdDSA JWTs signed by the newest key, verified strictly, published as JWKS.
//!
//! Rotation: the caller persists [`StoredKey`]s and hands all of them to
//! [`Keyring::load`]. [`rotate`] retires the signing key and appends a new one; a retired
//! key never signs again but keeps verifying until `retired_at + access_ttl + leeway`, so
//! tokens it signed live out their normal lifetime. Replicas must reload their keyring
//! after a rotation (at the latest when a token names a kid they do not know).
//!
//! The compact JWS is written here over `ed25519-dalek` rather than through
//! `jsonwebtoken`: only one algorithm is ever accepted, the header is checked field by
//! field, and the RSA/ECDSA/HMAC backends a general JWT library pulls in stay out.

mod claims;
mod jws;
mod keyring;
mod keys;
#[cfg(test)]
mod tests;

pub use claims::{AccessClaims, Subject, TokenConfig};
pub use keyring::Keyring;
pub use keys::{MasterKey, StoredKey, rotate};

/// Tokens longer than this are refused before any decoding; ours are well under 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused, or a key or the configuration could not be used.
///
/// Rejections of a presented token carry no text from it, so they are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token algorithm is not EdDSA")]
    UnsupportedAlgorithm,
    #[error("token header `{0}` is not allowed")]
    ForbiddenHeader(&'static str),
    #[error("token type is not at+jwt")]
    WrongType,
    /// The kid is missing, malformed, unknown, or its key's grace period has ended.
    #[error("token names no usable signing key")]
    UnknownKey,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    /// The master key is wrong or the stored key was altered.
    #[error("signing key {kid} does not decrypt with this master key")]
    KeyDecryption { kid: String },
    #[error("no active (non-retired) signing key")]
    NoActiveKey,
    #[error("cryptography failed: {0}")]
    Crypto(String),
    #[error("invalid token configuration: {0}")]
    Config(String),
}

impl TokenError {
    /// True when the presented token is at fault (answer 401), false for server-side
    /// faults such as keys or configuration (answer 500).
    pub fn is_rejection(&self) -> bool {
        // Every variant named: a new one must be placed on one side or the other.
        match self {
            TokenError::TooLarge
            | TokenError::Malformed(_)
            | TokenError::UnsupportedAlgorithm
            | TokenError::ForbiddenHeader(_)
            | TokenError::WrongType
            | TokenError::UnknownKey
            | TokenError::BadSignature
            | TokenError::WrongIssuer
            | TokenError::WrongAudience
            | TokenError::Expired
            | TokenError::NotYetValid => true,
            TokenError::KeyDecryption { .. }
            | TokenError::NoActiveKey
            | TokenError::Crypto(_)
            | TokenError::Config(_) => false,
        }
    }
}
