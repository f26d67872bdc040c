//! Rows of the tenancy tables as both backends decode them, and their conversion to the
//! store's types.

use chrono::{DateTime, Utc};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::{ApiKeyId, InvitationId, ProjectId, RoleId, UserId};
use uuid::Uuid;

use crate::StoreError;
use crate::tenant::{ApiKey, Invitation, Org, Project, Role};

/// Column lists of the tenancy tables, in the order of the rows below.
pub mod columns {
    pub const ORG: &str = "id, name, slug, created_by, created_at, updated_at, deleted_at";
    pub const ROLE: &str = "id, name, description, permissions, builtin, created_at, updated_at";
    pub const INVITATION: &str = "id, email, role_ids, any_email, invited_by, created_at, \
         expires_at, accepted_at, revoked_at";
    pub const API_KEY: &str = "id, name, prefix, permissions, created_by, created_at, expires_at, \
         last_used_at, revoked_at";
    pub const PROJECT: &str =
        "id, name, description, metadata, created_by, created_at, updated_at, deleted_at";
}

fn json_column<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// `NotFound` when a statement that had to change a row changed none.
pub fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A JSON text column as written.
pub fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<OrgRow> for Org {
    fn from(row: OrgRow) -> Self {
        Org {
            id: OrgId::from_uuid(row.id),
            name: row.name,
            slug: row.slug,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct RoleRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub permissions: String,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<RoleRow> for Role {
    type Error = StoreError;

    fn try_from(row: RoleRow) -> Result<Self, Self::Error> {
        Ok(Role {
            id: RoleId::from_uuid(row.id),
            permissions: json_column(&row.permissions, "role permissions")?,
            name: row.name,
            description: row.description,
            builtin: row.builtin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub is_guest: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub role_ids: String,
    pub any_email: bool,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;

    fn try_from(row: InvitationRow) -> Result<Self, Self::Error> {
        Ok(Invitation {
            id: InvitationId::from_uuid(row.id),
            role_ids: json_column(&row.role_ids, "invitation roles")?,
            email: row.email,
            any_email: row.any_email,
            invited_by: UserId::from_uuid(row.invited_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub permissions: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, Self::Error> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(row.id),
            permissions: json_column(&row.permissions, "api key permissions")?,
            name: row.name,
            prefix: row.prefix,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub metadata: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;

    fn try_from(row: ProjectRow) -> Result<Self, Self::Error> {
        Ok(Project {
            id: ProjectId::from_uuid(row.id),
            metadata: json_column(&row.metadata, "project metadata")?,
            name: row.name,
            description: row.description,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct MembershipRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

impl From<MembershipRow> for crate::tenant::Membership {
    fn from(row: MembershipRow) -> Self {
        crate::tenant::Membership {
            joined_at: row.joined_at,
            org: Org::from(OrgRow {
                id: row.id,
                name: row.name,
                slug: row.slug,
                created_by: row.created_by,
                created_at: row.created_at,
                updated_at: row.updated_at,
                deleted_at: row.deleted_at,
            }),
        }
    }
}

/// The words of a search query: runs of letters and digits, lower-cased, as both
/// backends' tokenizers cut text (`foo-bar` is `foo` and `bar`). Nothing else survives, so
/// no query syntax of either engine can be injected through them.
pub fn search_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().take(64).flat_map(char::to_lowercase).collect())
        .take(16)
        .collect()
}
