//! Hot-path caches of authentication: verified access tokens (skipping the signature
//! check for a token seen moments ago) and sessions (skipping the database read).
//!
//! Revocations made by this process evict at once; another replica's revocation reaches
//! this one within `SESSION_TTL`, which is the documented revocation bound (5 s).
//!
//! A session read from the store may be stale by the time it is cached: a request that
//! read the live row just before a logout committed would put it back after the logout
//! evicted it, and the logged-out token would work again here until the entry expires.
//! So `session_or_load` caches a read only if no eviction came while it was under way
//! (`EvictionGuard`).
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_domain::model::Session;
use tenantbase_store::StoreResult;

use super::tokens::AccessClaims;
use crate::cache_guard::EvictionGuard;
use crate::write::Evict;

/// How long a session read stands in for the database.
pub const SESSION_TTL: Duration = Duration::from_secs(5);
/// How long a verified token is trusted without checking its signature again (its
/// `exp` is still checked on every use).
const TOKEN_TTL: Duration = Duration::from_secs(30);
const CAPACITY: u64 = 100_000;

pub(super) struct AuthCache {
    tokens: Cache<[u8; 32], AccessClaims>,
    sessions: Cache<SessionId, Session>,
    /// Session evictions against the reads under way.
    evictions: EvictionGuard,
}

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
            evictions: EvictionGuard::default(),
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

    /// The session `id`, from the cache or else from `load` (not yet started: a future
    /// runs only when awaited). What `load` returns is cached unless an eviction came
    /// while it was under way; then it may predate a revocation, so this one request gets
    /// it but the cache does not keep it.
    pub(super) async fn session_or_load(
        &self,
        id: SessionId,
        load: impl Future<Output = StoreResult<Session>>,
    ) -> StoreResult<Session> {
        if let Some(session) = self.sessions.get(&id) {
            return Ok(session);
        }
        let mark = self.evictions.mark();
        let session = load.await?;
        self.evictions.insert_unless_evicted(mark, || {
            self.sessions.insert(id, session.clone());
        });
        Ok(session)
    }

    /// Evicts one session; call after the change that made it stale has committed.
    pub(super) fn forget_session(&self, id: SessionId) {
        self.evictions.evict(|| self.sessions.invalidate(&id));
    }

    /// Evicts every session of `user`; call after the change has committed.
    pub(super) fn forget_user_sessions(&self, user: UserId) {
        self.evictions.evict(|| {
            // Only fails when closures are not enabled, which `new` does.
            let _ = self
                .sessions
                .invalidate_entries_if(move |_, session| session.user_id == user);
        });
    }
}

/// The kind of an identity change, which decides what it makes stale in the auth cache.
/// Tokens are never evicted: a token's session is checked on every use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AuthStale {
    /// Accounts, emails and keys: nothing the cache holds.
    Nothing,
    /// Sessions revoked one by one.
    Sessions(Vec<SessionId>),
    /// Every session of a user revoked (or all but one).
    UserSessions(UserId),
}

impl AuthStale {
    /// What this makes stale and the sessions `revoked` too.
    pub(super) fn and_sessions(self, mut revoked: Vec<SessionId>) -> Self {
        match self {
            _ if revoked.is_empty() => self,
            AuthStale::Nothing => AuthStale::Sessions(revoked),
            AuthStale::Sessions(mut ids) => {
                ids.append(&mut revoked);
                AuthStale::Sessions(ids)
            }
            AuthStale::UserSessions(user) => AuthStale::UserSessions(user),
        }
    }
}

