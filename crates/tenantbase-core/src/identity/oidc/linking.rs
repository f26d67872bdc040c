//! Linking identities to the signed-in account, explicitly, and unlinking them — never
//! the account's last way to sign in.

use tenantbase_domain::id::{IdentityId, UserId};
use tenantbase_domain::model::RequestMeta;
use tenantbase_store::identity::oidc::OidcFlow;
use url::Url;

use super::provider::VerifiedClaims;
use super::sign_in::{back_to, linked_event};
use super::{Oidc, OidcError};
use crate::identity::Principal;
use crate::identity::accounts::user_event;
use crate::identity::cache::AuthStale;
use crate::identity::sign_in_methods::sign_in_methods_left;
use crate::write::Change;

impl Oidc {
    /// Starts a flow whose callback links the identity to the caller.
    pub async fn start_link(
        &self,
        principal: &Principal,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<Url, OidcError> {
        self.provider(provider)
            .map_err(|_| OidcError::invalid("provider", "is not a configured provider"))?;
        self.start_flow(provider, redirect_uri, Some(principal.user_id), None)
            .await
    }

    /// The callback of a linking flow: links the identity to `user` (again is fine) and
    /// sends the browser back with `identity_id`.
    pub(super) async fn link(
        &self,
        flow: &OidcFlow,
        user: UserId,
        claims: &VerifiedClaims,
        request: &RequestMeta,
    ) -> Result<Url, OidcError> {
        let mut unit = self.identity.write().await?;
        let user = unit.lock_user(user).await?;
        let identity = match unit
            .identity_by_subject(&claims.issuer, &claims.subject)
            .await?
        {
            Some(identity) if identity.user_id == user.id => identity,
            Some(_) => return Err(OidcError::IdentityLinkedElsewhere),
            None => {
                let identity = self
                    .insert_identity(&mut unit, flow, user.id, claims)
                    .await?;
                let event = linked_event(&user, &identity, request);
                unit.commit(Change::new(AuthStale::Nothing, event)).await?;
                identity
            }
        };
        back_to(&flow.redirect_uri, "identity_id", &identity.id.to_string())
    }

    /// Unlinks one of the caller's identities; refused when it is the last way to sign in.
    pub async fn unlink(
        &self,
        principal: &Principal,
        id: IdentityId,
        request: &RequestMeta,
    ) -> Result<(), OidcError> {
        let mut unit = self.identity.write().await?;
        let user = unit.lock_user(principal.user_id).await?;
        let identity = unit
            .user_identities(user.id)
            .await?
            .into_iter()
            .find(|identity| identity.id == id)
            .ok_or(OidcError::IdentityNotFound)?;
        if sign_in_methods_left(unit.as_mut(), &user, Some(id)).await? == 0 {
            return Err(OidcError::LastSignInMethod);
        }
        unit.delete_identity(id, user.id).await?;
        let payload = serde_json::json!({
            "provider": identity.provider,
            "identity_id": id.to_string(),
        });
        let event = user_event("auth.identity.unlinked", &user, request, payload);
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }
}
