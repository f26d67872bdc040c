//! What a new account signs up with (registering, or a guest upgrading): checked
//! together, so that one 422 names every field that is wrong.

use tenantbase_domain::email::Email;
use tenantbase_domain::password::{Password, PasswordPolicy};

use super::IdentityError;
use crate::mail::deliverable;
use crate::tenancy::profiles::DISPLAY_NAME_MAX;
use crate::tenancy::{FieldProblem, required_text};

/// A new account's address, password and the name it shows.
pub(super) struct NewAccount {
    pub(super) email: Email,
    pub(super) password: Password,
    pub(super) display_name: String,
}

/// Parses a new account's fields, or reports every problem at once. A display name is
/// checked as a profile's is (never cut short); without one, or a blank one, the
/// address's local part stands in.
pub(super) fn new_account(
    email: &str,
    password: &str,
    display_name: Option<&str>,
    policy: &PasswordPolicy,
) -> Result<NewAccount, IdentityError> {
    let email = deliverable(email);
    let password = Password::new(password, email.as_ref().ok().map(Email::as_str), policy);
    let display_name = display_name
        .filter(|name| !name.trim().is_empty())
        .map(|name| required_text("display_name", name, DISPLAY_NAME_MAX))
        .transpose();
    match (email, password, display_name) {
        (Ok(email), Ok(password), Ok(display_name)) => Ok(NewAccount {
            display_name: display_name.unwrap_or_else(|| email.local_part().to_owned()),
            email,
            password,
        }),
        (email, password, display_name) => Err(IdentityError::InvalidFields(
            [
                email
                    .err()
                    .map(|message| FieldProblem::new("email", message)),
                password
                    .err()
                    .map(|e| FieldProblem::new("password", e.to_string())),
                display_name.err(),
            ]
            .into_iter()
            .flatten()
            .collect(),
        )),
    }
}

/// A new account's address and password (a guest keeps the name it has).
pub(super) fn new_credentials(
    email: &str,
    password: &str,
    policy: &PasswordPolicy,
) -> Result<(Email, Password), IdentityError> {
    new_account(email, password, None, policy).map(|account| (account.email, account.password))
}
