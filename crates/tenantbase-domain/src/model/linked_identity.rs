//! An identity at an OpenID provider, linked to an account: the account signs in through
//! it. Keyed by (issuer, subject), which the provider guarantees stable and unique.

use chrono::{DateTime, Utc};

use crate::id::{IdentityId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub id: IdentityId,
    pub user_id: UserId,
    /// The configured provider's name.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The email the provider asserted when it was linked (shown, never trusted).
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}
