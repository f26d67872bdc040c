//! What sign-ins leave behind once it has ended: sessions past their absolute expiry
//! (their refresh tokens go with them), single-use tokens and trusted devices past
//! theirs. Nothing reads them any more, and sessions hold the IP address and user agent
//! they were opened from: they are deleted some time after they ended (`auth.cleanup`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// How many rows of each kind one call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedAuth {
    pub sessions: u64,
    pub user_tokens: u64,
    pub trusted_devices: u64,
}

#[async_trait]
pub trait AuthRetentionStore: Send + Sync {
    /// Deletes up to `limit` rows of each kind that expired before `before`.
    async fn prune_ended_auth(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<PrunedAuth>;
}
