//! Request and response bodies of the org routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::model::{ApiKey, Event, Invitation, Member, Org, Project, Role, Team};
use tenantbase_domain::unique_json::UniqueJson;
use utoipa::{IntoParams, ToSchema};

pub(crate) use tenantbase_domain::page::{Page, PageQuery};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrgView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Members must sign in with a second factor to act in the org.
    pub require_mfa: bool,
}

impl From<Org> for OrgView {
    fn from(org: Org) -> Self {
        Self {
            id: org.id.to_string(),
            name: org.name,
            slug: org.slug,
            created_at: org.created_at,
            updated_at: org.updated_at,
            deleted_at: org.deleted_at,
            require_mfa: org.require_mfa,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrgBody {
    pub name: String,
    /// 3–63 of `a–z 0–9 -`; made from the name when absent.
    pub slug: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOrgBody {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub slug: Option<String>,
    /// Members may act in the org only from sessions signed in with a second factor;
    /// turning it on needs such a session.
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = bool)]
    pub require_mfa: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MyAccessView {
    pub org_id: String,
    /// Null for API keys.
    pub user_id: Option<String>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgTokenBody {
    pub org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrgTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PermissionView {
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MemberView {
    pub user_id: String,
    pub email: Option<String>,
    pub display_name: String,
    pub is_guest: bool,
    /// Names of the roles granted directly (team roles are not listed here).
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
}

impl MemberView {
    /// `roles`: the org's roles, to name the member's.
    pub fn new(member: Member, roles: &[Role]) -> Self {
        Self {
            user_id: member.user_id.to_string(),
            roles: roles
                .iter()
                .filter(|r| member.role_ids.contains(&r.id))
                .map(|r| r.name.clone())
                .collect(),
            email: member.email,
            display_name: member.display_name,
            is_guest: member.is_guest,
            joined_at: member.joined_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRolesBody {
    /// Role ids (`rol_…`, always taken as an id) or names; replaces the member's direct
    /// roles.
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteBody {
    pub email: String,
    /// Role ids (`rol_…`, always taken as an id) or names; `["member"]` when absent, no
    /// role when empty.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Let any signed-in account accept, whatever its email.
    #[serde(default)]
    pub any_email: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvitationView {
    pub id: String,
    pub email: String,
    pub role_ids: Vec<String>,
    pub any_email: bool,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email,
            role_ids: i.role_ids.iter().map(ToString::to_string).collect(),
            any_email: i.any_email,
            invited_by: i.invited_by.to_string(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptBody {
    /// The token from the invitation email.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            builtin: r.builtin,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    /// Not a built-in role's name, nor shaped like a role id (`rol_…`); unique in the org
    /// in any case and Unicode composition (`role_name_taken`); kept in NFC.
    pub name: String,
    /// No control characters other than line breaks (LF, CR) and tab, nor invisible formatting.
    #[serde(default)]
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolePatchBody {
    /// Not a built-in role's name, nor shaped like a role id (`rol_…`); unique in the org
    /// in any case and Unicode composition (`role_name_taken`); kept in NFC.
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    /// No control characters other than line breaks (LF, CR) and tab, nor invisible
    /// formatting; `""` for none.
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = Vec<String>)]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TeamView {
    pub id: String,
    pub name: String,
    pub role_ids: Vec<String>,
    pub member_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            role_ids: t.role_ids.iter().map(ToString::to_string).collect(),
            member_ids: t.member_ids.iter().map(ToString::to_string).collect(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamBody {
    pub name: String,
    /// Role ids (`rol_…`, always taken as an id) or names granted to every team member.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamPatchBody {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = Vec<String>)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamMemberBody {
    pub user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The secret's first characters (`tb_<org>_` and 8 of its random part), to
    /// recognise it. Keys made before 2026-12-06 show `tb_` and the 8 only.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            permissions: k.permissions,
            created_by: k.created_by.to_string(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedApiKeyView {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// `tb_…`: shown this once; only its hash is stored.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiKeyBody {
    pub name: String,
    /// A subset of your own permissions in the org.
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    pub id: String,
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub hash: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.to_string(),
            seq: e.seq,
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            event_type: e.event_type,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            target_kind: e.target_kind,
            target_id: e.target_id,
            ip: e.ip,
            request_id: e.request_id,
            occurred_at: e.occurred_at,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditVerifyView {
    pub intact: bool,
    /// Events checked from the chain's anchor.
    pub events: Option<u64>,
    /// Where the chain breaks, when it does.
    pub broken_at: Option<String>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProjectView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl ProjectView {
    pub fn new(org_id: &str, p: Project) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: org_id.to_owned(),
            name: p.name,
            description: p.description,
            metadata: p.metadata,
            created_by: p.created_by.to_string(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            deleted_at: p.deleted_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectBody {
    pub name: String,
    pub description: Option<String>,
    /// A JSON object of at most 16 KiB; `{}` when left out.
    // `Option<Object>`: `Object` alone marks the field required in the document, and
    // generated clients would then insist on it.
    #[schema(value_type = Option<Object>)]
    #[serde(
        default,
        deserialize_with = "tenantbase_domain::unique_json::optional_unique"
    )]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectPatchBody {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::json::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = Object)]
    pub metadata: Option<UniqueJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkCreateBody {
    /// 1–100 projects, created all or none.
    // Read one by one (`json::item_as`), so that every bad item is named, not the first.
    #[schema(value_type = Vec<ProjectBody>)]
    pub items: Vec<UniqueJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkDeleteBody {
    /// 1–100 project ids, deleted all or none.
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BulkDeleted {
    pub deleted: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// `jsonl` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportResult {
    pub imported: usize,
    pub ids: Vec<String>,
}
