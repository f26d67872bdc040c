//! What sign-ins leave behind once it has ended: sessions past their absolute expiry
//! (their refresh tokens go with them), single-use tokens and trusted devices past
//! theirs, and what waited between the steps of a sign-in past its expiry — second-step
//! challenges, emailed codes, WebAuthn ceremonies, OpenID flows and link codes — and
//! invitations to orgs past theirs, accepted, revoked or never used. Nothing reads them
//! any more, sessions hold the IP address and user agent they were opened from and
//! invitations the address they were sent to: they are deleted some time after they
//! ended (`auth.cleanup`).

use std::ops::AddAssign;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// How many rows of each kind one call deleted, named by their table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedAuth {
    pub sessions: u64,
    pub user_tokens: u64,
    pub trusted_devices: u64,
    pub mfa_challenges: u64,
    pub mfa_email_codes: u64,
    pub mfa_step_up_email_codes: u64,
    pub webauthn_ceremonies: u64,
    pub oidc_flows: u64,
    pub oidc_link_codes: u64,
    pub invitations: u64,
}

impl PrunedAuth {
    /// The most rows of any one kind: when a call's is below its limit, it left none.
    pub fn most(&self) -> u64 {
        [
            self.sessions,
            self.user_tokens,
            self.trusted_devices,
            self.mfa_challenges,
            self.mfa_email_codes,
            self.mfa_step_up_email_codes,
            self.webauthn_ceremonies,
            self.oidc_flows,
            self.oidc_link_codes,
            self.invitations,
        ]
        .into_iter()
        .max()
        .unwrap_or_default()
    }
}

impl AddAssign for PrunedAuth {
    fn add_assign(&mut self, other: Self) {
        self.sessions += other.sessions;
        self.user_tokens += other.user_tokens;
        self.trusted_devices += other.trusted_devices;
        self.mfa_challenges += other.mfa_challenges;
        self.mfa_email_codes += other.mfa_email_codes;
        self.mfa_step_up_email_codes += other.mfa_step_up_email_codes;
        self.webauthn_ceremonies += other.webauthn_ceremonies;
        self.oidc_flows += other.oidc_flows;
        self.oidc_link_codes += other.oidc_link_codes;
        self.invitations += other.invitations;
    }
}

#[async_trait]
pub trait AuthRetentionStore: Send + Sync {
    /// Deletes up to `limit` rows of each kind that expired before `before`.
    async fn prune_ended_auth(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<PrunedAuth>;
}
