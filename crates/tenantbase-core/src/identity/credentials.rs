//! The email and password a new account signs up with (registering, or a guest
//! upgrading): checked together, so that one 422 names every field that is wrong.

use tenantbase_domain::email::Email;
use tenantbase_domain::password::{Password, PasswordPolicy};

use super::IdentityError;
use crate::mail::deliverable;
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
