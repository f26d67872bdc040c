//! API keys: org-bound bearer secrets for machines. A key holds at most the permissions
//! its creator had when making it, and never more than the creator has now.

use chrono::{DateTime, Utc};
use tenantbase_domain::PermissionSet;
use tenantbase_domain::id::ApiKeyId;
use tenantbase_domain::model::{ApiKey, RequestMeta};

use super::access::OrgAccess;
use super::cache::OrgStale;
use super::roles::{exceeds_own, parse_permissions};
use super::secrets::{API_KEY, display_prefix, hash_secret, new_secret};
use super::{
    FieldProblem, Tenancy, TenancyError, limit_reached, limits, now_micros, required_text,
};
use crate::write::Change;

#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: String,
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Problems found in the body already (a member of the wrong type, an absent field):
    /// refused with the fields' own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

/// A new key and its secret, which is shown this once and never again.
#[derive(Clone)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Never prints the secret.
impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A key's permissions: at least one, each from the catalog.
fn key_permissions(names: &[String]) -> Result<PermissionSet, TenancyError> {
    let permissions = parse_permissions("permissions", names)?;
    if permissions.iter().next().is_none() {
        return Err(TenancyError::invalid(
            "permissions",
            "must name at least one permission",
        ));
    }
    Ok(permissions)
}

/// When a key stops working, if ever: after `now`, within RFC 3339's four-digit years
/// (chrono also reads `+20000-…`, which clients' date parsers refuse when it comes back),
/// kept to the microsecond as both databases store it.
fn key_expiry(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, TenancyError> {
    let Some(at) = expires_at else {
        return Ok(None);
    };
    if at <= now {
        return Err(TenancyError::invalid("expires_at", "must be in the future"));
    }
    if chrono::Datelike::year(&at) > 9999 {
        return Err(TenancyError::invalid(
            "expires_at",
            "the year must have four digits (0000 to 9999)",
        ));
    }
    Ok(Some(chrono::SubsecRound::trunc_subsecs(at, 6)))
}

impl Tenancy {
    pub async fn create_api_key(
        &self,
        access: &OrgAccess,
        new: NewApiKey,
        request: &RequestMeta,
    ) -> Result<CreatedApiKey, TenancyError> {
        let creator = access.acting_user()?;
        // A key outlives its creator's sessions: an account whose address is unproven may
        // be a squatter's, whose keys would keep working after the owner claims it by a
        // password reset. (A guest has no address for anyone to claim.)
        let user = self.store.user_by_id(creator).await?;
        if user.email.is_some() && !user.email_verified {
            return Err(TenancyError::email_unverified("creating API keys"));
        }
        let now = now_micros();
        let fields = match (
            required_text("name", &new.name, 100).map_err(|p| TenancyError::Invalid(vec![p])),
            key_permissions(&new.permissions),
            key_expiry(new.expires_at, now),
        ) {
            (Ok(name), Ok(permissions), Ok(expires_at)) => Ok((name, permissions, expires_at)),
            (name, permissions, expires_at) => Err(TenancyError::all_of([
                name.err(),
                permissions.err(),
                expires_at.err(),
            ])),
        };
        let (name, permissions, expires_at) = TenancyError::after_refused(new.refused, fields)?;
        if !permissions.is_subset_of(access.permissions()) {
            return Err(exceeds_own());
        }
        let secret = new_secret(API_KEY, access.org_id())?;
        let key = ApiKey {
            id: ApiKeyId::new(),
            name,
            prefix: display_prefix(API_KEY, &secret),
            permissions: permissions.names(),
            created_by: creator,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let mut unit = self.write(access.scope()).await?;
        // Taking turns with membership changes (which lock the org too): a key created
        // while its creator is removed would escape the removal's revocation, and work
        // again if they rejoined. The count of active keys holds under the lock as well.
        unit.lock_org().await?;
        if unit.member(creator).await?.is_none() {
            return Err(TenancyError::NotFound);
        }
        let active = unit
            .api_keys()
            .await?
            .iter()
            .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|at| at > now))
            .count();
        if active >= limits::ACTIVE_API_KEYS {
            return Err(limit_reached("active API keys", limits::ACTIVE_API_KEYS));
        }
        unit.insert_api_key(&key, &hash_secret(&secret)).await?;
        let event = access.event(
            "apikey.created",
            Some(("api_key", key.id.to_string())),
            request,
            serde_json::json!({"name": key.name, "permissions": key.permissions}),
        );
        unit.commit(Change::new(OrgStale::ApiKeys, event)).await?;
        Ok(CreatedApiKey { key, secret })
    }

    pub async fn api_keys(&self, access: &OrgAccess) -> Result<Vec<ApiKey>, TenancyError> {
        Ok(self
            .store
            .read_org(access.scope())
            .await?
            .api_keys()
            .await?)
    }

    pub async fn revoke_api_key(
        &self,
        access: &OrgAccess,
        id: ApiKeyId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        if !unit.revoke_api_key(id, now_micros()).await? {
            return Err(TenancyError::NotFound);
        }
        let event = access.event(
            "apikey.revoked",
            Some(("api_key", id.to_string())),
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(OrgStale::ApiKeys, event)).await?;
        Ok(())
    }
}
