//! Hot-path caches of authentication: verified access tokens (skipping the signature
//! check for a token seen moments ago) and sessions (skipping the database read).
//!
//! Revocations made by this process evict at once; another replica's revocation reaches
//! this one within `SESSION_TTL`, which is the documented revocation bound (5 s).

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

    pub(super) fn remember_session(&self, session: Session) {
        self.sessions.insert(session.id, session);
    }

    pub(super) fn forget_session(&self, id: SessionId) {
        self.sessions.invalidate(&id);
    }

    pub(super) fn forget_user_sessions(&self, user: UserId) {
        // Only fails when closures are not enabled, which `new` does.
        let _ = self
            .sessions
            .invalidate_entries_if(move |_, session| session.user_id == user);
    }
}
