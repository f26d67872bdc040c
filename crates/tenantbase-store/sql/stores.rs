//! The store's area traits for this backend's store type: each call goes to its
//! resource's statements with the right pool — reads through `reader()`, writes through
//! `writer()` (on SQLite a read-only pool and the single writer; on PostgreSQL both are
//! the one pool).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_domain::model::{
    Avatar, ChainHead, ClaimedJob, Event, Job, JobClaim, JobState, LinkedIdentity, MfaChallenge,
    MfaFactor, Profile, QueueDepth, Session, Setting, SigningKeyRow, TrustedDevice, User,
};
use tenantbase_store::identity::passkeys::StoredPasskey;
use tenantbase_store::identity::retention::PrunedAuth;
use tenantbase_store::platform::events::UnsealedChain;
use tenantbase_store::{
    AuthRetentionStore, EventStore, JobStore, MfaStore, OidcStore, PasskeyStore, ProfileStore,
    SessionStore, SettingsStore, SigningKeyStore, StoreResult, UserStore, UserTokenStore,
};

use super::identity::{
    mfa, oidc, passkeys, profiles, retention, sessions, signing_keys, user_tokens, users,
};
use super::platform::{events, jobs, settings};
use crate::dialect::BackendStore;

#[async_trait]
impl SettingsStore for BackendStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<Setting>> {
        settings::get_setting(self.reader(), key).await
    }

    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<Setting> {
        settings::put_setting(self.writer(), key, value).await
    }

    async fn delete_setting(&self, key: &str) -> StoreResult<()> {
        settings::delete_setting(self.writer(), key).await
    }
}

#[async_trait]
impl EventStore for BackendStore {
    async fn events_after(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        events::events_after(self.reader(), chain, after_seq, limit).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>> {
        events::chain_heads(self.reader()).await
    }

    async fn headless_chains(&self) -> StoreResult<Vec<String>> {
        events::headless_chains(self.reader()).await
    }

    async fn unsealed_chains(&self) -> StoreResult<Vec<UnsealedChain>> {
        events::unsealed_chains(self.reader()).await
    }
}

#[async_trait]
impl JobStore for BackendStore {
    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        jobs::claim_jobs(self.writer(), worker, kinds, now, now + lease, limit).await
    }

    async fn complete_jobs(
        &self,
        claims: &[JobClaim],
        worker: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        jobs::complete_jobs(self.writer(), claims, worker, now).await
    }

    async fn fail_job(
        &self,
        claim: JobClaim,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        jobs::fail_job(self.writer(), claim, worker, error, retry_at, now).await
    }

    async fn list_jobs(&self, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>> {
        jobs::list_jobs(self.reader(), state, limit).await
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        jobs::get_job(self.reader(), id).await
    }

    async fn queue_depth(&self) -> StoreResult<Vec<QueueDepth>> {
        jobs::queue_depth(self.reader()).await
    }

    async fn delete_finished_jobs(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        jobs::delete_finished_jobs(self.writer(), before, limit).await
    }
}

#[async_trait]
impl AuthRetentionStore for BackendStore {
    async fn prune_ended_auth(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<PrunedAuth> {
        retention::prune_ended_auth(self.writer(), before, limit).await
    }
}

#[async_trait]
impl UserStore for BackendStore {
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        users::user_by_email(self.reader(), email).await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<User> {
        users::user_by_id(self.reader(), id).await
    }
}

#[async_trait]
impl SessionStore for BackendStore {
    async fn session_by_id(&self, id: SessionId) -> StoreResult<Session> {
        sessions::session_by_id(self.reader(), id).await
    }

    async fn live_sessions(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Session>> {
        sessions::live_sessions(self.reader(), user_id, now).await
    }

    async fn touch_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sessions::touch_session(self.writer(), id, now, idle_expires_at).await
    }
}

#[async_trait]
impl UserTokenStore for BackendStore {
    async fn user_token_owner(
        &self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>> {
        user_tokens::user_token_owner(self.reader(), token_hash, purpose, now).await
    }
}

#[async_trait]
impl SigningKeyStore for BackendStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        signing_keys::signing_keys(self.reader()).await
    }
}

#[async_trait]
impl ProfileStore for BackendStore {
    async fn profile(&self, user: UserId) -> StoreResult<Profile> {
        profiles::profile(self.reader(), user).await
    }

    async fn update_profile(&self, user: UserId, profile: &Profile) -> StoreResult<()> {
        profiles::update_profile(self.writer(), user, profile).await
    }

    async fn set_avatar(
        &self,
        user: UserId,
        previous: Option<&Avatar>,
        avatar: Option<&Avatar>,
    ) -> StoreResult<bool> {
        profiles::set_avatar(self.writer(), user, previous, avatar).await
    }
}

#[async_trait]
impl MfaStore for BackendStore {
    async fn mfa_factors(&self, user_id: UserId) -> StoreResult<Vec<MfaFactor>> {
        mfa::mfa_factors(self.reader(), user_id).await
    }

    async fn backup_codes_left(&self, user_id: UserId) -> StoreResult<u64> {
        mfa::backup_codes_left(self.reader(), user_id).await
    }

    async fn mfa_challenge(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MfaChallenge>> {
        mfa::mfa_challenge(self.reader(), token_hash, now).await
    }

    async fn trusted_devices(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TrustedDevice>> {
        mfa::trusted_devices(self.reader(), user_id, now).await
    }
}

#[async_trait]
impl OidcStore for BackendStore {
    async fn identities_of(&self, user_id: UserId) -> StoreResult<Vec<LinkedIdentity>> {
        oidc::identities_of(self.reader(), user_id).await
    }
}

#[async_trait]
impl PasskeyStore for BackendStore {
    async fn passkeys(&self, user: UserId) -> StoreResult<Vec<StoredPasskey>> {
        passkeys::passkeys(self.reader(), user).await
    }
}
