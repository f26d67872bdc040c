//! Opening a session: the first of an account just created, or a sign-in's, which may
//! pass the account's session limit and come from a device it has not used.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, PasskeyId, SessionId};
use tenantbase_domain::model::{RequestMeta, Session, User};
use tenantbase_mail::MessageKind;
use tenantbase_store::identity::sessions::{NewSession, SignInContext};
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
    /// The passkey the sign-in passed with (alone or as its second step): removing it
    /// ends the session.
    pub passkey: Option<PasskeyId>,
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
            passkey: None,
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
            passkey,
            opening,
        } = grant;
        let now = Utc::now();
        let refresh_token = new_refresh_token()?;
        let session = NewSession {
            id: SessionId::new(),
            user_id: user.id,
            device_id: device.id.clone(),
            device_label: device.label.clone(),
            user_agent: request.user_agent.clone(),
            ip: request.ip.clone(),
            amr,
            identity_id: identity,
            passkey_id: passkey,
            idle_expires_at: now + chrono_duration(self.sessions.idle),
            absolute_expires_at: now + chrono_duration(self.sessions.absolute),
        };
        let refresh_hash = hash_refresh_token(&refresh_token);
        let (session, change) = match opening {
            Opening::NewAccount => (unit.create_session(session, &refresh_hash).await?, change),
            Opening::SignIn => {
                let (session, context) = unit
                    .create_sign_in_session(session, &refresh_hash, self.sessions.max_per_user, now)
                    .await?;
                let opened = (&session, context);
                let change = self
                    .admit_sign_in(&mut unit, change, opened, &user, device, request)
                    .await?;
                (session, change)
            }
        };
        unit.commit(change).await?;
        self.token_pair(user, &session, refresh_token, access_ttl, now)
    }

    /// What a sign-in's new `session` brings about, in the sign-in's unit, before its
    /// commit, from the `context` read with it: the account's oldest live sessions beyond
    /// `max_per_user` end, and when the account signed in before but never from this
    /// device, its address is told (`new_sign_in`, `auth.login.new_device`).
    async fn admit_sign_in(
        &self,
        unit: &mut IdentityWrite<'_>,
        change: Change<AuthStale>,
        (session, context): (&Session, SignInContext),
        user: &User,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<Change<AuthStale>, IdentityError> {
        let now = Utc::now();
        let (mut events, mut revoked) = (Vec::new(), Vec::new());
        for id in context.excess {
            // Only what this sign-in revoked is its to announce and evict.
            if unit.revoke_session(id, "auth.session.limit", now).await? {
                let payload =
                    serde_json::json!({"session_id": id.to_string(), "reason": "session limit"});
                events.push(user_event("auth.session.revoked", user, request, payload));
                revoked.push(id);
            }
        }
        let new_device = context.signed_in_before && !context.device_seen;
        let alert = self.step_up.new_sign_in_alerts && new_device;
        if let Some(email) = user.email.as_deref().filter(|_| alert) {
            self.queue_new_sign_in(unit, user, email, device, request, now)
                .await?;
            let payload = serde_json::json!({"session_id": session.id.to_string()});
            events.push(user_event("auth.login.new_device", user, request, payload));
        }
        let change = change.map_stale(|stale| stale.and_sessions(revoked));
        Ok(events.into_iter().fold(change, Change::and))
    }

    /// Queues the `new_sign_in` email to `email` in `unit`.
    async fn queue_new_sign_in(
        &self,
        unit: &mut IdentityWrite<'_>,
        user: &User,
        email: &str,
        device: &Device,
        request: &RequestMeta,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let described = device
            .label
            .clone()
            .or_else(|| request.user_agent.clone())
            .unwrap_or_else(|| "an unnamed device".to_owned());
        let message = MessageKind::NewSignIn {
            display_name: user.display_name.clone(),
            device: described,
            ip: request.ip.clone().unwrap_or_else(|| "unknown".to_owned()),
            time: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        };
        self.links
            .mailer
            .queue(unit.as_mut(), email, &message)
            .await
            .map(drop)
            .map_err(|e| IdentityError::Internal(format!("queueing the new_sign_in email: {e}")))
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
