//! Linking identities to the signed-in account, explicitly, and unlinking them — never
//! the account's last way to sign in, and ending the sessions the identity opened.
//!
//! A linking flow's callback links nothing: it keeps the verified identity under a
//! one-time `link_code` (hashed, five minutes) and sends the browser back with it; the app
//! then confirms with the bearer token of the session that started the flow. Otherwise an
//! attacker could start a flow for their own account and lure a victim through the
//! provider's consent: the victim's provider identity would be linked to the attacker's
//! account, and the victim, signing in with it later, would land there. A confirmation
//! by anyone else uses the code up, so a code the victim's app tried is worthless to the
//! attacker afterwards.

use chrono::Utc;
use tenantbase_domain::id::{IdentityId, UserId};
use tenantbase_domain::model::{LinkedIdentity, RequestMeta};
use tenantbase_store::identity::oidc::{OidcFlow, PendingLink};
use tenantbase_store::identity::sessions::OpenedBy;
use url::Url;

use super::flow::random_token;
use super::provider::VerifiedClaims;
use super::sign_in::{back_to, insert_identity, linked_event};
use super::{Oidc, OidcError};
use crate::identity::Principal;
use crate::identity::accounts::{chrono_duration, hash_refresh_token, user_event};
use crate::identity::cache::AuthStale;
use crate::write::Change;

impl Oidc {
    /// Starts a flow whose callback hands back a `link_code` for the caller's session.
    pub async fn start_link(
        &self,
        principal: &Principal,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<Url, OidcError> {
        self.identity.require_recent_auth(principal)?;
        self.provider(provider)
            .map_err(|_| OidcError::invalid("provider", "is not a configured provider"))?;
        self.start_flow(provider, redirect_uri, Some(principal), None)
            .await
    }

    /// The callback of a linking flow: keeps the verified identity for `user`'s
    /// confirmation and sends the browser back with `link_code`. An identity that is
    /// another account's is refused at once.
    pub(super) async fn pend_link(
        &self,
        flow: &OidcFlow,
        user: UserId,
        claims: VerifiedClaims,
    ) -> Result<Url, OidcError> {
        // A flow row with a user always has the session that started it.
        let session_id = flow.session_id.ok_or(OidcError::InvalidState)?;
        let mut unit = self.identity.store.begin().await?;
        if let Some(linked) = unit
            .identity_by_subject(&claims.issuer, &claims.subject)
            .await?
            && linked.user_id != user
        {
            return Err(OidcError::IdentityLinkedElsewhere);
        }
        let link_code = random_token()?;
        let now = Utc::now();
        let pending = PendingLink {
            code_hash: hash_refresh_token(&link_code),
            user_id: user,
            session_id,
            provider: flow.provider.clone(),
            issuer: claims.issuer,
            subject: claims.subject,
            email: claims.email,
            created_at: now,
            expires_at: now + chrono_duration(self.link_code_ttl),
        };
        // Nothing about anyone changes until the confirmation: no event, so a plain unit.
        unit.insert_link_code(&pending).await?;
        unit.commit().await?;
        back_to(&flow.redirect_uri, "link_code", &link_code)
    }

    /// Links the identity a `link_code` stands for to the caller — only the user and live
    /// session that started the flow (linked already is fine). The code is used up by any
    /// attempt; every refusal of the code is the same `InvalidLinkCode`.
    pub async fn confirm_link(
        &self,
        principal: &Principal,
        link_code: &str,
        request: &RequestMeta,
    ) -> Result<LinkedIdentity, OidcError> {
        let now = Utc::now();
        // Taken in a unit of its own, so that a refused attempt still uses the code up.
        let mut taking = self.identity.store.begin().await?;
        let pending = taking
            .take_link_code(&hash_refresh_token(link_code), now)
            .await?;
        taking.commit().await?;
        let pending = pending
            .filter(|p| p.user_id == principal.user_id && p.session_id == principal.session_id)
            .ok_or(OidcError::InvalidLinkCode)?;
        let mut unit = self.identity.write().await?;
        // The guard's view of the session may lag a sign-out by the revocation bound.
        if !unit.session(pending.session_id).await?.is_live(now) {
            return Err(OidcError::InvalidLinkCode);
        }
        let user = unit.lock_user(pending.user_id).await?;
        if let Some(linked) = unit
            .identity_by_subject(&pending.issuer, &pending.subject)
            .await?
        {
            return if linked.user_id == user.id {
                Ok(linked)
            } else {
                Err(OidcError::IdentityLinkedElsewhere)
            };
        }
        let identity = LinkedIdentity {
            id: IdentityId::new(),
            user_id: user.id,
            provider: pending.provider,
            issuer: pending.issuer,
            subject: pending.subject,
            email: pending.email,
            created_at: now,
            last_used_at: None,
        };
        insert_identity(&mut unit, &identity).await?;
        let event = linked_event(&user, &identity, request);
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(identity)
    }

    /// Unlinks one of the caller's identities, ending every live session opened through
    /// it (the caller's own too, if it is one) in the same unit of work; refused when it
    /// is the last way to sign in.
    pub async fn unlink(
        &self,
        principal: &Principal,
        id: IdentityId,
        request: &RequestMeta,
    ) -> Result<(), OidcError> {
        self.identity.require_recent_auth(principal)?;
        let mut unit = self.identity.write().await?;
        let user = unit.lock_user(principal.user_id).await?;
        let identity = unit
            .user_identities(user.id)
            .await?
            .into_iter()
            .find(|identity| identity.id == id)
            .ok_or(OidcError::IdentityNotFound)?;
        if self
            .identity
            .sign_in_methods_left(unit.as_mut(), &user, Some(id))
            .await?
            == 0
        {
            return Err(OidcError::LastSignInMethod);
        }
        // What the identity signed in must not outlive it: a provider account that was
        // taken over, or the reason it is being unlinked, would otherwise keep its way in.
        let revoked = unit
            .revoke_sessions_opened_by(
                user.id,
                OpenedBy::Identity(id),
                "auth.identity.unlinked",
                Utc::now(),
            )
            .await?;
        unit.delete_identity(id, user.id).await?;
        let payload = serde_json::json!({
            "provider": identity.provider,
            "identity_id": id.to_string(),
            "revoked_sessions": revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        let event = user_event("auth.identity.unlinked", &user, request, payload);
        unit.commit(Change::new(AuthStale::Sessions(revoked), event))
            .await?;
        Ok(())
    }
}