impl Evict<AuthStale> for &AuthCache {
    fn evict(&self, stale: AuthStale) {
        match stale {
            AuthStale::Nothing => {}
            AuthStale::Sessions(ids) => ids.into_iter().for_each(|id| self.forget_session(id)),
            AuthStale::UserSessions(user) => self.forget_user_sessions(user),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tenantbase_store::StoreError;

    use super::*;

    #[test]
    fn revoked_sessions_join_what_a_change_makes_stale() {
        let (a, b) = (SessionId::new(), SessionId::new());
        assert!(matches!(
            AuthStale::Nothing.and_sessions(vec![]),
            AuthStale::Nothing
        ));
        assert!(matches!(
            AuthStale::Nothing.and_sessions(vec![a]),
            AuthStale::Sessions(ids) if ids == [a]
        ));
        assert!(matches!(
            AuthStale::Sessions(vec![a]).and_sessions(vec![b]),
            AuthStale::Sessions(ids) if ids == [a, b]
        ));
        // Every session of the user is stale already.
        let user = UserId::new();
        assert!(matches!(
            AuthStale::UserSessions(user).and_sessions(vec![a]),
            AuthStale::UserSessions(u) if u == user
        ));
    }

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
            authenticated_at: now,
            identity_id: None,
        }
    }

    /// A load that a lookup after it would have to do again: the cache kept nothing.
    async fn was_cached(cache: &AuthCache, id: SessionId) -> bool {
        cache
            .session_or_load(id, async { Err(StoreError::NotFound) })
            .await
            .is_ok()
    }

    /// Reads the live row, then waits for `evict` to run before returning it: a
    /// request's read that a logout's commit and eviction overtake.
    async fn read_overtaken_by(cache: &AuthCache, live: &Session, evict: impl FnOnce()) {
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let row = live.clone();
        let mut read = Box::pin(cache.session_or_load(live.id, async move {
            let _ = gate.await;
            Ok(row)
        }));
        assert!(
            futures::poll!(&mut read).is_pending(),
            "the read is under way"
        );
        evict();
        release.send(()).expect("the read waits");
        let served = read.await.expect("the read answers");
        assert_eq!(served.id, live.id, "the request itself gets what it read");
    }

    #[tokio::test]
    async fn a_read_that_a_logout_overtakes_is_not_cached() {
        let cache = AuthCache::new();
        let live = session();
        read_overtaken_by(&cache, &live, || cache.forget_session(live.id)).await;
        assert!(
            !was_cached(&cache, live.id).await,
            "the revoked session came back"
        );
    }

    /// Once an eviction has returned, no lookup on any thread finds the session, not even
    /// for the moment a read that the eviction overtook takes to finish: racing threads,
    /// 2,000 rounds, each looking the session up until the overtaken read has ended.
    #[test]
    fn no_lookup_finds_a_session_once_its_eviction_returned() {
        let cache = std::sync::Arc::new(AuthCache::new());
        for round in 0..2_000 {
            let live = session();
            let (read_started, evicted) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
            std::thread::scope(|scope| {
                let reader = scope.spawn(|| {
                    futures::executor::block_on(cache.session_or_load(live.id, async {
                        read_started.wait();
                        evicted.wait();
                        Ok(live.clone())
                    }))
                });
                read_started.wait();
                cache.forget_session(live.id);
                evicted.wait();
                while !reader.is_finished() {
                    assert!(
                        cache.sessions.get(&live.id).is_none(),
                        "round {round}: the evicted session was found"
                    );
                }
                reader.join().expect("reader").expect("the read answers");
            });
            assert!(cache.sessions.get(&live.id).is_none(), "round {round}");
        }
    }

    #[tokio::test]
    async fn a_read_that_a_revoke_all_overtakes_is_not_cached() {
        let cache = AuthCache::new();
        let live = session();
        read_overtaken_by(&cache, &live, || cache.forget_user_sessions(live.user_id)).await;
        assert!(
            !was_cached(&cache, live.id).await,
            "the revoked session came back"
        );
    }

    #[tokio::test]
    async fn a_read_with_no_eviction_under_way_is_cached() {
        let cache = AuthCache::new();
        let live = session();
        cache.forget_session(SessionId::new());
        let row = live.clone();
        cache
            .session_or_load(live.id, async move { Ok(row) })
            .await
            .expect("loads");
        assert!(was_cached(&cache, live.id).await);
    }
}
