//! What to send (`MessageKind`, the template and its variables) and what a transport
//! sends (`OutgoingEmail`, the rendered result).

use serde::{Deserialize, Serialize};

/// Which message to send, with its variables (all user-provided strings must be escaped in HTML).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum MessageKind {
    /// Confirms that the user owns the address; `link` carries the verification token.
    VerifyEmail { display_name: String, link: String },
    /// Lets the user choose a new password; `link` stops working after the expiry.
    ResetPassword {
        display_name: String,
        link: String,
        expires_in_minutes: u32,
    },
    /// Invites someone (maybe without an account yet) to join an organization.
    Invitation {
        inviter_name: String,
        org_name: String,
        link: String,
    },
    /// Tells the user their account was signed in to, so they notice if it was not them.
    NewSignIn {
        display_name: String,
        device: String,
        ip: String,
        time: String,
    },
    /// A one-time code for a second factor delivered by email.
    MfaCode {
        display_name: String,
        code: String,
        expires_in_minutes: u32,
        /// The code confirms a signed-in user for a sensitive change (a step-up) rather
        /// than a sign-in. Absent in messages queued before it existed.
        #[serde(default)]
        step_up: bool,
    },
    /// Tells the user a second factor (`factor`: `totp`, `email`) was removed from the
    /// account, so they notice if it was not them.
    MfaRemoved {
        display_name: String,
        factor: String,
    },
    /// Confirms a new address for an account: following `link` makes it the account's.
    ConfirmEmailChange {
        display_name: String,
        link: String,
        expires_in_minutes: u32,
    },
    /// Tells the old address that the account's address changed, so the user notices if
    /// it was not them.
    EmailChanged { display_name: String },
    /// Tells the user a passkey was added to their account, so they notice if it was not them.
    PasskeyAdded {
        display_name: String,
        passkey_name: String,
        time: String,
    },
}

/// A fully rendered message: what a transport sends. It is also a job payload, so Serialize + Deserialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    /// The recipient, `user@example.com` or `Name <user@example.com>`.
    pub to: String,
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
}
