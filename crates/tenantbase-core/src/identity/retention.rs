//! `auth.cleanup`: deletes sessions, single-use tokens, trusted devices and what waited
//! between the steps of a sign-in (second-step challenges, emailed codes, WebAuthn
//! ceremonies, OpenID flows and link codes), and invitations to orgs, that ended more
//! than `keep` ago (`auth.keep_ended_days`), so the tables hold what can still be used,
//! plus a window to look into recent ones — not every IP address and user agent an
//! account ever signed in from, nor every address an org ever invited.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenantbase_store::Store;
use tenantbase_store::identity::retention::PrunedAuth;

use crate::jobs::builtin::kept_since;
use crate::jobs::{JobContext, JobError, JobHandler};

/// Rows of each kind one statement deletes: a short hold of SQLite's writer.
const BATCH: u32 = 1_000;
/// Batches one run deletes at most (100,000 rows of each kind); the next run goes on.
const MAX_BATCHES: u32 = 100;

pub struct PruneEndedAuth {
    pub store: Arc<dyn Store>,
    pub keep: Duration,
}

impl PruneEndedAuth {
    pub const KIND: &'static str = "auth.cleanup";
}

#[async_trait]
impl JobHandler for PruneEndedAuth {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let Some(before) = kept_since(self.keep) else {
            return Ok(());
        };
        let mut pruned = PrunedAuth::default();
        for _ in 0..MAX_BATCHES {
            let batch = self
                .store
                .prune_ended_auth(before, BATCH)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            pruned += batch;
            if batch.most() < u64::from(BATCH) {
                break;
            }
        }
        tracing::info!(
            sessions = pruned.sessions,
            user_tokens = pruned.user_tokens,
            trusted_devices = pruned.trusted_devices,
            mfa_challenges = pruned.mfa_challenges,
            mfa_email_codes = pruned.mfa_email_codes,
            mfa_step_up_email_codes = pruned.mfa_step_up_email_codes,
            webauthn_ceremonies = pruned.webauthn_ceremonies,
            oidc_flows = pruned.oidc_flows,
            oidc_link_codes = pruned.oidc_link_codes,
            invitations = pruned.invitations,
            "deleted what ended sign-ins and invitations left behind"
        );
        Ok(())
    }
}
