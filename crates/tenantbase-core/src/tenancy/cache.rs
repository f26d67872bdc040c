//! What authorization reads on every request, cached briefly: a user's permissions in an
//! org and an API key's grant. Changes made by this process evict at once — what a change
//! evicts follows from its kind (`OrgStale`), applied by `crate::write` on commit; another
//! replica's change reaches this one within `ACCESS_TTL` — the same bound as session
//! revocation (`REVOCATION_BOUND`). A grant read while an eviction came is not cached
//! (`EvictionGuard`): a request that read a key just before its revocation committed
//! would otherwise put it back.

use std::sync::Arc;

use moka::sync::Cache;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::ApiKey;
use tenantbase_domain::{OrgId, PermissionSet};

use crate::cache_guard::{EvictionGuard, ReadMark};
use crate::identity::REVOCATION_BOUND as ACCESS_TTL;
use crate::write::Evict;

const CAPACITY: u64 = 100_000;

/// A user's standing in one org.
#[derive(Debug, Clone)]
pub(super) struct MemberGrant {
    pub permissions: PermissionSet,
    pub roles: Arc<[String]>,
    pub org_deleted: bool,
    /// The org's `require_mfa` rule.
    pub org_requires_mfa: bool,
}

/// A live API key and what it may do (its permissions within its creator's).
#[derive(Debug, Clone)]
pub(super) struct KeyGrant {
    pub key: ApiKey,
    pub permissions: PermissionSet,
    pub org_deleted: bool,
}

impl KeyGrant {
    /// Whether its key has not expired by `now`: a cached grant can outlive the key's
    /// `expires_at` by up to the cache's lifetime, so every use asks.
    pub(super) fn live_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.key.expires_at.is_none_or(|at| at > now)
    }
}

pub(super) struct AccessCache {
    /// `None`: not a member (or no such org).
    members: Cache<(UserId, OrgId), Option<MemberGrant>>,
    /// By the secret's hash; `None`: unknown, revoked or expired.
    keys: Cache<(OrgId, String), Option<KeyGrant>>,
    /// Evictions of either against the reads under way.
    evictions: EvictionGuard,
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
            evictions: EvictionGuard::default(),
        }
    }

    /// Take before reading a grant from the store, to remember it with.
    pub(super) fn mark(&self) -> ReadMark {
        self.evictions.mark()
    }

    pub(super) fn member(&self, user: UserId, org: OrgId) -> Option<Option<MemberGrant>> {
        self.members.get(&(user, org))
    }

    /// Caches `grant`, read since `mark`, unless an eviction came since.
    pub(super) fn remember_member(
        &self,
        mark: ReadMark,
        (user, org): (UserId, OrgId),
        grant: Option<MemberGrant>,
    ) {
        self.evictions
            .insert_unless_evicted(mark, || self.members.insert((user, org), grant));
    }

    pub(super) fn key(&self, org: OrgId, hash: &str) -> Option<Option<KeyGrant>> {
        self.keys.get(&(org, hash.to_owned()))
    }

    /// Caches `grant`, read since `mark`, unless an eviction came since.
    pub(super) fn remember_key(
        &self,
        mark: ReadMark,
        (org, hash): (OrgId, String),
        grant: Option<KeyGrant>,
    ) {
        self.evictions
            .insert_unless_evicted(mark, || self.keys.insert((org, hash), grant));
    }

    /// Every grant in `org`: a key's grant is cut to its creator's, so whatever changes a
    /// member's changes the keys' too.
    fn forget_org(&self, org: OrgId) {
        self.evictions.evict(|| {
            // Errors only when invalidation closures are not enabled, which they are.
            let _ = self
                .members
                .invalidate_entries_if(move |(_, o), _| *o == org);
            self.drop_keys(org);
        });
    }

    fn forget_keys(&self, org: OrgId) {
        self.evictions.evict(|| self.drop_keys(org));
    }

    /// The removal alone, inside an eviction: `evict` cannot be entered twice.
    fn drop_keys(&self, org: OrgId) {
        let _ = self.keys.invalidate_entries_if(move |(o, _), _| *o == org);
    }

    /// The view of this cache that a change of `org` evicts from.
    pub(super) fn of(&self, org: OrgId) -> OrgEntries<'_> {
        OrgEntries { cache: self, org }
    }
}

