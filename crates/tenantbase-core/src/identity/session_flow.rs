//! What happens to a session after sign-in: refreshing (rotation with reuse detection and
//! device binding), authenticating requests, listing, and revoking.

use chrono::{DateTime, Utc};
use tenantbase_domain::id::{OrgId, SessionId, UserId};
use tenantbase_domain::model::{RequestMeta, Rotation, Session};
use tenantbase_store::StoreError;

use super::accounts::{
    Identity, IdentityWrite, chrono_duration, hash_refresh_token, new_refresh_token, user_event,
};
use super::cache::{AuthCache, AuthStale};
use super::tokens::Subject;
use super::{IdentityError, Principal, TokenPair};
use crate::write::{Change, Write};

impl Identity {
    /// Exchanges a refresh token for a new pair. The old token stops working; presenting
    /// it again later revokes the session (RFC 9700), as does a device-id mismatch.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        device_id: Option<&str>,
        request: &RequestMeta,
    ) -> Result<TokenPair, IdentityError> {
        let now = Utc::now();
        let next = new_refresh_token()?;
        let mut unit = self.store.begin().await?;
        let rotation = unit
            .rotate_refresh_token(
                &hash_refresh_token(refresh_token),
                &hash_refresh_token(&next),
                self.sessions.refresh_grace,
                now,
            )
            .await?;
        let session_id = match rotation {
            Rotation::Rotated(id) => id,
            Rotation::Unknown | Rotation::RaceLost(_) => {
                return Err(IdentityError::InvalidRefreshToken);
            }
            Rotation::Reused(id) => {
                let unit = Write::new(unit, &self.cache);
                self.revoke_for_cause(unit, id, "auth.refresh.reused", request)
                    .await?;
                return Err(IdentityError::InvalidRefreshToken);
            }
        };
        let session = unit.session(session_id).await?;
        if !session.is_live(now) {
            return Err(IdentityError::InvalidRefreshToken);
        }
        if session.device_id.is_some() && session.device_id.as_deref() != device_id {
            let unit = Write::new(unit, &self.cache);
            self.revoke_for_cause(unit, session_id, "auth.refresh.device_mismatch", request)
                .await?;
            return Err(IdentityError::InvalidRefreshToken);
        }
        unit.commit().await?;
        let idle_expires_at =
            (now + chrono_duration(self.sessions.idle)).min(session.absolute_expires_at);
        self.store
            .touch_session(session_id, now, idle_expires_at)
            .await?;
        let user = self.store.user_by_id(session.user_id).await?;
        let ttl = user.is_guest.then_some(self.sessions.guest_access_ttl);
        self.token_pair(user, &session, next, ttl, now)
    }

    /// Revokes `session` in `unit` with an audit event of `event_type` about its owner,
    /// and commits; `false` (and no event) if it had ended already — by a revocation
    /// racing this one, say, which recorded its own.
    async fn revoke_for_cause(
        &self,
        mut unit: IdentityWrite<'_>,
        session: SessionId,
        event_type: &str,
        request: &RequestMeta,
    ) -> Result<bool, IdentityError> {
        let owner = unit.session(session).await?;
        let user = unit.user(owner.user_id).await?;
        if !unit.revoke_session(session, event_type, Utc::now()).await? {
            return Ok(false);
        }
        let event = user_event(
            event_type,
            &user,
            request,
            serde_json::json!({"session_id": session.to_string()}),
        );
        unit.commit(Change::new(AuthStale::Sessions(vec![session]), event))
            .await?;
        Ok(true)
    }

    /// The principal behind a bearer access token whose session is live. Revocations by
    /// this process take effect at once; by another replica, within `REVOCATION_BOUND`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, IdentityError> {
        let now = Utc::now();
        let keyring = self.keyring();
        let key = AuthCache::token_key(token);
        let claims = match self.cache.claims(&key) {
            // Verified moments ago: only its lifetime needs checking again.
            Some(claims)
                if claims.exp + keyring.config().leeway.as_secs() as i64 > now.timestamp() =>
            {
                claims
            }
            Some(_) => return Err(IdentityError::InvalidAccessToken),
            None => {
                let claims = keyring.verify(token, now)?;
                self.cache.remember_claims(key, claims.clone());
                claims
            }
        };
        let user_id: UserId = claims
            .sub
            .parse()
            .map_err(|_| IdentityError::InvalidAccessToken)?;
        let session_id: SessionId = claims
            .sid
            .parse()
            .map_err(|_| IdentityError::InvalidAccessToken)?;
        // A token bound to something that is not an org id binds to no org there is.
        let org: Option<OrgId> = claims
            .org
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| IdentityError::InvalidAccessToken)?;
        let session = self
            .cache
            .session_or_load(session_id, self.store.session_by_id(session_id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => IdentityError::InvalidAccessToken,
                other => other.into(),
            })?;
        if session.user_id != user_id || !session.is_live(now) {
            return Err(IdentityError::InvalidAccessToken);
        }
        // Activity is recorded at most once a minute per session, so a busy client
        // does not turn every read into a write.
        if now - session.last_seen_at >= chrono::Duration::minutes(1) {
            let idle_expires_at =
                (now + chrono_duration(self.sessions.idle)).min(session.absolute_expires_at);
            self.store
                .touch_session(session_id, now, idle_expires_at)
                .await?;
            self.cache.forget_session(session_id);
        }
        // A step-up renews the session's record at once; tokens issued since carry it too.
        let claimed = claims
            .auth_time
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0));
        let auth_time = claimed.map_or(session.authenticated_at, |at| {
            at.max(session.authenticated_at)
        });
        Ok(Principal {
            user_id,
            session_id,
            amr: claims.amr,
            auth_time,
            org,
        })
    }

    /// Ends the caller's session. A logout that another one (or a revocation) overtook
    /// answers as a later one would: the token no longer works.
    pub async fn logout(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.revoke_own(principal, principal.session_id, "auth.logout", request)
            .await
            .map_err(|e| match e {
                IdentityError::NotFound => IdentityError::InvalidAccessToken,
                other => other,
            })
    }

    /// The caller's live sessions, newest first.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, IdentityError> {
        Ok(self
            .store
            .live_sessions(principal.user_id, Utc::now())
            .await?)
    }

    /// Revokes one of the caller's sessions; another user's is `NotFound`.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session: SessionId,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        self.revoke_own(principal, session, "auth.session.revoked", request)
            .await
    }

    async fn revoke_own(
        &self,
        principal: &Principal,
        session: SessionId,
        event_type: &str,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let target = self
            .store
            .session_by_id(session)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => IdentityError::NotFound,
                other => other.into(),
            })?;
        if target.user_id != principal.user_id || target.revoked_at.is_some() {
            return Err(IdentityError::NotFound);
        }
        // The check above may race another revocation: only one of them ends it.
        let unit = self.write().await?;
        if self
            .revoke_for_cause(unit, session, event_type, request)
            .await?
        {
            Ok(())
        } else {
            Err(IdentityError::NotFound)
        }
    }

    /// Revokes all the caller's other sessions, and the current one too if asked.
    pub async fn revoke_all(
        &self,
        principal: &Principal,
        include_current: bool,
        request: &RequestMeta,
    ) -> Result<u64, IdentityError> {
        let user = self.store.user_by_id(principal.user_id).await?;
        let keep = (!include_current).then_some(principal.session_id);
        let mut unit = self.write().await?;
        let revoked = unit
            .revoke_user_sessions(user.id, keep, "auth.sessions.revoked_all", Utc::now())
            .await?;
        let event = user_event(
            "auth.sessions.revoked_all",
            &user,
            request,
            serde_json::json!({"revoked": revoked, "kept_current": keep.is_some()}),
        );
        unit.commit(Change::new(AuthStale::UserSessions(user.id), event))
            .await?;
        Ok(revoked)
    }
}

impl Identity {
    /// An access token for `principal`'s session bound to `org` (claim `org`): it acts
    /// only there. The caller has checked membership.
    pub fn org_bound_token(
        &self,
        principal: &Principal,
        org: OrgId,
    ) -> Result<(String, u64), IdentityError> {
        let amr: Vec<&str> = principal.amr.iter().map(String::as_str).collect();
        let subject = Subject {
            user: &principal.user_id.to_string(),
            session: &principal.session_id.to_string(),
            amr: &amr,
            auth_time: principal.auth_time.timestamp(),
            org: Some(&org.to_string()),
        };
        let (token, claims) = self.keyring().issue(&subject, None, Utc::now())?;
        Ok((token, u64::try_from(claims.exp - claims.iat).unwrap_or(0)))
    }
}
