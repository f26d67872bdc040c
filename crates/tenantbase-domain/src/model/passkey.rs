//! Passkeys as their owner sees them: a name, and when and how they are used. The
//! credential itself (public key, signature counter) stays with the store and the
//! identity use cases.

use chrono::{DateTime, Utc};

use crate::id::{PasskeyId, UserId};

/// One registered passkey of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: PasskeyId,
    pub user_id: UserId,
    pub name: String,
    /// The authenticator may copy it to other devices (a synced passkey).
    pub backup_eligible: bool,
    /// It was copied when last seen.
    pub backed_up: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}
