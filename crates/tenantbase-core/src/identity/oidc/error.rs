//! How an OpenID Connect use case fails; each failure has a stable code for the API and
//! the audit log.

use tenantbase_store::StoreError;

use crate::identity::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no provider of this name is configured")]
    UnknownProvider,
    /// Every invalid input field, with what is wrong with it.
    #[error("invalid fields: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    /// Unknown, used, expired, or started for another provider.
    #[error("the state is unknown, used or expired")]
    InvalidState,
    /// The provider sent the browser back with an error (e.g. the user declined).
    #[error("the provider answered with an error")]
    ProviderDenied,
    /// The token endpoint refused the code (wrong or missing PKCE verifier, reused code…).
    #[error("the provider refused the authorization code")]
    CodeRejected,
    #[error("the ID token failed verification: {0}")]
    InvalidIdToken(String),
    #[error("the provider could not be reached or answered nonsense: {0}")]
    ProviderUnavailable(String),
    /// A sign-in needs an email the provider vouches for; nothing is created without one.
    #[error("the provider did not assert a verified email")]
    EmailNotVerified,
    /// Never linked automatically: whoever controls the provider account could otherwise
    /// take over the local one.
    #[error("an account with this email exists; sign in and link the provider")]
    AccountExistsLinkRequired,
    #[error("this identity is linked to another account")]
    IdentityLinkedElsewhere,
    #[error("no such identity")]
    IdentityNotFound,
    #[error("removing it would leave the account no way to sign in")]
    LastSignInMethod,
    #[error("the login code is unknown, used or expired")]
    InvalidLoginCode,
    /// Unknown, used, expired, or not the caller's session's: deliberately one answer.
    #[error("the link code is unknown, used, expired or another session's")]
    InvalidLinkCode,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<StoreError> for OidcError {
    fn from(error: StoreError) -> Self {
        OidcError::Identity(error.into())
    }
}

impl OidcError {
    pub(super) fn invalid(field: &'static str, message: &str) -> Self {
        OidcError::Invalid(vec![(field, message.to_owned())])
    }

    /// The stable code of the failure (the problem `code`, and the audited reason).
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::UnknownProvider => "provider_not_found",
            OidcError::Invalid(_) => "validation_failed",
            OidcError::InvalidState => "invalid_state",
            OidcError::ProviderDenied => "provider_denied",
            OidcError::CodeRejected => "code_rejected",
            OidcError::InvalidIdToken(_) => "invalid_id_token",
            OidcError::ProviderUnavailable(_) => "provider_unavailable",
            OidcError::EmailNotVerified => "email_not_verified",
            OidcError::AccountExistsLinkRequired => "account_exists_link_required",
            OidcError::IdentityLinkedElsewhere => "identity_linked_elsewhere",
            OidcError::IdentityNotFound => "identity_not_found",
            OidcError::LastSignInMethod => "last_sign_in_method",
            OidcError::InvalidLoginCode => "invalid_login_code",
            OidcError::InvalidLinkCode => "invalid_link_code",
            OidcError::Identity(_) => "internal",
        }
    }
}