/// The kind of an org change, which decides what it makes stale in the access cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrgStale {
    /// The org's content — projects, files, pending invitations, its name — which no
    /// grant reads.
    Nothing,
    /// Members and teams: who belongs, with which roles.
    Membership,
    /// The org's roles and what they grant.
    Roles,
    /// API keys created or revoked.
    ApiKeys,
    /// The org created, deleted or restored (grants carry `org_deleted`).
    OrgState,
}

/// The entries of one org in the cache.
pub(crate) struct OrgEntries<'c> {
    cache: &'c AccessCache,
    org: OrgId,
}

impl Evict<OrgStale> for OrgEntries<'_> {
    fn evict(&self, stale: OrgStale) {
        match stale {
            OrgStale::Nothing => {}
            OrgStale::ApiKeys => self.cache.forget_keys(self.org),
            OrgStale::Membership | OrgStale::Roles | OrgStale::OrgState => {
                self.cache.forget_org(self.org)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tenantbase_domain::id::ApiKeyId;

    use super::*;

    #[test]
    fn a_key_grant_is_live_until_its_key_expires() {
        let mut grant = key().expect("grant");
        let now = Utc::now();
        assert!(grant.live_at(now), "no expiry");
        grant.key.expires_at = Some(now + chrono::Duration::seconds(1));
        assert!(grant.live_at(now));
        assert!(
            !grant.live_at(now + chrono::Duration::seconds(1)),
            "at its expiry"
        );
    }

    /// A grant read before a change of its org committed, remembered after that change
    /// evicted it: a revoked key or a removed member would work again until it expired.
    #[test]
    fn a_grant_read_before_an_eviction_is_not_remembered() {
        let cache = AccessCache::new();
        let (org, user) = (OrgId::new(), UserId::new());
        for stale in [OrgStale::ApiKeys, OrgStale::Membership] {
            let mark = cache.mark();
            cache.of(org).evict(stale);
            cache.remember_key(mark, (org, "hash".to_owned()), key());
            cache.remember_member(mark, (user, org), member());
            assert!(
                cache.key(org, "hash").is_none(),
                "{stale:?}: the key came back"
            );
            assert!(
                cache.member(user, org).is_none(),
                "{stale:?}: the member came back"
            );
        }
        let mark = cache.mark();
        cache.remember_key(mark, (org, "hash".to_owned()), key());
        assert!(cache.key(org, "hash").is_some(), "no eviction: remembered");
    }

    fn member() -> Option<MemberGrant> {
        Some(MemberGrant {
            permissions: PermissionSet::all(),
            roles: Arc::from(vec!["owner".to_owned()]),
            org_deleted: false,
            org_requires_mfa: false,
        })
    }

    fn key() -> Option<KeyGrant> {
        Some(KeyGrant {
            key: ApiKey {
                id: ApiKeyId::new(),
                name: "k".to_owned(),
                prefix: "tb_k".to_owned(),
                permissions: vec![],
                created_by: UserId::new(),
                created_at: Utc::now(),
                expires_at: None,
                last_used_at: None,
                revoked_at: None,
            },
            permissions: PermissionSet::EMPTY,
            org_deleted: false,
        })
    }

    /// Which of (`org`'s member, `org`'s key, `other`'s member, `other`'s key) are still
    /// cached after `stale` is evicted from `org`.
    fn left_after(stale: OrgStale) -> [bool; 4] {
        let cache = AccessCache::new();
        let (org, other, user) = (OrgId::new(), OrgId::new(), UserId::new());
        for o in [org, other] {
            cache.remember_member(cache.mark(), (user, o), member());
            cache.remember_key(cache.mark(), (o, "hash".to_owned()), key());
        }
        cache.of(org).evict(stale);
        [
            cache.member(user, org).is_some(),
            cache.key(org, "hash").is_some(),
            cache.member(user, other).is_some(),
            cache.key(other, "hash").is_some(),
        ]
    }

    #[test]
    fn each_kind_of_change_evicts_what_it_made_stale_in_its_org_only() {
        assert_eq!(left_after(OrgStale::Nothing), [true, true, true, true]);
        assert_eq!(left_after(OrgStale::ApiKeys), [true, false, true, true]);
        for grants_changed in [OrgStale::Membership, OrgStale::Roles, OrgStale::OrgState] {
            assert_eq!(
                left_after(grants_changed),
                [false, false, true, true],
                "{grants_changed:?}"
            );
        }
    }
}
