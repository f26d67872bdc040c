//! What authorization reads on every request, cached briefly: a user's permissions in an
//! org and an API key's grant. Changes made by this process evict at once; another
//! replica's change reaches this one within `ACCESS_TTL` — the same bound as session
//! revocation (`REVOCATION_BOUND`).

use std::sync::Arc;

use moka::sync::Cache;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::ApiKey;
use tenantbase_domain::{OrgId, PermissionSet};

use crate::identity::REVOCATION_BOUND as ACCESS_TTL;

const CAPACITY: u64 = 100_000;

/// A user's standing in one org.
#[derive(Debug, Clone)]
pub(super) struct MemberGrant {
    pub permissions: PermissionSet,
    pub roles: Arc<[String]>,
    pub org_deleted: bool,
}

/// A live API key and what it may do (its permissions within its creator's).
#[derive(Debug, Clone)]
pub(super) struct KeyGrant {
    pub key: ApiKey,
    pub permissions: PermissionSet,
    pub org_deleted: bool,
}

pub(super) struct AccessCache {
    /// `None`: not a member (or no such org).
    members: Cache<(UserId, OrgId), Option<MemberGrant>>,
    /// By the secret's hash; `None`: unknown, revoked or expired.
    keys: Cache<(OrgId, String), Option<KeyGrant>>,
}

impl AccessCache {
    pub(super) fn new() -> Self {
        Self {
            members: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ACCESS_TTL)
                .support_invalidation_closures()
                .build(),
            keys: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ACCESS_TTL)
                .support_invalidation_closures()
                .build(),
        }
    }

    pub(super) fn member(&self, user: UserId, org: OrgId) -> Option<Option<MemberGrant>> {
        self.members.get(&(user, org))
    }

    pub(super) fn remember_member(&self, user: UserId, org: OrgId, grant: Option<MemberGrant>) {
        self.members.insert((user, org), grant);
    }

    pub(super) fn key(&self, org: OrgId, hash: &str) -> Option<Option<KeyGrant>> {
        self.keys.get(&(org, hash.to_owned()))
    }

    pub(super) fn remember_key(&self, org: OrgId, hash: String, grant: Option<KeyGrant>) {
        self.keys.insert((org, hash), grant);
    }

    /// After any change to who may do what in `org`: its members, roles, teams, keys or
    /// its deletion.
    pub(super) fn forget_org(&self, org: OrgId) {
        // Errors only when invalidation closures are not enabled, which they are.
        let _ = self
            .members
            .invalidate_entries_if(move |(_, o), _| *o == org);
        let _ = self.keys.invalidate_entries_if(move |(o, _), _| *o == org);
    }
}
