//! Opening a session: the first of an account just created, or a sign-in's, which may
//! pass the account's session limit and come from a device it has not used.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, SessionId};
use tenantbase_domain::model::{RequestMeta, Session, User};
use tenantbase_store::identity::sessions::NewSession;
use tenantbase_store::platform::events::NewEvent;

use super::accounts::{
    Device, Identity, IdentityWrite, chrono_duration, hash_refresh_token, new_refresh_token,
    user_event,
};
use super::cache::AuthStale;
use super::{IdentityError, TokenPair};
use crate::write::Change;

/// What a new session is: how it signed in, and its access tokens' lifetime (`None`:
/// the configured one).
pub(super) struct Grant {
    pub amr: Vec<String>,
    pub access_ttl: Option<Duration>,
    /// The linked identity an OpenID sign-in came through: unlinking it ends the session.
    pub identity: Option<IdentityId>,
    pub opening: Opening,
}

/// How a session comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opening {
    /// The first session of an account just created: no limit to pass, no device to
    /// tell about.
    NewAccount,
    /// A sign-in to an existing account: it may pass the account's session limit and come
    /// from a device the account has not used.
    SignIn,
}

impl Identity {
    /// Creates the first session of the account just created in `unit`, commits it with
    /// `event`, and issues the token pair (a guest's signed in as a guest, with the
    /// guests' short access tokens; anyone else's with a password).
    pub(super) async fn open_first_session(
        &self,
        unit: IdentityWrite<'_>,
        event: NewEvent,
        user: User,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let (amr, access_ttl) = if user.is_guest {
            ("guest", Some(self.sessions.guest_access_ttl))
        } else {
            ("pwd", None)
        };
        let grant = Grant {
            amr: vec![amr.to_owned()],
            access_ttl,
            identity: None,
            opening: Opening::NewAccount,
        };
        self.open_session_as(
            unit,
            Change::new(AuthStale::Nothing, event),
            user,
            device,
            request,
            grant,
        )
        .await
    }

    /// Creates the session `grant` describes in `unit`, commits it with `change` (the
    /// sign-in's events), and issues the token pair.
    pub(super) async fn open_session_as(
        &self,
        mut unit: IdentityWrite<'_>,
        change: Change<AuthStale>,
        user: User,
        device: &Device,
        request: &RequestMeta,
        grant: Grant,
    ) -> Result<TokenPair, IdentityError> {
        let Grant {
            amr,
            access_ttl,
            identity,
            opening,
        } = grant;
        let now = Utc::now();
        let refresh_token = new_refresh_token()?;
        let session = unit
            .create_session(
                NewSession {
                    id: SessionId::new(),
                    user_id: user.id,
                    device_id: device.id.clone(),
                    device_label: device.label.clone(),
                    user_agent: request.user_agent.clone(),
                    ip: request.ip.clone(),
                    amr,
                    identity_id: identity,
                    idle_expires_at: now + chrono_duration(self.sessions.idle),
                    absolute_expires_at: now + chrono_duration(self.sessions.absolute),
                },
                &hash_refresh_token(&refresh_token),
            )
            .await?;
        unit.commit(change).await?;
        if opening == Opening::SignIn {
            // Two reads of the account's other sessions, independent: one wait, not two.
            let (limited, noticed) = tokio::join!(
                self.enforce_session_limit(&user, request),
                self.notice_sign_in(&user, session.id, device, request),
            );
            limited?;
            noticed?;
        }
        self.token_pair(user, &session, refresh_token, access_ttl, now)
    }

    /// Ends the user's oldest live sessions beyond `max_per_user`.
    async fn enforce_session_limit(
        &self,
        user: &User,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let now = Utc::now();
        let live = self.store.live_sessions(user.id, now).await?;
        if live.len() <= self.sessions.max_per_user {
            return Ok(());
        }
        let excess = &live[self.sessions.max_per_user..];
        let mut unit = self.write().await?;
        for session in excess {
            unit.revoke_session(session.id, "auth.session.limit", now)
                .await?;
        }
        let mut events = excess.iter().map(|session| {
            let payload = serde_json::json!({"session_id": session.id.to_string(), "reason": "session limit"});
            user_event("auth.session.revoked", user, request, payload)
        });
        let Some(first) = events.next() else {
            return Ok(());
        };
        let ids = excess.iter().map(|session| session.id).collect();
        let change = events.fold(Change::new(AuthStale::Sessions(ids), first), Change::and);
        unit.commit(change).await?;
        Ok(())
    }

    pub(super) fn token_pair(
        &self,
        user: User,
        session: &Session,
        refresh_token: String,
        access_ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, IdentityError> {
        let (access_token, claims) = self.issue_for(&user, session, None, access_ttl, now)?;
        Ok(TokenPair {
            expires_in: u64::try_from(claims.exp - claims.iat).unwrap_or(0),
            access_token,
            refresh_token,
            session_id: session.id,
            user,
        })
    }
}
