//! The email and password a new account signs up with (registering, or a guest
//! upgrading): checked together, so that one 422 names every field that is wrong.

use tenantbase_domain::email::Email;
use tenantbase_domain::password::{Password, PasswordPolicy};

use super::IdentityError;
use crate::tenancy::FieldProblem;

/// Parses a new account's address and password, or reports every problem at once.
pub(super) fn new_credentials(
    email: &str,
    password: &str,
    policy: &PasswordPolicy,
) -> Result<(Email, Password), IdentityError> {
    let email = deliverable(email);
    let password = Password::new(password, email.as_ref().ok().map(Email::as_str), policy);
    match (email, password) {
        (Ok(email), Ok(password)) => Ok((email, password)),
        (email, password) => Err(IdentityError::InvalidFields(
            [
                email
                    .err()
                    .map(|message| FieldProblem::new("email", message)),
                password
                    .err()
                    .map(|e| FieldProblem::new("password", e.to_string())),
            ]
            .into_iter()
            .flatten()
            .collect(),
        )),
    }
}

/// A new account's address: a sane shape, and one the mailer accepts too. The verification
/// email is queued in the same unit as the account, so an address the mailer refuses
/// (a local part over 64 characters, doubled dots, …) would otherwise fail the sign-up
/// with a 500.
fn deliverable(raw: &str) -> Result<Email, String> {
    let email = Email::parse(raw).map_err(|e| e.to_string())?;
    if tenantbase_mail::can_deliver_to(email.as_str()) {
        Ok(email)
    } else {
        Err("is not an address mail can be sent to (at most 64 characters before the @, no leading, trailing or doubled dots, and labels of letters, digits and hyphens after it)".to_owned())
    }
}
