//! How identity errors answer: each `IdentityError` as its problem+json status and
//! stable `code`.

use tenantbase_core::identity::IdentityError;
use tenantbase_core::identity::password_hash::{HashError, OVERLOADED_RETRY_AFTER};

use crate::{ApiError, FieldError};

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { field, message } => ApiError::validation(vec![FieldError {
                field: field.to_owned(),
                message,
            }]),
            IdentityError::EmailTaken => {
                ApiError::conflict("email_taken", "An account with this email exists.")
            }
            IdentityError::InvalidCredentials => {
                ApiError::unauthorized("invalid_credentials", "Invalid email or password.")
            }
            IdentityError::InvalidRefreshToken => ApiError::unauthorized(
                "invalid_refresh_token",
                "The refresh token is invalid, used or expired.",
            ),
            IdentityError::InvalidAccessToken => invalid_token(),
            // A token presented and refused is the client's; a key that cannot be read or
            // used (while issuing one too) is the server's.
            IdentityError::Token(error) if error.is_rejection() => invalid_token(),
            IdentityError::NotFound => ApiError::not_found("session_not_found", "No such session."),
            IdentityError::InvalidOneTimeToken => {
                let problem = IdentityError::one_time_token_problem();
                ApiError::validation(vec![FieldError {
                    field: problem.field,
                    message: problem.message,
                }])
            }
            IdentityError::NothingToVerify => {
                ApiError::conflict("already_verified", "The email address is already verified.")
            }
            IdentityError::NoEmail => ApiError::conflict(
                "no_email",
                "This account has no email address; a guest adds one with POST \
                 /v1/auth/guest/upgrade.",
            ),
            IdentityError::LastSignInMethod => ApiError::conflict(
                "last_sign_in_method",
                "This is the account's last way to sign in; add a password, a passkey or an \
                 identity first.",
            ),
            IdentityError::ReauthenticationRequired => ApiError::unauthorized(
                "reauthentication_required",
                "This change needs a recent sign-in: POST /v1/auth/reauthenticate, then retry \
                 with the access token it returns.",
            ),
            // Failed sign-ins and codes, and emails sent to one account, share the code.
            IdentityError::TooManyAttempts(wait) => ApiError::throttled(
                "too_many_attempts",
                "Too many attempts on this account or from this address; wait as long as \
                 Retry-After says before trying again.",
                wait,
            ),
            IdentityError::NotAGuest => {
                ApiError::conflict("not_a_guest", "Only guest accounts can be upgraded.")
            }
            IdentityError::Hash(HashError::Overloaded) => ApiError::overloaded(
                "Too many sign-ins are being checked right now; retry shortly.",
                OVERLOADED_RETRY_AFTER,
            ),
            IdentityError::InvalidMfaToken => ApiError::unauthorized(
                "invalid_mfa_token",
                "The mfa_token is invalid, used, expired or bound to another device; sign in again.",
            ),
            IdentityError::SecondFactorRequired(methods) => {
                let methods: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
                ApiError::unauthorized(
                    "second_factor_required",
                    "This account has a second factor: send `method` and `code` too (an \
                     emailed code comes from POST /v1/auth/reauthenticate/email-code), or \
                     step up with a passkey at POST /v1/auth/reauthenticate/passkey/start.",
                )
                .with_extension("methods", serde_json::json!(methods))
            }
            IdentityError::NoPassword { passkey, providers } => no_password(passkey, providers),
            IdentityError::InvalidMfaCode => ApiError::unauthorized(
                "invalid_mfa_code",
                "The code is wrong, already used or expired.",
            ),
            IdentityError::MfaNotEnrolled => {
                ApiError::not_found("mfa_not_enrolled", "No such second factor on this account.")
            }
            IdentityError::TotpAlreadyEnrolled => ApiError::conflict(
                "totp_already_enrolled",
                "An authenticator app is already active; remove it before enrolling another.",
            ),
            IdentityError::MfaUnavailable(message) => {
                ApiError::conflict("mfa_unavailable", message)
            }
            IdentityError::TrustedDeviceNotFound => {
                ApiError::not_found("trusted_device_not_found", "No such trusted device.")
            }
            IdentityError::InvalidFields(problems) => ApiError::validation(
                problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            IdentityError::PasskeysDisabled => ApiError::not_found(
                "passkeys_disabled",
                "Passkeys are not enabled on this server.",
            ),
            IdentityError::PasskeyRefused => ApiError::unauthorized(
                "passkey_refused",
                "The passkey sign-in was refused; start a new one.",
            ),
            IdentityError::PasskeyNotFound => {
                ApiError::not_found("passkey_not_found", "No such passkey.")
            }
            IdentityError::PasskeyExists => {
                ApiError::conflict("passkey_exists", "This passkey is registered already.")
            }
            IdentityError::GuestPasskey => ApiError::conflict(
                "guest_account",
                "Guests cannot add passkeys; upgrade the account first.",
            ),
            IdentityError::Store(error) => error.into(),
            other => ApiError::internal(&other),
        }
    }
}

fn invalid_token() -> ApiError {
    ApiError::invalid_token(
        "invalid_token",
        "The access token is invalid, expired or revoked.",
    )
}

/// A step-up by password of an account without one, saying what the account can do
/// instead: step up with its passkey, or sign in again (with its provider), since a new
/// sign-in is a recent one.
fn no_password(passkey: bool, providers: Vec<String>) -> ApiError {
    let detail = if passkey {
        "This account has no password: step up with a passkey (POST \
         /v1/auth/reauthenticate/passkey/start, then /finish)."
            .to_owned()
    } else if let Some(provider) = providers.first() {
        format!(
            "This account has no password: sign in again with its provider (GET \
             /v1/auth/oidc/{provider}/start); a new sign-in counts as recent."
        )
    } else {
        "This account has no password: sign in again; a new sign-in counts as recent.".to_owned()
    };
    let methods: &[&str] = if passkey { &["passkey"] } else { &[] };
    ApiError::conflict("no_password", detail)
        .with_extension("methods", serde_json::json!(methods))
        .with_extension("providers", serde_json::json!(providers))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use tenantbase_core::identity::tokens::TokenError;

    use super::*;

    fn status_of(error: TokenError) -> StatusCode {
        ApiError::from(IdentityError::Token(error)).status()
    }

    #[test]
    fn a_refused_token_is_401_and_a_key_the_server_cannot_use_is_500() {
        for refused in [
            TokenError::Expired,
            TokenError::BadSignature,
            TokenError::UnknownKey,
        ] {
            assert_eq!(status_of(refused), StatusCode::UNAUTHORIZED);
        }
        let faults = [
            TokenError::NoActiveKey,
            TokenError::KeyDecryption {
                kid: "k".to_owned(),
            },
            TokenError::Crypto("c".to_owned()),
            TokenError::Config("c".to_owned()),
        ];
        for fault in faults {
            assert_eq!(status_of(fault), StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}
