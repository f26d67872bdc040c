//! Hot-path caches of authentication: verified access tokens (skipping the signature
//! check for a token seen moments ago) and sessions (skipping the database read).
//!
//! Revocations made by this process evict at once; another replica's revocation reaches
//! this one within `SESSION_TTL`, which is the documented revocation bound (5 s).
//!
//! A session read from the store may be stale by the time it is cached: a request that
//! read the live row just before a logout committed would put it back after the logout
//! evicted it, and the logged-out token would work again here until the entry expires.
//! So every eviction bumps a generation counter, and a read is cached only if no eviction
//! happened since it began (`begin_session_read` / `remember_session`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_store::identity::Session;

use super::tokens::AccessClaims;

/// How long a session read stands in for the database.
pub const SESSION_TTL: Duration = Duration::from_secs(5);
/// How long a verified token is trusted without checking its signature again (its
/// `exp` is still checked on every use).
const TOKEN_TTL: Duration = Duration::from_secs(30);
const CAPACITY: u64 = 100_000;

pub(super) struct AuthCache {
    tokens: Cache<[u8; 32], AccessClaims>,
    sessions: Cache<SessionId, Session>,
    /// Session evictions so far. One counter for all sessions: an eviction only costs the
    /// reads in flight at that moment their caching, and they are rare next to reads.
    evictions: AtomicU64,
}

/// The eviction generation when a session read from the store began.
#[must_use = "pass it to `remember_session` with what the read returned"]
pub(super) struct SessionRead(u64);

impl AuthCache {
    pub(super) fn new() -> Self {
        Self {
            tokens: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TOKEN_TTL)
                .build(),
            sessions: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(SESSION_TTL)
                .support_invalidation_closures()
                .build(),
            evictions: AtomicU64::new(0),
        }
    }

    /// Cached tokens are keyed by their SHA-256, so the cache never holds a usable token.
    pub(super) fn token_key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    pub(super) fn claims(&self, key: &[u8; 32]) -> Option<AccessClaims> {
        self.tokens.get(key)
    }

    pub(super) fn remember_claims(&self, key: [u8; 32], claims: AccessClaims) {
        self.tokens.insert(key, claims);
    }

    pub(super) fn session(&self, id: SessionId) -> Option<Session> {
        self.sessions.get(&id)
    }

    /// Call before reading a session from the store, to cache what the read returns.
    pub(super) fn begin_session_read(&self) -> SessionRead {
        SessionRead(self.evictions.load(Ordering::SeqCst))
    }

    /// Caches `session` as read since `read` began, unless an eviction came in between.
    pub(super) fn remember_session(&self, read: SessionRead, session: Session) {
        let id = session.id;
        self.sessions.insert(id, session);
        // Checked after inserting: an eviction that bumped the counter before this load
        // is seen here and undone; one that bumps it later also invalidates after it, so
        // removes this entry itself. Either way no stale row survives an eviction.
        if self.evictions.load(Ordering::SeqCst) != read.0 {
            self.sessions.invalidate(&id);
        }
    }

    /// Evicts one session; call after the change that made it stale has committed.
    pub(super) fn forget_session(&self, id: SessionId) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.sessions.invalidate(&id);
    }

    /// Evicts every session of `user`; call after the change has committed.
    pub(super) fn forget_user_sessions(&self, user: UserId) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        // Only fails when closures are not enabled, which `new` does.
        let _ = self
            .sessions
            .invalidate_entries_if(move |_, session| session.user_id == user);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn session() -> Session {
        let now = Utc::now();
        Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            device_id: None,
            device_label: None,
            user_agent: None,
            ip: None,
            amr: vec!["pwd".to_owned()],
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + chrono::Duration::days(1),
            absolute_expires_at: now + chrono::Duration::days(2),
            revoked_at: None,
        }
    }

    #[test]
    fn a_read_that_began_before_an_eviction_is_not_cached() {
        let cache = AuthCache::new();
        let live = session();
        let read = cache.begin_session_read();
        // The logout commits and evicts while the read is on its way back.
        cache.forget_session(live.id);
        cache.remember_session(read, live.clone());
        assert!(cache.session(live.id).is_none(), "the stale row came back");

        let read = cache.begin_session_read();
        cache.forget_user_sessions(live.user_id);
        cache.remember_session(read, live.clone());
        assert!(cache.session(live.id).is_none(), "revoke-all: the stale row came back");
    }

    #[test]
    fn a_read_with_no_eviction_since_it_began_is_cached() {
        let cache = AuthCache::new();
        let live = session();
        cache.forget_session(SessionId::new());
        let read = cache.begin_session_read();
        cache.remember_session(read, live.clone());
        assert_eq!(cache.session(live.id).map(|s| s.id), Some(live.id));
    }
}
